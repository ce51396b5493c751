"""Survey results as an office publishes them: raking to population margins, shares with 95%
confidence intervals that account for the weights, and statistical disclosure control.

Pure: respondents in, a :class:`results.report.ResultsReport` out, no I/O. ``storage/`` reads the
respondents, ``handlers/`` and ``bot/`` show the report. See docs/results.md.
"""
