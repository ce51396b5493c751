"""A series as a CSV file people open in a spreadsheet: one row per observation, with the
indicator, the dimension values (codes and labels), the unit and the observation status."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from catalogue.matching import IndicatorEntry
from catalogue.model import Observation, Series, in_language
from common.csv_cells import neutralised_row


def series_csv(entry: IndicatorEntry, series: Series, observations: Sequence[Observation], language: str) -> bytes:
    """UTF-8 CSV (with a byte-order mark, so spreadsheet programs read accents right)."""
    indicator = entry.indicator
    dimensions = [d for d in entry.dimensions if d.id in series.dimensions]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header = ["indicator", "indicator_name"]
    for dimension in dimensions:
        header += [dimension.id, f"{dimension.id}_label"]
    writer.writerow(neutralised_row([*header, "time_period", "obs_value", "unit", "obs_status"]))
    fixed = [indicator.code, in_language(indicator.names, language)]
    for dimension in dimensions:
        code = series.dimensions[dimension.id]
        fixed += [code, dimension.label(code, language)]
    unit = in_language(indicator.unit, language)
    for observation in observations:
        value = "" if observation.value is None else repr(float(observation.value)).removesuffix(".0")
        writer.writerow(neutralised_row([*fixed, observation.period, value, unit, observation.status or ""]))
    return out.getvalue().encode("utf-8-sig")


def file_name(indicator_code: str, series: Series, extension: str) -> str:
    """``UNEMP_RATE_N_F.csv``: the indicator and the series' dimension values, safe for any system."""
    parts = [indicator_code, *series.dimensions.values()]
    safe = "_".join("".join(c if c.isalnum() or c in "-_" else "" for c in part) or "T" for part in parts)
    return f"{safe[:80]}.{extension}"
