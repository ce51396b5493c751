"""A series as read from any SDMX file, before the metadata says which indicator it belongs to."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from catalogue.model import Observation

#: SDMX attribute ids that are never dimensions (SDMX cross-domain concepts and common extras),
#: used when the metadata does not list a dataflow's dimensions.
KNOWN_ATTRIBUTES = frozenset(
    {
        "UNIT_MEASURE",
        "UNIT_MULT",
        "UNIT",
        "DECIMALS",
        "BASE_PER",
        "BASE_YEAR",
        "OBS_STATUS",
        "OBS_CONF",
        "OBS_COMMENT",
        "OBS_PRE_BREAK",
        "CONF_STATUS",
        "COMMENT",
        "COMMENT_OBS",
        "COMMENT_TS",
        "COMMENT_DSET",
        "TIME_FORMAT",
        "TIME_PER_COLLECT",
        "TITLE",
        "TITLE_COMPL",
        "SOURCE_AGENCY",
        "DATA_COMP",
        "COMPILING_ORG",
        "DISS_ORG",
        "COLLECTION",
        "EMBARGO_TIME",
        "NATURE",
        "REF_PERIOD",
        "ADJUSTMENT_DETAIL",
        "UPDATED",
        "LAST_UPDATE",
        "FOOTNOTE",
        "NOTE",
        "BREAKS",
    }
)
TIME_DIMENSION = "TIME_PERIOD"
MEASURE = "OBS_VALUE"
STATUS = "OBS_STATUS"

_PERIOD = re.compile(
    r"^\d{4}("
    r"|-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?(T[0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?"
    r"|-Q[1-4]|-S[12]|-T[1-3]|-W(0[1-9]|[1-4]\d|5[0-3])|-M(0[1-9]|1[0-2])|-A1|-D\d{3}"
    r")$"
)
_MONTH = re.compile(r"^(\d{4})-M(\d{2})$")


def normal_period(text: str) -> str | None:
    """An SDMX reporting period in the form that sorts in time order, or None if it is not one.

    ``2026-M01`` becomes ``2026-01`` and ``2026-A1`` becomes ``2026`` (same meaning, one spelling).
    """
    period = text.strip()
    if not _PERIOD.match(period):
        return None
    month = _MONTH.match(period)
    if month:
        return f"{month.group(1)}-{month.group(2)}"
    if period.endswith("-A1"):
        return period[:4]
    return period


def number(text: str) -> tuple[bool, float | None]:
    """``(ok, value)`` for an OBS_VALUE: empty and NaN are a missing value; other text is not ok."""
    stripped = text.strip()
    if stripped == "" or stripped.lower() in ("nan", "na"):
        return True, None
    try:
        value = float(stripped)
    except ValueError:
        return False, None
    if math.isinf(value):
        return False, None
    if math.isnan(value):
        return True, None
    return True, value


@dataclass(frozen=True)
class RawSeries:
    """One series of one dataflow with its codes, series attributes and observations."""

    dataflow: str
    #: dimension id → code, in the dataflow's dimension order (TIME_PERIOD excluded)
    codes: Mapping[str, str]
    attributes: Mapping[str, str]
    observations: tuple[Observation, ...]
    file: str
    line: int

    @property
    def key(self) -> str:
        """The SDMX series key: the codes joined with dots (``M.N.CPI_YOY``)."""
        return ".".join(self.codes.values())
