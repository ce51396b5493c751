"""The indicator metadata file (YAML): what each indicator is called, its unit, source and release.

The dissemination team writes it once per indicator; the SDMX data files give the numbers. The
format is documented in ``office/indicators/README.md``. In short::

    default_language: en
    dimensions:                      # labels of dimensions and codes, shared by all dataflows
      REF_AREA:
        names: {en: Region, fr: Région}
        values: {N: {en: Northern, fr: Nord}}
    dataflows:
      DF_PRICES:
        dimensions: [FREQ, INDICATOR, REF_AREA]   # optional; the other columns are attributes
        indicator_dimension: INDICATOR            # the column whose code names the indicator
    indicators:
      - code: CPI_YOY                # also the INDICATOR code in DF_PRICES unless `series:` says
        dataflow: DF_PRICES
        names: {en: Inflation rate, fr: Taux d'inflation}
        ...

Every problem is reported as ``FILE:LINE: message`` and all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from catalogue.errors import CatalogueError, catalogue_problems
from catalogue.model import Dimension, Indicator
from common.safe_yaml import NodeReader, compose_file, read_file

#: The topics of ``handlers/context.py`` (what people follow) plus education.
KNOWN_TOPICS = ("prices", "labour", "population", "national_accounts", "agriculture", "health", "education")
MAX_FILE_BYTES = 20_000_000
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
SDMX_ID = re.compile(r"^[A-Za-z0-9_@$-]+$")

#: Labels for the frequency codes of SDMX's CL_FREQ (in en, fr, pt), so FREQ needs no entry in every file.
FREQ_LABELS: dict[str, dict[str, str]] = {
    code: dict(zip(("en", "fr", "pt"), labels, strict=True))
    for code, labels in (
        ("A", ("Annual", "Annuel", "Anual")),
        ("S", ("Half-yearly", "Semestriel", "Semestral")),
        ("Q", ("Quarterly", "Trimestriel", "Trimestral")),
        ("M", ("Monthly", "Mensuel", "Mensal")),
        ("W", ("Weekly", "Hebdomadaire", "Semanal")),
        ("D", ("Daily", "Quotidien", "Diário")),
    )
}
FREQ = Dimension("FREQ", {"en": "Frequency", "fr": "Fréquence", "pt": "Frequência"}, FREQ_LABELS)

ROOT_KEYS = {"default_language", "dimensions", "dataflows", "indicators"}
DIMENSION_KEYS = {"names", "values"}
DATAFLOW_KEYS = {"dimensions", "indicator_dimension", "names"}
INDICATOR_KEYS = {
    "code",
    "names",
    "synonyms",
    "descriptions",
    "topic",
    "unit",
    "decimals",
    "source",
    "release",
    "release_date",
    "link",
    "dataflow",
    "series",
    "dimensions",
}


@dataclass(frozen=True)
class DataflowSpec:
    """What the metadata says of one SDMX dataflow."""

    id: str
    #: the dataflow's dimension ids in key order; empty: not declared (columns that are not
    #: known SDMX attributes are taken as dimensions)
    dimensions: tuple[str, ...] = ()
    #: the dimension whose code says which indicator a series belongs to (``INDICATOR``)
    indicator_dimension: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IndicatorSpec:
    """An indicator and which series of its dataflow are its own."""

    indicator: Indicator
    dataflow: str
    #: dimension → code every series of the indicator has (``{"INDICATOR": "CPI_YOY"}``)
    select: Mapping[str, str]
    #: the order in which to ask the dimensions (empty: the dataflow's order)
    dimension_order: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Metadata:
    """A checked metadata file."""

    path: str
    default_language: str
    dimensions: Mapping[str, Dimension]
    dataflows: Mapping[str, DataflowSpec]
    indicators: tuple[IndicatorSpec, ...]
    _by_flow: dict[str, list[IndicatorSpec]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for spec in self.indicators:
            self._by_flow.setdefault(spec.dataflow, []).append(spec)

    def dataflow(self, reference: str) -> DataflowSpec | None:
        """The dataflow named by ``reference``: ``DF_CPI`` or an SDMX reference ``NSO:DF_CPI(1.0)``."""
        return self.dataflows.get(dataflow_id(reference))

    def match(self, dataflow: str, codes: Mapping[str, str]) -> IndicatorSpec | None:
        """The indicator whose ``series`` selection the series with these codes satisfies."""
        for spec in self._by_flow.get(dataflow, ()):
            if all(codes.get(dimension) == code for dimension, code in spec.select.items()):
                return spec
        return None

    def dimension(self, dimension_id: str) -> Dimension:
        """The labels of a dimension (FREQ has built-in labels); an unlabelled one has none."""
        if dimension_id in self.dimensions:
            return self.dimensions[dimension_id]
        if dimension_id == "FREQ":
            return FREQ
        return Dimension(dimension_id)


def dataflow_id(reference: str) -> str:
    """``NSO:DF_CPI(1.0)`` → ``DF_CPI``; a plain id is returned unchanged."""
    text = reference.strip()
    if "=" in text:  # a URN: urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow=NSO:DF_CPI(1.0)
        text = text.rsplit("=", 1)[1]
    if ":" in text:
        text = text.split(":", 1)[1]
    return text.split("(", 1)[0].strip()


# --------------------------------------------------------------------------- reading


class _Reader(NodeReader):
    """Walks the YAML node tree so every problem can name its line."""

    def __init__(self, path: str, loader: yaml.SafeLoader, default_language: str) -> None:
        super().__init__(path, loader, catalogue_problems())
        self.default_language = default_language

    def mapping(self, node: Node, what: str, known: Collection[str] | None = None) -> dict[str, tuple[Node, Node]]:
        """As :meth:`NodeReader.mapping`, but no entries (rather than None) when it is not a mapping."""
        entries = super().mapping(node, what, known)
        return {} if entries is None else entries

    def identifier(self, node: Node, what: str) -> str | None:
        text = self.string(node, what)
        if text is not None and not SDMX_ID.match(text):
            self.problem(node, f"{what} '{text}' must be an SDMX id (letters, digits, _ @ $ -)")
            return None
        return text

    def texts(self, node: Node, what: str, *, required_default: bool = True) -> dict[str, str]:
        """A text (in the default language) or a mapping of languages to texts."""
        if isinstance(node, ScalarNode):
            text = self.string(node, what)
            return {} if text is None else {self.default_language: text}
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a text or a mapping of languages to texts")
            return {}
        texts: dict[str, str] = {}
        for language, (key_node, value_node) in self.mapping(node, what).items():
            if not LANGUAGE.match(language):
                self.problem(key_node, f"'{language}' in {what} is not a language code such as en or fr")
                continue
            text = self.string(value_node, f"{what} in '{language}'")
            if text is not None:
                texts[language] = text
        if required_default and texts and self.default_language not in texts:
            self.problem(node, f"{what} has no text in the default language '{self.default_language}'")
        return texts

    def by_identifier(
        self, entries: dict[str, tuple[Node, Node]], key: str, what: str
    ) -> Iterator[tuple[str, Node, Node]]:
        """The id, key node and value node of each entry of the mapping under ``key`` (none if
        absent), in file order; a key that is not an SDMX id is a problem, left out."""
        if key not in entries:
            return
        for name, (key_node, node) in self.mapping(entries[key][1], key).items():
            if SDMX_ID.match(name):
                yield name, key_node, node
            else:
                self.problem(key_node, f"{what} '{name}' must be an SDMX id (letters, digits, _ @ $ -)")

    def identifiers(self, node: Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list such as [FREQ, REF_AREA]")
            return ()
        items = [self.identifier(item, f"an entry of {what}") for item in node.value]
        names = [item for item in items if item is not None]
        if len(set(names)) != len(names):
            self.problem(node, f"{what} names a dimension twice")
        return tuple(dict.fromkeys(names))

    def synonyms(self, node: Node, what: str) -> dict[str, tuple[str, ...]]:
        result: dict[str, tuple[str, ...]] = {}
        for language, (key_node, value_node) in self.mapping(node, what).items():
            if not LANGUAGE.match(language):
                self.problem(key_node, f"'{language}' in {what} is not a language code such as en or fr")
                continue
            if not isinstance(value_node, SequenceNode):
                self.problem(value_node, f"{what} in '{language}' must be a list of words or phrases")
                continue
            words = [self.string(item, f"a synonym in '{language}'") for item in value_node.value]
            result[language] = tuple(dict.fromkeys(w for w in words if w is not None))
        return result


def load_metadata_file(path: Path, *, topics: Collection[str] = KNOWN_TOPICS) -> Metadata:
    """Read and check a metadata file; raises :class:`CatalogueError` listing every problem."""
    return load_metadata_text(read_file(path, MAX_FILE_BYTES, CatalogueError), str(path), topics=topics)


def load_metadata_text(text: str, path: str, *, topics: Collection[str] = KNOWN_TOPICS) -> Metadata:
    loader, root = compose_file(text, path, CatalogueError, empty="the metadata file is empty")
    reader = _Reader(path, loader, "en")
    metadata = _read(reader, root, topics)
    reader.log.raise_if_any()
    assert metadata is not None
    return metadata


def _read(reader: _Reader, root: Node, topics: Collection[str]) -> Metadata | None:
    entries = reader.mapping(root, "the metadata file", ROOT_KEYS)
    if "default_language" in entries:
        key_node, node = entries["default_language"]
        language = reader.string(node, "default_language")
        if language is not None and not LANGUAGE.match(language):
            reader.problem(node, f"default_language '{language}' is not a language code such as en or fr")
        elif language is not None:
            reader.default_language = language
    dimensions = {
        dimension_id: _dimension(reader, dimension_id, node)
        for dimension_id, _, node in reader.by_identifier(entries, "dimensions", "dimension")
    }
    dataflows: dict[str, DataflowSpec] = {}
    dataflow_lines: dict[str, Node] = {}
    for flow_id, key_node, node in reader.by_identifier(entries, "dataflows", "dataflow"):
        dataflows[flow_id] = _dataflow(reader, flow_id, node)
        dataflow_lines[flow_id] = key_node
    if "indicators" not in entries:
        reader.problem(root, "the metadata file has no 'indicators' list")
        return None
    indicators_node = entries["indicators"][1]
    if not isinstance(indicators_node, SequenceNode):
        reader.problem(indicators_node, "'indicators' must be a list of indicators (- code: ...)")
        return None
    specs: list[IndicatorSpec] = []
    codes: dict[str, int] = {}
    selections: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}
    for node in indicators_node.value:
        spec = _indicator(reader, node, dataflows, topics)
        if spec is None:
            continue
        code = spec.indicator.code
        if code in codes:
            reader.problem(node, f"indicator '{code}' is described twice (first at line {codes[code]})")
            continue
        codes[code] = spec.line
        selection = (spec.dataflow, tuple(sorted(spec.select.items())))
        if selection in selections:
            reader.problem(
                node, f"indicator '{code}' selects the same series of {spec.dataflow} as '{selections[selection]}'"
            )
            continue
        selections[selection] = code
        specs.append(spec)
    if not specs and not reader.log:
        reader.problem(indicators_node, "the metadata file describes no indicator")
    for flow_id, key_node in dataflow_lines.items():
        flow = dataflows[flow_id]
        flow_specs = _by_flow(specs, flow_id)
        if flow.indicator_dimension is None and len(flow_specs) > 1 and any(not spec.select for spec in flow_specs):
            reader.problem(
                key_node,
                f"dataflow {flow_id} has several indicators: give it an indicator_dimension "
                "or give each indicator a 'series' selection",
            )
    return Metadata(reader.path, reader.default_language, dimensions, dataflows, tuple(specs))


def _by_flow(specs: list[IndicatorSpec], flow_id: str) -> list[IndicatorSpec]:
    return [spec for spec in specs if spec.dataflow == flow_id]


def _dimension(reader: _Reader, dimension_id: str, node: Node) -> Dimension:
    entries = reader.mapping(node, f"dimension {dimension_id}", DIMENSION_KEYS)
    names = reader.texts(entries["names"][1], f"the names of {dimension_id}") if "names" in entries else {}
    values: dict[str, dict[str, str]] = {}
    if "values" in entries:
        for code, (_key, value_node) in reader.mapping(entries["values"][1], f"the codes of {dimension_id}").items():
            values[code] = reader.texts(value_node, f"the label of {dimension_id} {code}")
    return Dimension(dimension_id, names, values)


def _dataflow(reader: _Reader, flow_id: str, node: Node) -> DataflowSpec:
    if isinstance(node, ScalarNode) and reader.value(node) is None:
        return DataflowSpec(flow_id)
    entries = reader.mapping(node, f"dataflow {flow_id}", DATAFLOW_KEYS)
    dimensions = (
        reader.identifiers(entries["dimensions"][1], f"the dimensions of {flow_id}") if "dimensions" in entries else ()
    )
    indicator_dimension = None
    if "indicator_dimension" in entries:
        value_node = entries["indicator_dimension"][1]
        indicator_dimension = reader.identifier(value_node, f"the indicator_dimension of {flow_id}")
        if indicator_dimension is not None and dimensions and indicator_dimension not in dimensions:
            reader.problem(
                value_node, f"indicator_dimension {indicator_dimension} is not one of the dimensions of {flow_id}"
            )
    names = reader.texts(entries["names"][1], f"the names of {flow_id}") if "names" in entries else {}
    for reserved in ("TIME_PERIOD", "OBS_VALUE"):
        if reserved in dimensions:
            reader.problem(
                entries["dimensions"][1], f"{reserved} is not a dimension to list for {flow_id}: it is always read"
            )
    return DataflowSpec(flow_id, dimensions, indicator_dimension, names)


def _indicator(
    reader: _Reader, node: Node, dataflows: Mapping[str, DataflowSpec], topics: Collection[str]
) -> IndicatorSpec | None:
    entries = reader.mapping(node, "an indicator", INDICATOR_KEYS)
    if not isinstance(node, MappingNode):
        return None
    line = node.start_mark.line + 1
    code = reader.identifier(entries["code"][1], "the indicator code") if "code" in entries else None
    if code is None:
        if "code" not in entries:
            reader.problem(node, "an indicator needs a 'code' (its id in the data, e.g. CPI_YOY)")
        return None
    what = f"indicator {code}"
    names: dict[str, str] = {}
    if "names" in entries:
        names = reader.texts(entries["names"][1], f"the names of {what}")
    else:
        reader.problem(node, f"{what} needs 'names' (at least in '{reader.default_language}')")
    topic = None
    if "topic" in entries:
        topic = reader.string(entries["topic"][1], f"the topic of {what}")
        if topic is not None and topic not in topics:
            reader.problem(entries["topic"][1], f"topic '{topic}' of {what} is not one of: {', '.join(topics)}")
    decimals = 1
    if "decimals" in entries:
        value = reader.value(entries["decimals"][1])
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 6:
            reader.problem(entries["decimals"][1], f"decimals of {what} must be a whole number from 0 to 6")
        else:
            decimals = value
    release_date = None
    if "release_date" in entries:
        value = reader.value(entries["release_date"][1])
        if isinstance(value, date):
            release_date = value
        else:
            try:
                release_date = date.fromisoformat(str(value))
            except ValueError:
                reader.problem(entries["release_date"][1], f"release_date of {what} must be a date such as 2026-11-10")
    link = None
    if "link" in entries:
        link = reader.string(entries["link"][1], f"the link of {what}")
        if link is not None and not re.match(r"^https?://\S+$", link):
            reader.problem(entries["link"][1], f"the link of {what} must be a web address (https://...)")
            link = None
    flow_id = None
    if "dataflow" in entries:
        flow_id = reader.identifier(entries["dataflow"][1], f"the dataflow of {what}")
        if flow_id is not None and flow_id not in dataflows:
            known = ", ".join(sorted(dataflows)) or "none"
            reader.problem(
                entries["dataflow"][1], f"dataflow {flow_id} of {what} is not in 'dataflows' (known: {known})"
            )
            flow_id = None
    else:
        reader.problem(node, f"{what} needs a 'dataflow' (the SDMX dataflow its figures come from)")
    if flow_id is None:
        return None
    flow = dataflows[flow_id]
    select: dict[str, str] = {}
    if "series" in entries:
        for dimension, (key_node, value_node) in reader.mapping(entries["series"][1], f"the series of {what}").items():
            text = reader.string(value_node, f"the {dimension} code in the series of {what}")
            if flow.dimensions and dimension not in flow.dimensions:
                reader.problem(key_node, f"{dimension} is not a dimension of {flow_id}")
            elif text is not None:
                select[dimension] = text
    if flow.indicator_dimension is not None:
        select.setdefault(flow.indicator_dimension, code)
    order = reader.identifiers(entries["dimensions"][1], f"the dimensions of {what}") if "dimensions" in entries else ()
    indicator = Indicator(
        code=code,
        names=names,
        topic=topic,
        synonyms=reader.synonyms(entries["synonyms"][1], f"the synonyms of {what}") if "synonyms" in entries else {},
        descriptions=reader.texts(entries["descriptions"][1], f"the description of {what}")
        if "descriptions" in entries
        else {},
        unit=reader.texts(entries["unit"][1], f"the unit of {what}") if "unit" in entries else {},
        decimals=decimals,
        dataflow=flow_id,
        source=reader.texts(entries["source"][1], f"the source of {what}") if "source" in entries else {},
        release=reader.texts(entries["release"][1], f"the release of {what}") if "release" in entries else {},
        release_date=release_date,
        link=link,
    )
    return IndicatorSpec(indicator, flow_id, select, order, line)


def with_dimensions(
    spec: IndicatorSpec, metadata: Metadata, varying: Collection[str], flow_order: list[str]
) -> Indicator:
    """The indicator with the dimensions its series vary by, labelled, in the order to ask them."""
    order = [d for d in spec.dimension_order if d in varying]
    order += [d for d in flow_order if d in varying and d not in order]
    order += sorted(d for d in varying if d not in order)
    return replace(spec.indicator, dimensions=tuple(metadata.dimension(d) for d in order))
