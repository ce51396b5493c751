"""``baraza concepts ...``: check the glossary and try ``/define`` without starting the bot.

``check [FILE]`` reads the glossary (the configured one by default) and prints each problem as
``FILE:LINE: message``, or a summary of what it holds. ``define TERM`` shows what the bot would
find for a typed term: the concept, the choices offered, or nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from catalogue.concept_search import ConceptIndex
from catalogue.concepts import Glossary, load_glossary_file
from catalogue.sourcefiles import DefinitionFileError


def add_commands(commands: Any) -> None:
    """Register ``baraza concepts ...`` on the top-level sub-parsers."""
    concepts = commands.add_parser("concepts", help="the glossary of /define: check it, try a term")
    sub = concepts.add_subparsers(dest="concepts_command", required=True)
    check = sub.add_parser("check", help="check a glossary file; problems are printed as FILE:LINE: message")
    check.add_argument("file", type=Path, nargs="?", default=None, help="default: the configured glossary")
    define = sub.add_parser("define", help="what /define finds for a typed term")
    define.add_argument("term", nargs="+")


def run(settings: Settings, arguments: argparse.Namespace) -> int:
    path = getattr(arguments, "file", None) or settings.concepts_file
    if path is None:
        print("baraza: no glossary: set concepts.file in the configuration (or add concepts.yaml)", file=sys.stderr)
        return 1
    try:
        glossary = load_glossary_file(path, topics=settings.register.topics)
    except DefinitionFileError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return 1
    if arguments.concepts_command == "check":
        print(f"{path}: ok: {_summary(glossary)}")
        return 0
    return _define(glossary, " ".join(arguments.term))


def _summary(glossary: Glossary) -> str:
    languages: dict[str, int] = {}
    for concept in glossary.concepts.values():
        for language in concept.definition:
            languages[language] = languages.get(language, 0) + 1
    shown = ", ".join(f"{language} {count}" for language, count in sorted(languages.items(), key=lambda i: -i[1]))
    return f"{len(glossary)} concepts; definitions by language: {shown}"


def _define(glossary: Glossary, term: str) -> int:
    match = ConceptIndex(glossary).search(term)
    language = glossary.default_language
    if match.concept is not None:
        concept = match.concept
        print(f"{concept.id}: {glossary.term(concept, language)}\n{glossary.definition(concept, language)}")
        return 0
    if match.choices:
        print("choices: " + ", ".join(f"{c.id} ({glossary.term(c, language)})" for c in match.choices))
        return 0
    print(f"nothing found for '{term}'", file=sys.stderr)
    return 1
