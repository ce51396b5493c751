"""Where a command writes a file: ``--output -`` means standard output."""

from __future__ import annotations

import sys
from pathlib import Path

from storage.exports.files import Destination


def destination(output: Path) -> Destination:
    """Standard output for ``-``, else the file ``output``."""
    return sys.stdout if str(output) == "-" else output


#: The help of ``--raw`` (``baraza export``, ``contacts export``, ``broadcast replies``).
RAW_HELP = (
    "CSV cells exactly as typed (for reading with code): without it, text starting with = + - @, a tab or "
    "a carriage return gets a ' in front, so that a spreadsheet does not run it as a formula"
)
