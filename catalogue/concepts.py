"""The glossary: concepts of official statistics and their definitions, in several languages.

A glossary file (``concepts.yaml``)::

    default_language: en              # every concept needs its term and definition in it
    popular: [inflation, gdp]         # offered by /define without a term (optional)
    concepts:
      - id: inflation                 # a-z, 0-9, _ and -; at most 60 characters
        topic: prices                 # optional; one of register.topics when the bot checks it
        term: {en: Inflation, fr: Inflation}
        synonyms: {en: [rising prices], fr: [hausse des prix]}   # optional, per language
        definition: {en: ..., fr: ...}
        source: ILO, Resolution concerning consumer price indices (2003)   # or per language
        related: [cpi, core_inflation]                          # other concept ids

A language missing for a concept falls back to the default language. Problems (unknown keys,
missing texts, repeated ids, related ids that do not exist) are reported as ``FILE:LINE:
message``, all at once; a file with problems is refused as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalogue.model import EntriesById, Multilingual
from catalogue.sourcefiles import LANGUAGE, MAX_FILE_BYTES, Checker, DefinitionFileError
from common.safe_yaml import Located, load_located, read_file

CONCEPT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
FILE_KEYS = {"default_language", "popular", "concepts"}
CONCEPT_KEYS = {"id", "topic", "term", "synonyms", "definition", "source", "related"}
MAX_DEFINITION = 3000  # leaves room in a 4,096-character message for the term and the source
MAX_TERM = 60  # a term is also a button label


@dataclass(frozen=True)
class Concept:
    """One entry of the glossary. Texts are mappings from language code to text."""

    id: str
    term: Multilingual
    definition: Multilingual
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: Multilingual = field(default_factory=dict)
    related: tuple[str, ...] = ()
    topic: str | None = None

    def names(self) -> list[str]:
        """Every way the concept may be asked for: its id, terms and synonyms in all languages."""
        names = [self.id.replace("_", " ")]
        names.extend(self.term.values())
        for synonyms in self.synonyms.values():
            names.extend(synonyms)
        return names


@dataclass(frozen=True)
class Glossary(EntriesById[Concept]):
    """The concepts by id, in file order; ``popular`` are the ids /define offers without a term."""

    concepts: Mapping[str, Concept] = field(default_factory=dict)
    default_language: str = "en"
    popular: tuple[str, ...] = ()

    @property
    def by_id(self) -> Mapping[str, Concept]:
        return self.concepts

    def term(self, concept: Concept, language: str) -> str:
        return self.text(concept.term, language)

    def definition(self, concept: Concept, language: str) -> str:
        return self.text(concept.definition, language)

    def source(self, concept: Concept, language: str) -> str:
        return self.text(concept.source, language)

    def suggestions(self, limit: int = 6) -> list[Concept]:
        """The popular concepts, else the first ones of the file."""
        ids = self.popular or tuple(self.concepts)
        return [self.concepts[concept_id] for concept_id in ids[:limit] if concept_id in self.concepts]


def load_glossary_file(path: Path, *, topics: Collection[str] | None = None) -> Glossary:
    """Read and check a glossary file; raises :class:`catalogue.sourcefiles.DefinitionFileError`.

    With ``topics`` (the configured register topics), a concept's topic must be one of them.
    """
    return load_glossary_text(read_file(path, MAX_FILE_BYTES, DefinitionFileError), str(path), topics=topics)


def load_glossary_text(text: str, path: str, *, topics: Collection[str] | None = None) -> Glossary:
    root = load_located(text, path, DefinitionFileError)
    check = Checker(path)
    check.keys(root, "the glossary", FILE_KEYS, required=("concepts",))
    default_language = "en"
    if "default_language" in root:
        value = check.text(root["default_language"], root.line_of("default_language"), "default_language")
        if value is not None and not LANGUAGE.match(value):
            check.problem(root.line_of("default_language"), f"default_language '{value}' is not a language code")
        elif value is not None:
            default_language = value
    entries = root.get("concepts")
    concepts: dict[str, Concept] = {}
    references: list[tuple[str, list[str], int]] = []  # (concept id, related ids, line)
    # Ids of every entry, also broken ones: a reference to a broken entry is not a second problem.
    declared = (
        {str(entry.get("id")) for entry in entries if isinstance(entry, Located)}
        if isinstance(entries, list)
        else set()
    )
    if "concepts" in root and not isinstance(entries, list):
        check.problem(root.line_of("concepts"), "concepts must be a list of entries (each starting with '- id:')")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Located):
            check.problem(root.line_of("concepts"), "each concept must be a mapping with id, term, definition...")
            continue
        concept = _concept(check, entry, default_language, topics)
        related = entry.get("related")
        if isinstance(entry.get("id"), str) and isinstance(related, (list, str)):
            names = [str(name) for name in ([related] if isinstance(related, str) else related)]
            references.append((entry["id"], names, entry.line_of("related")))
        if concept is None:
            continue
        if concept.id in concepts:
            check.problem(entry.line_of("id"), f"the concept id '{concept.id}' is used twice")
            continue
        concepts[concept.id] = concept
    for concept_id, names, line in references:
        for other in names:
            if other == concept_id:
                check.problem(line, f"the concept '{concept_id}' lists itself as related")
            elif other not in declared:
                check.problem(line, f"'{other}' in the related concepts of '{concept_id}' is not a concept id")
    popular: list[str] = []
    if "popular" in root:
        line = root.line_of("popular")
        for concept_id in check.names(root["popular"], line, "popular") or []:
            if concept_id not in declared:
                check.problem(line, f"'{concept_id}' in popular is not a concept id")
            elif concept_id in concepts:
                popular.append(concept_id)
    if not concepts and not check.problems:
        check.problem(root.line, "the glossary has no concepts")
    check.raise_if_any()
    return Glossary(concepts=concepts, default_language=default_language, popular=tuple(popular))


def _concept(check: Checker, entry: Located, default_language: str, topics: Collection[str] | None) -> Concept | None:
    check.keys(entry, "a concept", CONCEPT_KEYS, required=("id", "term", "definition"))
    concept_id = check.text(entry.get("id"), entry.line_of("id"), "the id") if "id" in entry else None
    if concept_id is not None and not CONCEPT_ID.match(concept_id):
        check.problem(
            entry.line_of("id"),
            f"the id '{concept_id}' must be lowercase letters, digits, _ or - (at most 60 characters)",
        )
        concept_id = None
    what = f"the concept '{concept_id}'" if concept_id else "a concept"
    term = _texts(check, entry, "term", f"the term of {what}", default_language)
    for language, text in (term or {}).items():
        if len(text) > MAX_TERM:
            check.problem(entry.line_of("term"), f"the term of {what} in '{language}' is longer than {MAX_TERM}")
    definition = _texts(check, entry, "definition", f"the definition of {what}", default_language)
    for language, text in (definition or {}).items():
        if len(text) > MAX_DEFINITION:
            check.problem(
                entry.line_of("definition"),
                f"the definition of {what} in '{language}' is {len(text)} characters; the limit is {MAX_DEFINITION}",
            )
    source = _texts(check, entry, "source", f"the source of {what}", default_language) if "source" in entry else {}
    synonyms = _synonyms(check, entry, what) if "synonyms" in entry else {}
    related: Sequence[str] = ()
    if "related" in entry:
        related = check.names(entry["related"], entry.line_of("related"), f"the related concepts of {what}") or ()
    topic = None
    if "topic" in entry:
        topic = check.text(entry["topic"], entry.line_of("topic"), f"the topic of {what}")
        if topic is not None and topics is not None and topic not in topics:
            check.problem(
                entry.line_of("topic"), f"'{topic}' is not one of the topics in the configuration ({', '.join(topics)})"
            )
    if concept_id is None or term is None or definition is None or source is None or synonyms is None:
        return None
    return Concept(
        id=concept_id,
        term=term,
        definition=definition,
        synonyms=synonyms,
        source=source,
        related=tuple(dict.fromkeys(related)),
        topic=topic,
    )


def _texts(check: Checker, entry: Located, key: str, what: str, default_language: str) -> dict[str, str] | None:
    if key not in entry:
        return None
    return check.texts(entry[key], entry.line_of(key), what, default_language)


def _synonyms(check: Checker, entry: Located, what: str) -> dict[str, tuple[str, ...]] | None:
    value: Any = entry["synonyms"]
    line = entry.line_of("synonyms")
    if not isinstance(value, Mapping):
        check.problem(line, f"the synonyms of {what} must be a mapping of languages to lists, e.g. {{en: [a, b]}}")
        return None
    synonyms: dict[str, tuple[str, ...]] = {}
    for language, names in value.items():
        where = value.line_of(language) if isinstance(value, Located) else line
        if not LANGUAGE.match(language):
            check.problem(where, f"'{language}' in the synonyms of {what} is not a language code such as en or fr")
            continue
        checked = check.names(names, where, f"the synonyms of {what} in '{language}'")
        if checked is not None:
            synonyms[language] = tuple(checked)
    return synonyms
