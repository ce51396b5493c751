"""The survey export the tests read: CSV of every response (anonymous ones included), with a
``select_multiple`` as one space-separated column, the layout of the first release."""

from __future__ import annotations

from storage.exports import ExportOptions

#: Every response, ``select_multiple`` joined: what tests compare answers against.
EVERY_RESPONSE_JOINED = ExportOptions(multiple="joined", include_anonymous=True)
