"""The shipped Demoland catalogue answers questions as `make run` serves them: the demo data files,
their metadata and the lookup flow work together (English and French, with typos)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.engine import Engine
from catalogue.loading import SourceSpec, data_files
from storage.catalogue_load import load_catalogue
from storage.database import Database
from storage.repositories import Repositories
from testkit import paths
from testkit.fakes.engine_user import EngineUser

DEMO = paths.OFFICE / "indicators"


async def _load_demo(database: Database) -> None:
    await load_catalogue(
        database, DEMO / "metadata.yaml", data_files([SourceSpec("*.csv")], DEMO), now=datetime.now(UTC)
    )


async def _value(database: Database, code: str, period: str, **dimensions: str) -> float | None:
    async with database.transaction() as connection:
        repository = Repositories(connection).indicators
        snapshot = await repository.snapshot()
        assert snapshot is not None
        (series,) = [
            s for s in snapshot.series_of(code) if all(s.dimensions.get(k) == v for k, v in dimensions.items())
        ]
        return next(o.value for o in await repository.observations(series.id) if o.period == period)


async def test_demo_data_answers_a_french_question_with_typos_with_the_stored_figure(
    engine: Engine, database: Database
) -> None:
    await _load_demo(database)
    user = EngineUser(engine, "demo-fr", language="fr")
    (reply,) = await user.say("taux de chomage femmes Nord 2023")
    lines = reply.text.split("\n")
    stored = await _value(database, "UNEMP_RATE", "2023", REF_AREA="N", SEX="F")
    assert lines[0] == "Taux de chômage"
    assert lines[1] == "Nord · Femmes"
    assert lines[2] == f"{stored:.1f} % en 2023".replace(".", ",")
    assert lines[3].startswith("Période précédente (2022)")
    assert "Demoland (fictif)" in reply.text


async def test_demo_data_asks_for_the_region_then_answers_an_english_question_with_a_typo(
    engine: Engine, database: Database
) -> None:
    await _load_demo(database)
    user = EngineUser(engine, "demo-en", language="en")
    (question,) = await user.say("what is the inflaton rate")
    assert question.text.startswith("Inflation rate")
    assert [b.label for b in question.flat_buttons][:2] == ["Demoland (whole country)", "Northern"]
    (reply,) = await user.press("Demoland (whole country)")
    assert reply.text.split("\n")[0] == "Inflation rate"
    assert "2026" in reply.text and "%" in reply.text and "fictional" in reply.text
    (unknown,) = await user.say("number of unicorns in the zoo")
    assert "data request" in unknown.text
