"""Finding a concept from what a person typed: accents, case and typos do not matter.

Every name of every concept (its id, its term and synonyms in all languages: people often type
the English term in a French chat) is compared with the query after folding both (lower case,
no accents, no punctuation). An exact folded match wins outright. Otherwise each concept gets
the best score of its names (:func:`_score`, rapidfuzz): one clear winner is the answer,
several close scores are offered as choices, and nothing good enough is "not found".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

from catalogue.concepts import Concept, Glossary

#: Below this score a concept is not offered at all.
MIN_SCORE = 72.0
#: Concepts within this many points of the best are "close": offered as choices.
CLOSE = 8.0
MAX_CHOICES = 5
_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lower case, without accents (or Arabic short vowels), punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(character for character in decomposed if not unicodedata.combining(character))
    return _NOT_WORD.sub(" ", bare).strip()


@dataclass(frozen=True)
class Match:
    """What a query found: ``concept`` when one clearly fits, else up to five ``choices``."""

    concept: Concept | None = None
    choices: tuple[Concept, ...] = ()

    @property
    def found(self) -> bool:
        return self.concept is not None or bool(self.choices)


class ConceptIndex:
    """The folded names of a glossary's concepts, built once per glossary."""

    def __init__(self, glossary: Glossary) -> None:
        self.glossary = glossary
        self._names: list[tuple[str, Concept]] = []
        self._exact: dict[str, list[Concept]] = {}
        for concept in glossary.concepts.values():
            for name in dict.fromkeys(fold(name) for name in concept.names()):
                if not name:
                    continue
                self._names.append((name, concept))
                found = self._exact.setdefault(name, [])
                if concept not in found:
                    found.append(concept)

    def search(self, query: str) -> Match:
        """The concept the query names, or the close choices, or nothing."""
        folded = fold(query)
        if not folded:
            return Match()
        exact = self._exact.get(folded)
        if exact:
            return Match(concept=exact[0]) if len(exact) == 1 else Match(choices=tuple(exact[:MAX_CHOICES]))
        best: dict[str, tuple[float, Concept]] = {}
        for name, concept in self._names:
            score = _score(folded, name)
            if score >= MIN_SCORE and score > best.get(concept.id, (0.0, concept))[0]:
                best[concept.id] = (score, concept)
        if not best:
            return Match()
        ranked = sorted(best.values(), key=lambda item: -item[0])
        top = ranked[0][0]
        close = tuple(concept for score, concept in ranked if score >= top - CLOSE)[:MAX_CHOICES]
        if len(close) == 1:
            return Match(concept=close[0])
        return Match(choices=close)


def _score(query: str, name: str) -> float:
    """How well ``query`` names ``name`` (0-100), both folded.

    The whole query against the whole name forgives typos and word order (``ratio``,
    ``token_sort_ratio``). A query whose every word is (nearly) a word of the name, such as
    ``gini`` for ``gini coefficient`` or ``rate`` for every "... rate", scores at most
    :data:`PART_SCORE`: found, but below a whole-name match. Short words must match exactly, so
    that "de" or "ab" match nothing by themselves.
    """
    whole = max(fuzz.ratio(query, name), fuzz.token_sort_ratio(query, name))
    return max(whole, _part_score(query.split(), name.split()))


#: The best score of a query that names only some of the words of a name.
PART_SCORE = 90.0
#: How close (0-100) a typed word must be to a word of the name.
WORD_SCORE = 80.0


def _part_score(query_words: list[str], name_words: list[str]) -> float:
    if not query_words or len(query_words) >= len(name_words) or all(len(word) <= 3 for word in query_words):
        return 0.0  # a whole name, or only short words ("de", "of"): not a part of a name
    scores = []
    for word in query_words:
        if len(word) <= 3:
            best = 100.0 if word in name_words else 0.0
        else:
            best = max(fuzz.ratio(word, other) for other in name_words)
        if best < WORD_SCORE:
            return 0.0
        scores.append(best)
    return PART_SCORE * sum(scores) / (100.0 * len(scores))
