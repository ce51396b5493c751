"""Matching a question typed in a chat ("taux de chomage des femmes dans le Nord 2024") to the
catalogue: which indicators, which dimension values, which period. Pure: no I/O.

:class:`CatalogueIndex` is built once per catalogue load (see :mod:`catalogue.cache`) and then
answers :meth:`CatalogueIndex.match` quickly for any number of series:

1. the period is read first (``2024``, ``2024-Q3``, ``March 2024``, ``mars 2024``, "last year")
   and taken out of the text;
2. every remaining word is folded (case, accents, Arabic marks) and, when it is not a word of the
   catalogue, read as the catalogue words closest to it (rapidfuzz: "unemplyment", "chommage");
3. each indicator is scored by how much of its code, names or synonyms the words cover (rare
   words weigh more than "rate" or "index"); names in the user's language win ties;
4. for the best indicators, the labels of their dimension values found in the text ("women",
   "femmes", "Northern", "Nord") become the understood selection; breakdown words that an
   indicator is not published by are reported, so the answer can say so.

What is left unspecified is what :meth:`CatalogueIndex.narrow` finds still varying among the
series that fit the selection: the handler asks for it with buttons.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from babel.dates import get_month_names
from rapidfuzz import fuzz, process

from catalogue.model import CatalogueSnapshot, Indicator, Multilingual, Series, in_language

#: At most this many indicators are offered as buttons.
MAX_CANDIDATES = 5
#: An indicator below this share of a name's (weighted) words is not a candidate.
MIN_SCORE = 0.5
#: The best candidate is answered directly when it is at least this good and this far ahead.
CONFIDENT_SCORE = 0.75
CONFIDENT_LEAD = 0.1
#: Names in another language than the user's count slightly less (ties go to their language).
OTHER_LANGUAGE = 0.97
#: How much a candidate loses for the words naming other indicators that it leaves unexplained.
UNEXPLAINED_PENALTY = 0.5
#: Corrections within this many points of the closest one are kept too.
NEAR_TIE = 10.0
#: How sure a word is taken to be when it is the start of a catalogue word.
PREFIX_SURENESS = 0.9
#: Codes of the "all values" member of a dimension (SDMX ``_T``): offered first when asking.
TOTAL_CODES = frozenset({"_T", "T", "TOTAL", "_Z"})

_BIDI = "\u200e\u200f\u061c"

# Words that say nothing about the indicator, folded, in the bot's languages.
# Per language: "the" is an English stopword but also "thé" (tea) folded, "or" is gold in French.
_STOPWORD_TEXT = {
    "en": "a an the of in on at to for and or by with from what whats is was are how much many me show give "
    "please latest last current value figure figures data number numbers about tell",
    "fr": "le la les l de des du d un une et ou en au aux dans pour par quel quelle quels quelles est sont "
    "moi donne donner svp chez sur avec combien dernier derniere",
    "pt": "o a os as de do da dos das em no na nos nas e um uma qual quais para por com ultimo ultima",
    "ar": "في من ما هو هي على عن و كم",
}
STOPWORDS: Mapping[str, frozenset[str]] = {
    language: frozenset(text.split()) for language, text in _STOPWORD_TEXT.items()
}

# Words that name common dimension values whatever the metadata's labels say, folded.
COMMON_VALUE_WORDS: Mapping[tuple[str | None, str], tuple[str, ...]] = {
    ("SEX", "F"): ("women", "woman", "female", "females", "girls", "femmes", "femme", "feminin", "filles",
                   "mulheres", "mulher", "feminino", "نساء", "اناث"),
    ("SEX", "M"): ("men", "man", "male", "males", "boys", "hommes", "homme", "masculin", "garcons",
                   "homens", "homem", "masculino", "رجال", "ذكور"),
    (None, "_T"): ("total", "national", "overall", "ensemble", "nacional", "اجمالي"),
}  # fmt: skip


def fold(text: str) -> str:
    """Lower case without accents or Arabic short vowels: the form every comparison uses."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c not in _BIDI).replace("ـ", "")


def _month_names() -> dict[str, int]:
    """Month names and abbreviations in the bot's languages, folded → month number."""
    months: dict[str, int] = {}
    for language in ("en", "fr", "pt", "ar"):
        for width in ("wide", "abbreviated"):
            for number, name in get_month_names(width, locale=language).items():
                folded = fold(str(name)).rstrip(".")
                if len(folded) >= 3:
                    months.setdefault(folded, int(number))
    return months


