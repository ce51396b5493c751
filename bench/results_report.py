"""How long a survey's results report takes: raking to the margins, shares and intervals for every
group of four breakdowns, and suppression (what the staff preview and publishing compute); prints
the figures.

    .venv/bin/python -m bench.results_report [--sizes 300,3000,30000] [--repeat 3]

The synthetic survey of the tests (testkit/results.py): three published questions, margins on
region and user group, breakdowns by user group, region, language and channel.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.machine import describe
from results.report import build_report, to_json
from testkit.results import synthetic_respondents, write_survey


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="300,3000,30000")
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as directory:
        survey = write_survey(Path(directory))
    for size in (int(part) for part in arguments.sizes.split(",")):
        people = synthetic_respondents(size)
        times = []
        for _ in range(arguments.repeat):
            started = time.perf_counter()
            report = build_report(survey, people, None)
            times.append(time.perf_counter() - started)
        print(
            f"{size:7,d} respondents: best {1000 * min(times):8.1f} ms, snapshot {len(to_json(report)) / 1024:5.1f} KiB, "
            f"effective sample size {report.effective_size:,.0f}"
        )


if __name__ == "__main__":
    main()
