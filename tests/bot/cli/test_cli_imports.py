"""What a ``baraza`` command loads before it runs: not the charting, statistics and spreadsheet
libraries that only some commands use (each command, and each test that runs one, paid ~1.5 s
of CPU for them)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from testkit.telegram_harness import ROOT

#: Imported where they are used (charts, raking, Excel, fetching SDMX), never by the parser.
LOADED_WHEN_USED = ("matplotlib", "pandas", "numpy", "ipfn", "xlsxwriter", "aiohttp", "pyreadstat", "openpyxl")


@pytest.mark.slow  # a new Python process: this one has imported them all
def test_the_command_line_loads_no_charting_statistics_or_spreadsheet_library() -> None:
    script = (
        "import json, sys\n"
        "from bot.cli import main\n"
        "main.parser()\n"
        f"print(json.dumps(sorted(m for m in {list(LOADED_WHEN_USED)!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
