"""The chart and the CSV file of a series (pure: no database)."""

from __future__ import annotations

import csv
import io
import struct

from catalogue.charts import DPI, SIZE_INCHES, ChartTexts, trend_chart
from catalogue.downloads import file_name, series_csv
from catalogue.matching import CatalogueIndex
from catalogue.model import Observation, Series
from testkit.fakes.indicators import sample_snapshot

TEXTS = ChartTexts("GDP growth", "", "%", "Source: Quarterly national accounts", "0.49 %", "Q2 2024")


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def test_chart_is_a_phone_sized_png_for_quarters_months_gaps_and_odd_periods() -> None:
    expected = (int(SIZE_INCHES[0] * DPI), int(SIZE_INCHES[1] * DPI))
    quarters = [Observation(f"20{20 + i // 4}-Q{i % 4 + 1}", 0.1 * i) for i in range(12)]
    months = [Observation(f"{2000 + i // 12}-{i % 12 + 1:02d}", float(i % 7)) for i in range(300)]
    gaps = [Observation("2021", 1.0), Observation("2022", None), Observation("2023", 3.0)]
    odd = [Observation("2024-W01", 5.0), Observation("2024-W02", 6.0)]
    single = [Observation("2024", -2.5)]
    for observations in (quarters, months, gaps, odd, single):
        assert png_size(trend_chart(observations, TEXTS)) == expected


def test_csv_has_one_row_per_observation_with_codes_labels_unit_and_status() -> None:
    index = CatalogueIndex(sample_snapshot())
    entry = index.by_code["UNEMP_RATE"]
    series = next(s for s in entry.series if s.key == "A.N.F")
    observations = [Observation("2023", 14.1, "A"), Observation("2024", None, "M")]
    rows = list(csv.reader(io.StringIO(series_csv(entry, series, observations, "fr").decode("utf-8-sig"))))
    assert rows == [
        [
            "indicator",
            "indicator_name",
            "REF_AREA",
            "REF_AREA_label",
            "SEX",
            "SEX_label",
            "time_period",
            "obs_value",
            "unit",
            "obs_status",
        ],
        ["UNEMP_RATE", "Taux de chômage", "N", "Nord", "F", "Féminin", "2023", "14.1", "%", "A"],
        ["UNEMP_RATE", "Taux de chômage", "N", "Nord", "F", "Féminin", "2024", "", "%", "M"],
    ]


def test_file_names_are_safe_on_any_system() -> None:
    series = Series(1, "X", "k", {"REF_AREA": "../N", "SEX": "_T"})
    assert file_name("UNEMP_RATE", series, "csv") == "UNEMP_RATE_N__T.csv"
