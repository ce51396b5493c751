"""How fast and how well /define finds a term typed with mistakes; prints the figures.

    .venv/bin/python -m bench.glossary_search [--queries 2000] [--synthetic 1000]

1. quality and speed on the shipped glossary (concepts.yaml): every term and synonym in every
   language, typed with one or two random typos (a letter dropped, doubled, swapped or replaced,
   accents dropped, case changed); "found" means the intended concept is the answer, "offered"
   that it is among the choices;
2. speed on a synthetic glossary of ``--synthetic`` concepts (how search time grows with size);
3. ``/define`` end to end through the engine on SQLite (a transaction per command).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time

from bot.core.engine import Engine, load_pseudonymizer
from catalogue.concept_search import ConceptIndex, fold
from catalogue.concepts import Concept, Glossary, load_glossary_file
from handlers.context import Community
from storage.database import Database
from testkit import paths
from testkit.fakes.engine_user import EngineUser

ROOT = paths.ROOT
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def typo(text: str, rng: random.Random) -> str:
    """``text`` with one mistake a hurried typist makes."""
    if len(text) < 4:
        return text.upper()
    i = rng.randrange(1, len(text) - 1)
    kind = rng.choice(["drop", "double", "swap", "replace", "fold", "case"])
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    if kind == "double":
        return text[:i] + text[i] + text[i:]
    if kind == "swap":
        return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]
    if kind == "replace":
        return text[:i] + rng.choice(LETTERS) + text[i + 1 :]
    if kind == "fold":
        return fold(text)
    return text.upper()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def quality(glossary: Glossary, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    index = ConceptIndex(glossary)
    names = [(name, concept) for concept in glossary.concepts.values() for name in concept.names() if len(name) >= 4]
    found = offered = 0
    times: list[float] = []
    for _ in range(count):
        name, concept = rng.choice(names)
        typed = typo(name, rng)
        if rng.random() < 0.3:
            typed = typo(typed, rng)
        started = time.perf_counter()
        match = index.search(typed)
        times.append(time.perf_counter() - started)
        if match.concept is concept:
            found += 1
        elif concept in match.choices:
            offered += 1
    print(
        f"shipped glossary ({len(glossary)} concepts, {len(names)} names), {count} typed queries with typos:\n"
        f"  found {100 * found / count:.1f}%, offered among choices {100 * offered / count:.1f}%, "
        f"missed {100 * (count - found - offered) / count:.1f}%\n"
        f"  search time: median {1000 * statistics.median(times):.2f} ms, p95 {1000 * percentile(times, 0.95):.2f} ms"
    )


def synthetic(size: int, count: int, seed: int = 11) -> None:
    rng = random.Random(seed)

    def word() -> str:
        return "".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 10)))

    concepts = {}
    for number in range(size):
        term = " ".join(word() for _ in range(rng.randint(1, 4)))
        concepts[f"c{number}"] = Concept(
            id=f"c{number}",
            term={"en": term, "fr": term[::-1]},
            definition={"en": "x"},
            synonyms={"en": (word(),)},
        )
    glossary = Glossary(concepts=concepts)
    started = time.perf_counter()
    index = ConceptIndex(glossary)
    built = time.perf_counter() - started
    terms = [concept.term["en"] for concept in concepts.values()]
    times = []
    for _ in range(count):
        typed = typo(rng.choice(terms), rng)
        started = time.perf_counter()
        index.search(typed)
        times.append(time.perf_counter() - started)
    print(
        f"synthetic glossary ({size} concepts, {len(index._names)} names): index built in {1000 * built:.0f} ms; "
        f"search median {1000 * statistics.median(times):.2f} ms, p95 {1000 * percentile(times, 0.95):.2f} ms"
    )


async def through_engine(glossary: Glossary, count: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        database = Database(f"sqlite+aiosqlite:///{directory}/bench.db")
        await database.migrate()
        try:
            pseudonymizer = await load_pseudonymizer(database, "bench-pseudonym-key-0123456789")
            engine = Engine(database, {}, pseudonymizer, community=Community(glossary=glossary))
            user = EngineUser(engine, "bench")
            rng = random.Random(3)
            terms = [glossary.term(concept, "en") for concept in glossary.concepts.values()]
            times = []
            for number in range(count):
                typed = typo(terms[number % len(terms)], rng)
                started = time.perf_counter()
                await user.say(f"/define {typed}")
                times.append(time.perf_counter() - started)
                user.seen.clear()
        finally:
            await database.dispose()
    print(
        f"/define with a typo through the engine on SQLite, {count} commands: median {1000 * statistics.median(times):.1f} ms, "
        f"p95 {1000 * percentile(times, 0.95):.1f} ms, {count / sum(times):.0f} commands/s (one user, sequential)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--synthetic", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=300)
    arguments = parser.parse_args()
    glossary = load_glossary_file(ROOT / "office" / "concepts.yaml")
    quality(glossary, arguments.queries)
    synthetic(arguments.synthetic, min(arguments.queries, 500))
    asyncio.run(through_engine(glossary, arguments.commands))


if __name__ == "__main__":
    main()
