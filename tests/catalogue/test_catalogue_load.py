"""Loading the catalogue into the store: demo data, real SDMX files, broken files, the CLI, the REST refresh."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import running_bot
from bot.cli.main import main
from bot.config import IndicatorSettings, RefreshSettings, Settings, WebSettings
from bot.indicator_refresh import IndicatorKeeper, load_configured, load_logged
from catalogue.errors import CatalogueError
from catalogue.loading import SourceSpec, data_files
from catalogue.model import Observation
from storage.catalogue_load import load_catalogue
from storage.database import Database
from storage.indicators import IndicatorLoader
from storage.repositories import Repositories
from testkit import paths
from testkit.databases import copy_migrated_sqlite
from testkit.fakes.sdmx_server import sdmx_server
from testkit.telegram_harness import PSEUDONYM_KEY

ROOT = paths.ROOT
DEMO = ROOT / "office" / "indicators"
SDMX = paths.SDMX_SAMPLES
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

METADATA = """\
dataflows:
  DF_PRICES:
    dimensions: [FREQ, INDICATOR, REF_AREA]
    indicator_dimension: INDICATOR
indicators:
  - code: CPI_YOY
    dataflow: DF_PRICES
    names: {en: Inflation rate}
    topic: prices
"""
GOOD = """\
DATAFLOW,FREQ,INDICATOR,REF_AREA,TIME_PERIOD,OBS_VALUE,OBS_STATUS
DF_PRICES,M,CPI_YOY,N,2026-09,4.1,A
DF_PRICES,M,CPI_YOY,N,2026-10,4.3,P
DF_PRICES,M,CPI_YOY,S,2026-10,3.9,P
"""


async def _values(database: Database, code: str, **dimensions: str) -> list[Observation]:
    """What the bot would read: the active load's series of ``code`` with these dimension values."""
    async with database.transaction() as connection:
        repository = Repositories(connection).indicators
        snapshot = await repository.snapshot()
        assert snapshot is not None
        (series,) = [
            s for s in snapshot.series_of(code) if all(s.dimensions.get(k) == v for k, v in dimensions.items())
        ]
        return list(await repository.observations(series.id))


async def test_the_demo_data_load_with_40_indicators_in_every_topic_by_region_and_sex(database: Database) -> None:
    files = data_files([SourceSpec("*.csv")], DEMO)
    result = await load_catalogue(database, DEMO / "metadata.yaml", files, now=NOW)
    assert result.summary.indicators >= 40 and result.without_data == ()
    async with database.transaction() as connection:
        snapshot = await Repositories(connection).indicators.snapshot()
    assert snapshot is not None
    topics = {indicator.topic for indicator in snapshot.indicators.values()}
    assert topics >= {"prices", "labour", "population", "national_accounts", "health", "education", "agriculture"}
    unemployment = snapshot.indicators["UNEMP_RATE"]
    assert [d.id for d in unemployment.dimensions] == ["REF_AREA", "SEX"]
    assert unemployment.dimensions[0].values["N"]["fr"] == "Nord"
    assert "Demoland" in unemployment.source["en"] and "fictional" in unemployment.source["en"]
    assert snapshot.indicators["GDP"].dimensions == ()  # national only: nothing to choose
    annual = await _values(database, "UNEMP_RATE", REF_AREA="N", SEX="F")
    assert len(annual) >= 10 and annual[-1].status == "P" and annual[0].status == "A"
    monthly = await _values(database, "CPI_YOY", REF_AREA="DL")
    assert monthly[-1].period == "2026-10" and len(monthly) >= 120