_YEAR = r"((?:19|20)\d{2})"


@functools.cache
def _period_patterns() -> tuple[dict[str, int], tuple[tuple[re.Pattern[str], str], ...]]:
    """The month names and the period patterns, made at the first lookup: Babel's four locales
    take about half a second to load, which every process importing the catalogue (each
    `baraza` command, each test worker) would otherwise pay."""
    months = _month_names()
    names = "|".join(sorted((re.escape(name) for name in months), key=len, reverse=True))
    return months, (
        (re.compile(rf"(?<!\w){_YEAR}\s*-?\s*[qt]([1-4])(?!\w)"), "yq"),
        (re.compile(rf"(?<!\w)[qt]([1-4])\s*-?\s*{_YEAR}(?!\w)"), "qy"),
        (re.compile(rf"(?<!\w){_YEAR}-(0[1-9]|1[0-2])(?!\w)"), "ym"),
        (re.compile(rf"(?<!\w)({names})\.?\s+(?:de\s+)?{_YEAR}(?!\w)"), "my"),
        (re.compile(rf"(?<!\w){_YEAR}(?!\w)"), "y"),
    )


_LAST_YEAR = re.compile(
    r"last year|previous year|l\W?annee (?:derniere|precedente)|ano passado|ano anterior|العام الماضي|السنة الماضية"
)
_THIS_YEAR = re.compile(r"this year|cette annee|este ano|هذا العام|هذه السنة")


def words(text: str, language: str | None = None) -> list[str]:
    """The folded words of ``text`` (``CPI_YOY`` gives ``cpi``, ``yoy``), without the stopwords
    of ``language`` (none left out when it is None)."""
    stopwords = STOPWORDS.get(language or "", frozenset())
    out = []
    for word in re.findall(r"[^\W_]+", fold(text)):
        # Arabic article: "النساء" is "نساء".
        if word.startswith("ال") and len(word) > 4:
            word = word[2:]
        if word not in stopwords:
            out.append(word)
    return out


def read_period(text: str, today: date) -> tuple[str | None, str]:
    """The period named in ``text`` as an SDMX period (``2024``, ``2024-03``, ``2024-Q3``), or
    None, and the folded text without it."""
    folded = fold(text)
    months, patterns = _period_patterns()
    for pattern, kind in patterns:
        found = pattern.search(folded)
        if found is None:
            continue
        rest = folded[: found.start()] + " " + folded[found.end() :]
        if kind == "yq":
            return f"{found.group(1)}-Q{found.group(2)}", rest
        if kind == "qy":
            return f"{found.group(2)}-Q{found.group(1)}", rest
        if kind == "ym":
            return f"{found.group(1)}-{found.group(2)}", rest
        if kind == "my":
            return f"{found.group(2)}-{months[found.group(1)]:02d}", rest
        return found.group(1), rest
    for pattern, year in ((_LAST_YEAR, today.year - 1), (_THIS_YEAR, today.year)):
        found = pattern.search(folded)
        if found is not None:
            return str(year), folded[: found.start()] + " " + folded[found.end() :]
    return None, folded


# --------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class DimensionEntry:
    """A dimension of one indicator with the value codes its series use, in asking order."""

    id: str
    names: Multilingual
    values: tuple[str, ...]
    labels: Mapping[str, Multilingual]

    def label(self, code: str, language: str) -> str:
        return in_language(self.labels.get(code, {}), language) or code

    def name(self, language: str) -> str:
        return in_language(self.names, language) or self.id


@dataclass(frozen=True)
class IndicatorEntry:
    """An indicator with its series and dimensions; ``position`` numbers it in button payloads."""

    position: int
    indicator: Indicator
    series: tuple[Series, ...]
    dimensions: tuple[DimensionEntry, ...]

    def dimension(self, dimension_id: str) -> DimensionEntry | None:
        return next((d for d in self.dimensions if d.id == dimension_id), None)


