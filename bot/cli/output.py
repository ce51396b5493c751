"""Where a command writes a file: ``--output -`` means standard output."""

from __future__ import annotations

import sys
from pathlib import Path

from storage.exports.files import Destination


def destination(output: Path) -> Destination:
    """Standard output for ``-``, else the file ``output``."""
    return sys.stdout if str(output) == "-" else output