async def test_a_broken_file_is_rejected_with_its_line_and_the_bot_keeps_the_old_values(
    database: Database, tmp_path: Path
) -> None:
    (tmp_path / "metadata.yaml").write_text(METADATA, encoding="utf-8")
    data = tmp_path / "prices.csv"
    data.write_text(GOOD, encoding="utf-8")
    first = await load_catalogue(
        database, tmp_path / "metadata.yaml", data_files([SourceSpec("*.csv")], tmp_path), now=NOW
    )
    # the new release has a typo on line 4 of one file, after a good file
    (tmp_path / "a_good.csv").write_text(GOOD.replace("CPI_YOY,N", "CPI_YOY,E").replace("4.", "9."), encoding="utf-8")
    data.write_text(GOOD.replace("4.1", "5.0").replace("3.9", "3,9"), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        await load_catalogue(database, tmp_path / "metadata.yaml", data_files([SourceSpec("*.csv")], tmp_path), now=NOW)
    assert [str(p) for p in caught.value.problems] == [f"{data}:4: the row has 8 values; the header has 7 columns"]
    async with database.transaction() as connection:
        assert await Repositories(connection).indicators.active_load_id() == first.summary.load_id
    assert [o.value for o in await _values(database, "CPI_YOY", REF_AREA="N")] == [4.1, 4.3]
    history = await IndicatorLoader(database).history()
    assert [h.status for h in history] == ["failed", "active"]
    assert history[0].error is not None and f"{data}:4:" in history[0].error
    async with database.transaction() as connection:
        count = await connection.exec_driver_sql("SELECT count(*) FROM indicator_series")
        assert count.scalar() == 2  # the failed load's rows are gone


async def test_real_sdmx_ml_and_sdmx_json_files_load_into_the_store(database: Database) -> None:
    files = data_files(
        [
            SourceSpec("ESTAT_NAMA_10_GDP-ss.xml"),
            SourceSpec("IMF_PCPS.xml"),
            SourceSpec("WB_gh-78.xml"),
            SourceSpec("ECB_EXR_D.USD.EUR.json", dataflow="EXR"),
        ],
        SDMX,
    )
    result = await load_catalogue(database, SDMX / "metadata.yaml", files, now=NOW)
    assert (result.summary.series, result.summary.observations) == (4, 7)
    assert result.without_data == ("PART2",)
    gdp = await _values(database, "B1GQ", geo="LU")
    assert [(o.period, o.value) for o in gdp] == [
        ("2012", 46526.2),
        ("2013", 49094.5),
        ("2014", 51791.3),
        ("2015", 54142.3),
    ]
    assert await _values(database, "PZINC") == [Observation("2021-01", 2705.345, None)]
    assert await _values(database, "USD") == [Observation("2016-10-05", 1.2, "A")]
    assert await _values(database, "TARIFF_MFN", REPORTER="840") == [Observation("1989", 0.0, None)]


async def test_a_reload_of_unchanged_sources_is_skipped_and_a_change_is_loaded(
    database: Database, tmp_path: Path
) -> None:
    (tmp_path / "metadata.yaml").write_text(METADATA, encoding="utf-8")
    (tmp_path / "prices.csv").write_text(GOOD, encoding="utf-8")
    settings = IndicatorSettings(tmp_path / "metadata.yaml", (SourceSpec("*.csv"),), tmp_path)
    assert (await load_configured(database, settings)).result is not None
    again = await load_configured(database, settings)
    assert again.result is None and again.skipped
    (tmp_path / "prices.csv").write_text(GOOD.replace("4.3", "4.4"), encoding="utf-8")
    assert (await load_configured(database, settings)).result is not None
    assert [o.value for o in await _values(database, "CPI_YOY", REF_AREA="N")] == [4.1, 4.4]


async def test_refresh_from_an_sdmx_rest_endpoint_loads_and_a_failed_refresh_keeps_the_data(database: Database) -> None:
    served = {"NAMA_10_GDP": SDMX / "ESTAT_NAMA_10_GDP-ss.xml", "EXR": SDMX / "ECB_EXR_D.USD.EUR.json"}
    async with sdmx_server(served) as server:
        settings = IndicatorSettings(
            SDMX / "metadata.yaml", (), SDMX, RefreshSettings(server.url, ("NAMA_10_GDP", "EXR"), 60)
        )
        outcome = await load_logged(database, settings)
        assert outcome.result is not None and outcome.result.summary.series == 2
        assert server.requests == ["NAMA_10_GDP", "EXR"]
        assert (await _values(database, "USD"))[0].value == 1.2
        loaded = outcome.result.summary.load_id
        server.failing = True
        failed = await load_logged(database, settings)
        assert failed.result is None and failed.error is not None and "HTTP 503" in failed.error
        async with database.transaction() as connection:
            assert await Repositories(connection).indicators.active_load_id() == loaded
        assert [o.value for o in await _values(database, "B1GQ")][-1] == 54142.3


async def test_the_refresh_schedule_picks_up_new_data_from_the_endpoint(database: Database, tmp_path: Path) -> None:
    served = tmp_path / "EXR.json"
    shutil.copy(SDMX / "ECB_EXR_D.USD.EUR.json", served)
    async with sdmx_server({"EXR": served}) as server:
        settings = IndicatorSettings(SDMX / "metadata.yaml", (), SDMX, RefreshSettings(server.url, ("EXR",), 0.002))
        keeper = IndicatorKeeper(database, settings)
        await keeper.start()
        try:
            await asyncio.wait_for(keeper.first_attempt.wait(), 30)
            assert keeper.attempts[0].result is not None
            served.write_text(served.read_text().replace('"observations":{"0":[1.2,', '"observations":{"0":[1.25,'))
            for _ in range(300):
                if any(a.result is not None for a in keeper.attempts[1:]):
                    break
                await asyncio.sleep(0.1)
        finally:
            await keeper.stop()
        assert (await _values(database, "USD"))[0].value == 1.25


async def test_baraza_run_loads_the_configured_indicators_at_start(tmp_path: Path) -> None:
    settings = Settings(
        database_url=await copy_migrated_sqlite(tmp_path / "run.db"),
        surveys_directory=ROOT / "office" / "surveys",
        pseudonym_key=PSEUDONYM_KEY,
        web=WebSettings(host="127.0.0.1", port=0),
        indicators=IndicatorSettings(DEMO / "metadata.yaml", (SourceSpec("*.csv"),), DEMO),
    )
    async with running_bot(settings) as bot:
        assert bot.indicators is not None
        await asyncio.wait_for(bot.indicators.first_attempt.wait(), 60)
        async with bot.database.transaction() as connection:
            snapshot = await Repositories(connection).indicators.snapshot()
        assert snapshot is not None and "CPI_YOY" in snapshot.indicators
    async with running_bot(settings) as bot:  # a restart with the same files does not load again
        assert bot.indicators is not None
        await asyncio.wait_for(bot.indicators.first_attempt.wait(), 60)
        assert bot.indicators.attempts[0].skipped


def test_cli_load_reports_problems_with_their_line_and_list_shows_the_catalogue(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "metadata.yaml").write_text(METADATA, encoding="utf-8")
    (tmp_path / "prices.csv").write_text(GOOD, encoding="utf-8")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"database:\n  url: sqlite:///{tmp_path / 'cli.db'}\nsurveys:\n  directory: {ROOT / 'office' / 'surveys'}\n"
        "indicators:\n  metadata: metadata.yaml\n  sources: ['*.csv']\n",
        encoding="utf-8",
    )
    monkeypatch.delenv("BARAZA_DATABASE_URL", raising=False)
    assert main(["--config", str(config), "indicators", "load"]) == 0
    assert "1 indicators, 2 series, 3 observations" in capsys.readouterr().out
    (tmp_path / "prices.csv").write_text(GOOD + "DF_PRICES,M,CPI_YOY,N,2026-13,1,A\n", encoding="utf-8")
    assert main(["--config", str(config), "indicators", "load"]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'prices.csv'}:5: TIME_PERIOD '2026-13'" in err
    assert "the indicators in service are unchanged" in err
    assert main(["--config", str(config), "indicators", "list"]) == 0
    out = capsys.readouterr().out
    assert "CPI_YOY" in out and "2026-10" in out and "Inflation rate" in out
    assert "failed" in out and "active" in out