@dataclass(frozen=True)
class Candidate:
    """An indicator that may be what the user asked for, and the dimension values they named."""

    entry: IndicatorEntry
    score: float
    selection: Mapping[str, str] = field(default_factory=dict)
    #: words naming a breakdown this indicator is not published by ("northern" for national-only
    #: inflation), so the answer can say so rather than silently give the total
    not_published_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Match:
    """What a question asked for: candidates best first (at most :data:`MAX_CANDIDATES`)."""

    candidates: tuple[Candidate, ...]
    period: str | None

    @property
    def best(self) -> Candidate | None:
        """The candidate to answer directly, or None when the user should choose."""
        if not self.candidates:
            return None
        first = self.candidates[0]
        if first.score < CONFIDENT_SCORE:
            return None
        if len(self.candidates) > 1 and self.candidates[1].score > first.score - CONFIDENT_LEAD:
            return None
        return first


@dataclass(frozen=True)
class Narrowed:
    """The series that fit a selection, and the next dimension to ask (None: answer now)."""

    series: tuple[Series, ...]
    ask: DimensionEntry | None = None
    #: the codes of ``ask`` present among ``series``, in the order to show them
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Phrase:
    """One way to name the indicator numbered ``indicator``: its words in ``language`` (None: any)."""

    indicator: int
    language: str | None
    words: frozenset[str]


#: (value code, its words, or the label itself when all its words are stopwords, and its length:
#: the longest label named wins, "Northern Province" over "Northern")
_ValuePhrase = tuple[str, frozenset[str], str | None, int]


def _value_phrases(dimension: DimensionEntry) -> list[_ValuePhrase]:
    """Every way of naming a value of ``dimension``.

    A label made only of stopwords (French "Est", East, is also "is") is matched literally, with
    its capital, so that "quel est le taux" does not mean the East.
    """
    phrases: list[_ValuePhrase] = []
    for code in dimension.values:
        texts: list[tuple[str | None, str]] = list(dimension.labels.get(code, {}).items())
        texts += [(None, word) for word in COMMON_VALUE_WORDS.get((dimension.id, code), ())]
        if code in TOTAL_CODES:
            texts += [(None, word) for word in COMMON_VALUE_WORDS[(None, "_T")]]
        for language, text in texts:
            found = frozenset(words(text, language))
            if found:
                phrases.append((code, found, None, sum(len(word) for word in found)))
            elif text.strip():
                phrases.append((code, frozenset(), text.strip(), len(text.strip())))
    return phrases


def _order(values: Iterable[str], metadata_order: Iterable[str]) -> tuple[str, ...]:
    """Totals first, then the metadata's order, then codes the metadata does not list."""
    listed = list(metadata_order)
    rank = {code: index for index, code in enumerate(listed)}
    return tuple(sorted(set(values), key=lambda code: (code not in TOTAL_CODES, rank.get(code, len(listed)), code)))


