"""Reading the office's files: the metadata YAML, SDMX-CSV 1.0/2.0, and real SDMX-ML/SDMX-JSON messages."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from catalogue.errors import CatalogueError, ProblemLog
from catalogue.metadata import load_metadata_file, load_metadata_text
from catalogue.model import Observation
from catalogue.raw import RawSeries
from catalogue.sdmx_csv import read_sdmx_csv
from catalogue.sdmx_files import read_sdmx_message
from testkit import paths

SDMX = paths.SDMX_SAMPLES

METADATA = """\
default_language: en
dimensions:
  REF_AREA:
    names: {en: Region, fr: Région}
    values:
      N: {en: Northern, fr: Nord}
dataflows:
  DF_PRICES:
    dimensions: [FREQ, INDICATOR, REF_AREA]
    indicator_dimension: INDICATOR
  DF_POP:
    indicator_dimension: INDICATOR
indicators:
  - code: CPI_YOY
    dataflow: DF_PRICES
    names: {en: Inflation rate, fr: Taux d'inflation}
    synonyms: {en: [inflation, consumer prices], fr: [inflation]}
    topic: prices
    unit: {en: "%", fr: "%"}
    decimals: 1
    release_date: 2026-11-12
    link: https://example.org/cpi
  - code: POP
    dataflow: DF_POP
    names: {en: Population}
    topic: population
"""


def _metadata(tmp_path: Path, text: str = METADATA) -> Path:
    path = tmp_path / "metadata.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _csv(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _read_csv(tmp_path: Path, text: str) -> tuple[list[RawSeries], ProblemLog]:
    metadata = load_metadata_file(_metadata(tmp_path))
    log = ProblemLog()
    return list(read_sdmx_csv(_csv(tmp_path, text), metadata, log)), log


def test_metadata_gives_each_indicator_its_names_unit_release_and_series_selection(tmp_path: Path) -> None:
    metadata = load_metadata_file(_metadata(tmp_path))
    (cpi, pop) = metadata.indicators
    assert cpi.indicator.names == {"en": "Inflation rate", "fr": "Taux d'inflation"}
    assert cpi.indicator.synonyms["en"] == ("inflation", "consumer prices")
    assert cpi.indicator.release_date is not None and cpi.indicator.release_date.isoformat() == "2026-11-12"
    assert cpi.select == {"INDICATOR": "CPI_YOY"}
    assert metadata.match("DF_PRICES", {"FREQ": "M", "INDICATOR": "CPI_YOY", "REF_AREA": "N"}) == cpi
    assert metadata.match("DF_PRICES", {"INDICATOR": "OTHER"}) is None
    assert metadata.dimension("REF_AREA").values["N"]["fr"] == "Nord"
    assert metadata.dimension("FREQ").values["M"]["en"] == "Monthly"
    assert metadata.dataflow("NSO:DF_POP(1.0)") is not None and pop.indicator.code == "POP"


def test_metadata_problems_are_reported_with_file_and_line_all_at_once() -> None:
    text = textwrap.dedent(
        """\
        dataflows:
          DF_X:
            indicator_dimension: INDICATOR
        indicators:
          - code: A
            dataflow: DF_X
            names: {fr: Seulement en français}
            topic: astrology
          - code: B
            dataflow: DF_MISSING
            names: {en: B}
            decimals: many
          - code: A
            dataflow: DF_X
            names: {en: A again}
        """
    )
    with pytest.raises(CatalogueError) as caught:
        load_metadata_text(text, "meta.yaml")
    lines = [str(problem) for problem in caught.value.problems]
    assert any(line.startswith("meta.yaml:7:") and "default language 'en'" in line for line in lines), lines
    assert any(line.startswith("meta.yaml:8:") and "topic 'astrology'" in line for line in lines), lines
    assert any(line.startswith("meta.yaml:10:") and "DF_MISSING" in line for line in lines), lines
    assert any(line.startswith("meta.yaml:12:") and "decimals" in line for line in lines), lines
    assert any(line.startswith("meta.yaml:13:") and "described twice (first at line 5)" in line for line in lines), (
        lines
    )


def test_sdmx_csv_1_0_is_grouped_into_series_with_status_and_attributes(tmp_path: Path) -> None:
    series, log = _read_csv(
        tmp_path,
        """\
        DATAFLOW,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,UNIT_MEASURE,OBS_STATUS,OBS_CONF
        NSO:DF_PRICES(1.0),M,CPI_YOY,N,2026-09,4.1,PC,A,F
        NSO:DF_PRICES(1.0),M,CPI_YOY,S,2026-09,3.0,PC,A,F
        NSO:DF_PRICES(1.0),M,CPI_YOY,N,2026-M10,4.3,PC,P,F
        NSO:DF_PRICES(1.0),M,CPI_YOY,S,2026-10,NaN,PC,M,F
        """,
    )
    assert not log, log.problems
    north, south = series
    assert north.dataflow == "DF_PRICES" and north.key == "M.CPI_YOY.N"
    assert dict(north.codes) == {"FREQ": "M", "INDICATOR": "CPI_YOY", "REF_AREA": "N"}
    assert north.observations == (Observation("2026-09", 4.1, "A"), Observation("2026-10", 4.3, "P"))
    assert north.attributes == {"UNIT_MEASURE": "PC"}  # OBS_CONF is observation-level
    assert south.observations[-1] == Observation("2026-10", None, "M")


def test_sdmx_csv_2_0_layout_with_undeclared_dimensions_takes_non_attribute_columns(tmp_path: Path) -> None:
    series, log = _read_csv(
        tmp_path,
        """\
        STRUCTURE,STRUCTURE_ID,ACTION,INDICATOR,SEX,TIME_PERIOD,OBS_VALUE,UNIT_MULT,OBS_STATUS
        dataflow,NSO:DF_POP(2.0),I,POP,F,2024,6012.5,3,
        dataflow,NSO:DF_POP(2.0),I,POP,F,2025,6101.2,3,P
        dataflow,NSO:DF_POP(2.0),I,POP,M,2025,5980,3,P
        """,
    )
    assert not log, log.problems
    assert [(s.key, len(s.observations)) for s in series] == [("POP.F", 2), ("POP.M", 1)]
    assert series[0].observations[0] == Observation("2024", 6012.5, None)
    assert series[0].attributes == {"UNIT_MULT": "3"}


def test_bad_rows_are_reported_with_file_and_line_and_nothing_is_read(tmp_path: Path) -> None:
    series, log = _read_csv(
        tmp_path,
        """\
        DATAFLOW,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE
        DF_PRICES,M,CPI_YOY,N,2026-09,4.1
        DF_PRICES,M,CPI_YOY,N,,4.2
        DF_PRICES,M,CPI_YOY,N,2026-10,four
        DF_UNKNOWN,M,CPI_YOY,N,2026-10,1
        DF_PRICES,M,CPI_YOY,N,2026-09,4.0
        DF_PRICES,M,CPI_YOY,N,2026-11
        DF_PRICES,M,CPI_YOY,,2026-12,1
        """,
    )
    assert series == []
    path = tmp_path / "data.csv"
    messages = [str(problem) for problem in log.problems]
    assert messages[0] == f"{path}:3: no TIME_PERIOD: expected a period such as 2026, 2026-Q3, 2026-09 or 2026-09-30"
    assert messages[1] == f"{path}:4: OBS_VALUE 'four' is not a number"
    assert messages[2].startswith(f"{path}:5: dataflow DF_UNKNOWN is not in the metadata file")
    assert messages[3] == f"{path}:6: series M.CPI_YOY.N has the period 2026-09 twice (first at line 2)"
    assert messages[4] == f"{path}:7: the row has 5 values; the header has 6 columns"
    assert messages[5] == f"{path}:8: no code for the dimension(s) REF_AREA"


def test_a_file_that_is_not_sdmx_csv_is_reported_on_its_header_line(tmp_path: Path) -> None:
    series, log = _read_csv(tmp_path, "# a comment line\nregion,year,value\nN,2026,1\n")
    assert series == []
    assert str(log.problems[0]).startswith(f"{tmp_path / 'data.csv'}:2: not an SDMX-CSV file")


def _message(name: str, dataflow: str | None = None) -> tuple[list[RawSeries], ProblemLog]:
    metadata = load_metadata_file(SDMX / "metadata.yaml")
    log = ProblemLog()
    return list(read_sdmx_message(SDMX / name, metadata, log, dataflow=dataflow)), log


def test_real_eurostat_structure_specific_sdmx_ml_is_read() -> None:
    (series,), log = _message("ESTAT_NAMA_10_GDP-ss.xml")
    assert not log, log.problems
    assert series.dataflow == "NAMA_10_GDP"
    assert dict(series.codes) == {"freq": "A", "unit": "CP_MEUR", "na_item": "B1GQ", "geo": "LU"}
    assert [(o.period, o.value) for o in series.observations] == [
        ("2012", 46526.2),
        ("2013", 49094.5),
        ("2014", 51791.3),
        ("2015", 54142.3),
    ]


def test_real_imf_message_keeps_unit_as_an_attribute_when_metadata_lists_the_dimensions() -> None:
    (series,), log = _message("IMF_PCPS.xml")
    assert not log, log.problems
    assert dict(series.codes) == {"FREQ": "M", "REF_AREA": "W00", "COMMODITY": "PZINC"}
    assert series.attributes["UNIT_MEASURE"] == "USD"
    assert series.observations == (Observation("2021-01", 2705.345, None),)


def test_real_world_bank_generic_sdmx_ml_is_read_with_inferred_dimensions() -> None:
    (series,), log = _message("WB_gh-78.xml")
    assert not log, log.problems
    assert series.key == "A.Reported.020110.000.840"
    assert series.attributes["DATASOURCE"] == "TRN"
    assert series.observations == (Observation("1989", 0.0, None),)


def test_real_ecb_sdmx_json_is_read_with_its_observation_status() -> None:
    (series,), log = _message("ECB_EXR_D.USD.EUR.json", dataflow="EXR")
    assert not log, log.problems
    assert dict(series.codes)["CURRENCY"] == "USD"
    assert series.observations == (Observation("2016-10-05", 1.2, "A"),)


def test_an_sdmx_json_message_that_does_not_name_its_dataflow_needs_one_in_the_configuration() -> None:
    series, log = _message("ECB_EXR_D.USD.EUR.json")
    assert series == []
    assert "does not name its dataflow" in str(log.problems[0])


def test_a_real_sdmx_json_message_without_time_periods_is_refused() -> None:
    series, log = _message("OECD_PART2.json", dataflow="PART2")
    assert series == []
    assert "has no TIME_PERIOD" in str(log.problems[0])


def test_sdmx_csv_with_labels_and_semicolons_is_read_by_its_codes(tmp_path: Path) -> None:
    series, log = _read_csv(
        tmp_path,
        """\
        DATAFLOW;FREQ: Frequency;INDICATOR: Indicator;REF_AREA: Reference area;TIME_PERIOD: Time;OBS_VALUE: Value
        NSO:DF_PRICES(1.0): Prices;M: Monthly;CPI_YOY: Inflation rate;N: Northern;2026-10: October 2026;4.3
        """,
    )
    assert not log, log.problems
    (north,) = series
    assert north.key == "M.CPI_YOY.N" and north.observations == (Observation("2026-10", 4.3, None),)


def test_sdmx_csv_2_0_delete_actions_are_refused_in_a_full_load(tmp_path: Path) -> None:
    series, log = _read_csv(
        tmp_path,
        """\
        STRUCTURE,STRUCTURE_ID,ACTION,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE
        dataflow,NSO:DF_PRICES(1.0),I,M,CPI_YOY,N,2026-09,4.1
        dataflow,NSO:DF_PRICES(1.0),D,M,CPI_YOY,N,2026-10,
        """,
    )
    assert series == []
    assert str(log.problems[0]).startswith(f"{tmp_path / 'data.csv'}:3: ACTION 'D'")