async def test_a_first_start_with_the_endpoint_down_serves_the_files_alone(database: Database) -> None:
    async with sdmx_server({"EXR": SDMX / "ECB_EXR_D.USD.EUR.json"}) as server:
        server.failing = True
        settings = IndicatorSettings(
            SDMX / "metadata.yaml",
            (SourceSpec("ESTAT_NAMA_10_GDP-ss.xml"),),
            SDMX,
            RefreshSettings(server.url, ("EXR",), 60),
        )
        outcome = await load_logged(database, settings)
        assert outcome.error is not None and "HTTP 503" in outcome.error
        assert outcome.result is not None and outcome.result.summary.series == 1
        assert (await _values(database, "B1GQ"))[0].value == 46526.2
        # with data in service, a failing endpoint changes nothing (no files-only load)
        again = await load_logged(database, settings)
        assert again.result is None
        async with database.transaction() as connection:
            assert await Repositories(connection).indicators.active_load_id() == outcome.result.summary.load_id


async def test_while_a_load_is_being_written_the_bot_reads_only_the_load_in_service(database: Database) -> None:
    from catalogue.model import Indicator, SeriesData

    cpi = Indicator("CPI_YOY", {"en": "Inflation rate"}, topic="prices")
    loader = IndicatorLoader(database)
    first = await loader.replace(
        [cpi], [SeriesData("CPI_YOY", "N", {"REF_AREA": "N"}, (Observation("2026-09", 4.1),))], source="old", now=NOW
    )
    seen_during_load: list[tuple[int | None, list[float | None]]] = []

    async def new_release() -> AsyncIterator[SeriesData]:
        for i in range(3000):  # more than one write batch of series before the switch
            yield SeriesData("CPI_YOY", f"R{i}", {"REF_AREA": f"R{i}"}, (Observation("2026-10", 9.9),))
            if i in (10, 2500):
                async with database.transaction() as connection:
                    repository = Repositories(connection).indicators
                    snapshot = await repository.snapshot()
                    assert snapshot is not None
                    (series,) = snapshot.series_of("CPI_YOY")
                    values = [o.value for o in await repository.observations(series.id)]
                    seen_during_load.append((snapshot.load_id, values))

    second = await loader.replace([cpi], new_release(), source="new", now=NOW)
    assert seen_during_load == [(first.load_id, [4.1]), (first.load_id, [4.1])]
    async with database.transaction() as connection:
        snapshot = await Repositories(connection).indicators.snapshot()
    assert snapshot is not None and snapshot.load_id == second.load_id and len(snapshot.series_of("CPI_YOY")) == 3000
