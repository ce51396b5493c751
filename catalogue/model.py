"""Indicator values as the rest of Baraza sees them: frozen, channel- and storage-agnostic.

An *indicator* (``CPI_YOY``: "Inflation rate") has metadata from the office's metadata file and
one or more *series*: one per combination of dimension values (``REF_AREA=N, SEX=F``), each a
sequence of *observations* (``TIME_PERIOD`` → ``OBS_VALUE`` with an ``OBS_STATUS``).
Multilingual texts are mappings from a language code (``en``, ``fr``) to the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Generic, TypeVar

Multilingual = Mapping[str, str]
EntryT = TypeVar("EntryT")


def in_language(texts: Multilingual, language: str, fallback: str = "en") -> str:
    """The text in ``language``, else in ``fallback``, else in any language; "" when empty."""
    if language in texts:
        return texts[language]
    if fallback in texts:
        return texts[fallback]
    return next(iter(texts.values()), "")


class EntriesById(Generic[EntryT]):
    """What the glossary and the release calendar share: entries by id, in file order, whose texts
    fall back to the file's default language."""

    default_language: str

    @property
    def by_id(self) -> Mapping[str, EntryT]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, entry_id: str) -> EntryT | None:
        return self.by_id.get(entry_id)

    def text(self, texts: Multilingual, language: str) -> str:
        """The text in ``language``, else in the default language, else in any."""
        return in_language(texts, language, self.default_language)


@dataclass(frozen=True)
class Dimension:
    """A dimension of the data (``REF_AREA``) with its name and its values' labels per language."""

    id: str
    names: Multilingual = field(default_factory=dict)
    #: code → language → label, e.g. ``{"N": {"en": "Northern", "fr": "Nord"}}``
    values: Mapping[str, Multilingual] = field(default_factory=dict)


@dataclass(frozen=True)
class Indicator:
    """One indicator's metadata: what a dissemination team writes once per indicator."""

    code: str
    names: Multilingual
    topic: str | None = None
    synonyms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    descriptions: Multilingual = field(default_factory=dict)
    unit: Multilingual = field(default_factory=dict)
    decimals: int = 1
    #: the SDMX dataflow the observations come from (``DF_CPI``) and the measure's code in it
    dataflow: str | None = None
    #: the release that published the figures, and when; and where to read more
    source: Multilingual = field(default_factory=dict)
    release: Multilingual = field(default_factory=dict)
    release_date: date | None = None
    link: str | None = None
    #: the dimensions its series vary by (``REF_AREA``, ``SEX``...), in the order to ask them
    dimensions: tuple[Dimension, ...] = ()


@dataclass(frozen=True)
class Observation:
    """The value of a series in one ``period`` (``2026-09``, ``2025-Q3``, ``2025``); None: not available."""

    period: str
    value: float | None
    #: SDMX ``OBS_STATUS``: ``A`` normal, ``P`` provisional, ``E`` estimated, ``F`` forecast...
    status: str | None = None


@dataclass(frozen=True)
class Series:
    """One series of an indicator as stored (its observations are read on demand)."""

    id: int
    indicator_code: str
    key: str
    dimensions: Mapping[str, str]
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SeriesData:
    """One series with its observations, as a loader produces it for the store."""

    indicator_code: str
    key: str
    dimensions: Mapping[str, str]
    observations: tuple[Observation, ...]
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogueSnapshot:
    """Everything needed to match a question to series, without the observations.

    ``load_id`` names the load it came from: a reader holding a snapshot sees one load only.
    """

    load_id: int
    indicators: Mapping[str, Indicator]
    series: Mapping[str, tuple[Series, ...]]

    def series_of(self, indicator_code: str) -> tuple[Series, ...]:
        return self.series.get(indicator_code, ())