class CatalogueIndex:
    """The search structures of one catalogue load; immutable once built."""

    def __init__(self, snapshot: CatalogueSnapshot) -> None:
        self.snapshot = snapshot
        self.load_id = snapshot.load_id
        entries: list[IndicatorEntry] = []
        for position, code in enumerate(sorted(snapshot.indicators)):
            indicator = snapshot.indicators[code]
            series = snapshot.series_of(code)
            entries.append(IndicatorEntry(position, indicator, series, _dimensions(indicator, series)))
        self.entries: tuple[IndicatorEntry, ...] = tuple(entries)
        self.by_code: Mapping[str, IndicatorEntry] = {entry.indicator.code: entry for entry in entries}
        self.series_by_id: Mapping[int, tuple[IndicatorEntry, Series]] = {
            series.id: (entry, series) for entry in entries for series in entry.series
        }
        phrases: list[_Phrase] = []
        for entry in entries:
            indicator = entry.indicator
            phrases.append(_Phrase(entry.position, None, frozenset(words(indicator.code))))
            for language, name in indicator.names.items():
                phrases.append(_Phrase(entry.position, language, frozenset(words(name, language))))
            for language, synonyms in indicator.synonyms.items():
                phrases.extend(_Phrase(entry.position, language, frozenset(words(s, language))) for s in synonyms)
        self._phrases = [phrase for phrase in phrases if phrase.words]
        self._indicator_words: dict[int, frozenset[str]] = {}
        for phrase in self._phrases:
            self._indicator_words[phrase.indicator] = (
                self._indicator_words.get(phrase.indicator, frozenset()) | phrase.words
            )
        self._postings: dict[str, list[int]] = {}
        for number, phrase in enumerate(self._phrases):
            for word in phrase.words:
                self._postings.setdefault(word, []).append(number)
        total = max(len(self._phrases), 1)
        self._weights = {word: math.log(1 + total / len(ids)) for word, ids in self._postings.items()}
        self._totals = [sum(self._weights[w] for w in phrase.words) for phrase in self._phrases]
        self._value_phrases: dict[int, list[tuple[str, list[_ValuePhrase]]]] = {}
        vocabulary = set(self._postings)
        value_words_seen: set[str] = set()
        total_words: set[str] = set()
        for entry in entries:
            per_dimension = [(d.id, _value_phrases(d)) for d in entry.dimensions]
            self._value_phrases[entry.position] = per_dimension
            for _, value_phrases in per_dimension:
                for code, value_words, _, _ in value_phrases:
                    vocabulary |= value_words
                    (total_words if code in TOTAL_CODES else value_words_seen).update(value_words)
        # Words that name a breakdown somewhere in the catalogue (not a total, not an indicator).
        self._breakdown_words = frozenset(value_words_seen - total_words - set(self._postings))
        self._vocabulary = sorted(vocabulary)
        self._known = frozenset(vocabulary)
        by_language: dict[str, set[str]] = {}
        for phrase in self._phrases:
            if phrase.language is not None:
                by_language.setdefault(phrase.language, set()).update(phrase.words)
        self._language_vocabulary = {
            language: {"set": frozenset(found), "list": sorted(found)} for language, found in by_language.items()
        }

    # ------------------------------------------------------------------ matching

    def understand(self, text: str, language: str) -> dict[str, float]:
        """The words of ``text`` mapped to catalogue words, with how sure each is (1.0: as typed)."""
        found: dict[str, float] = {}
        for readings in self._readings(text, language):
            for word, sureness in readings.items():
                found[word] = max(found.get(word, 0.0), sureness)
        return found

    def _readings(self, text: str, language: str) -> list[dict[str, float]]:
        """For each typed word, the catalogue words it may stand for and how sure each is.

        A word the catalogue does not have stands for every catalogue word nearly as close as
        the closest ("cototn": "coton" and "cotton"), so a typo cannot pick the wrong language;
        a catalogue word of another language than the user's also stands for its look-alikes in
        the user's language ("tomates" asked in English: "tomatoes").
        """
        own = self._language_vocabulary.get(language)
        readings: list[dict[str, float]] = []
        for word in words(text, language):
            reading = {word: 1.0}
            if word in self._known or any(c.isdigit() for c in word) or len(word) < 4:
                if own and word in self._known and word not in own["set"] and len(word) >= 4:
                    for known, score, _ in process.extract(
                        word, own["list"], scorer=fuzz.ratio, score_cutoff=78, limit=2
                    ):
                        reading[known] = max(reading.get(known, 0.0), score / 100)
                readings.append(reading)
                continue
            close = process.extract(
                word, self._vocabulary, scorer=fuzz.ratio, score_cutoff=85 if len(word) < 6 else 78, limit=4
            )
            if close:
                reading = {known: score / 100 for known, score, _ in close if score >= close[0][1] - NEAR_TIE}
            else:
                # "south" for "southern": the start of a catalogue word.
                longer = [known for known in self._vocabulary if known.startswith(word)]
                if longer:
                    reading = {min(longer, key=len): PREFIX_SURENESS}
            readings.append(reading)
        return readings

    def match(self, text: str, language: str, today: date) -> Match:
        """The indicators ``text`` may ask for (in ``language``), best first, with the period."""
        period, rest = read_period(text, today)
        readings = self._readings(rest, language)
        understood: dict[str, float] = {}
        for reading in readings:
            for word, sureness in reading.items():
                understood[word] = max(understood.get(word, 0.0), sureness)
        # Each phrase's covered weight, summed word by word over the postings.
        covered: dict[int, float] = {}
        for word, sureness in understood.items():
            weight = self._weights.get(word)
            if weight is None:
                continue
            for number in self._postings[word]:
                covered[number] = covered.get(number, 0.0) + weight * sureness
        scores: dict[int, float] = {}
        for number, weight in covered.items():
            phrase = self._phrases[number]
            score = weight / self._totals[number]
            if phrase.language is not None and phrase.language != language:
                score *= OTHER_LANGUAGE
            if score > scores.get(phrase.indicator, 0.0):
                scores[phrase.indicator] = score
        ranked = sorted(
            ((score, position) for position, score in scores.items() if score >= MIN_SCORE),
            key=lambda item: (-item[0], self.entries[item[1]].indicator.code),
        )
        # Words that name some indicator: one that leaves some of them unexplained ("chômage"
        # for "chômage des jeunes") ranks below one that explains them all.
        # A typed word counts once, however many catalogue words it may stand for.
        asked = [
            (frozenset(reading), max(self._weights[w] for w in reading if w in self._weights))
            for reading in readings
            if any(w in self._weights for w in reading)
        ]
        asked_weight = sum(weight for _, weight in asked)
        candidates: list[Candidate] = []
        for score, position in ranked[: MAX_CANDIDATES * 3]:
            # Penalties only lower a score: once five candidates beat this one's raw score, stop.
            if len(candidates) >= MAX_CANDIDATES and score < sorted(c.score for c in candidates)[-MAX_CANDIDATES]:
                break
            entry = self.entries[position]
            selection, explained = self._selection(entry, understood, text)
            explained |= self._indicator_words[position]
            unexplained = sum(weight for reading, weight in asked if not reading & explained)
            score *= 1 - UNEXPLAINED_PENALTY * unexplained / asked_weight if asked_weight else 1
            missing = tuple(
                max(breakdown, key=lambda word: reading[word])
                for reading in readings
                if (breakdown := [w for w in reading if w in self._breakdown_words]) and not reading.keys() & explained
            )
            candidates.append(Candidate(entry, score, selection, missing))
        candidates.sort(key=lambda c: (-c.score, c.entry.indicator.code))
        return Match(tuple(c for c in candidates[:MAX_CANDIDATES] if c.score >= MIN_SCORE), period)

    def selection_in(self, entry: IndicatorEntry, understood: Mapping[str, float], text: str = "") -> dict[str, str]:
        """The dimension values of ``entry`` named by the ``understood`` words, kept only while
        some series still has them all."""
        return self._selection(entry, understood, text)[0]

    def _selection(
        self, entry: IndicatorEntry, understood: Mapping[str, float], text: str
    ) -> tuple[dict[str, str], set[str]]:
        selection: dict[str, str] = {}
        explained: set[str] = set()
        known = frozenset(understood)
        for dimension_id, value_phrases in self._value_phrases.get(entry.position, []):
            best: tuple[int, str, frozenset[str]] | None = None
            for code, value_words, literal, size in value_phrases:
                if best is not None and size <= best[0]:
                    continue
                if literal is None:
                    named = value_words <= known
                else:
                    named = re.search(rf"(?<!\w){re.escape(literal)}(?!\w)", text) is not None
                if named:
                    best = (size, code, value_words)
            if best is None:
                continue
            trial = {**selection, dimension_id: best[1]}
            if any(_fits(series, trial) for series in entry.series):
                selection = trial
                explained |= best[2]
        return selection, explained

    def narrow(self, entry: IndicatorEntry, selection: Mapping[str, str]) -> Narrowed:
        """The series of ``entry`` that fit ``selection`` and the first dimension that still varies."""
        fitting = tuple(series for series in entry.series if _fits(series, selection))
        for dimension in entry.dimensions:
            if dimension.id in selection:
                continue
            present = {series.dimensions.get(dimension.id, "") for series in fitting}
            if len(present) > 1:
                return Narrowed(fitting, dimension, tuple(c for c in dimension.values if c in present))
        return Narrowed(fitting)


def _fits(series: Series, selection: Mapping[str, str]) -> bool:
    return all(series.dimensions.get(key) == code for key, code in selection.items())


def _dimensions(indicator: Indicator, series: tuple[Series, ...]) -> tuple[DimensionEntry, ...]:
    """The indicator's dimensions in its metadata's order, then any others its series vary by."""
    used: dict[str, set[str]] = {}
    for item in series:
        for key, code in item.dimensions.items():
            used.setdefault(key, set()).add(code)
    entries = []
    described = {d.id: d for d in indicator.dimensions}
    for dimension_id in [d.id for d in indicator.dimensions] + sorted(set(used) - set(described)):
        meta = described.get(dimension_id)
        values = _order(used.get(dimension_id, set()), meta.values if meta else ())
        entries.append(
            DimensionEntry(
                id=dimension_id,
                names=meta.names if meta else {},
                values=values,
                labels={code: meta.values[code] for code in values if meta and code in meta.values},
            )
        )
    return tuple(entries)
