"""SDMX-ML (2.1 generic and structure-specific) and SDMX-JSON data messages → series, via sdmx1.

sdmx1 parses the whole message; we walk its data sets. The dataflow a message belongs to is
the one its structure reference names (``NAMA_10_GDP``), unless the source in ``config.yaml``
names it (SDMX-JSON messages often do not say). Without the data structure definition a
structure-specific message does not tell dimensions from series attributes, so the metadata's
``dimensions`` for the dataflow decide, else the known SDMX attribute ids (UNIT_MEASURE...).
The parsers give no line numbers: problems name the file and the series key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from catalogue.metadata import Metadata, dataflow_id
from catalogue.model import Observation
from catalogue.raw import KNOWN_ATTRIBUTES, STATUS, TIME_DIMENSION, RawSeries, normal_period, number
from common.problems import ProblemLog

SDMX_ML_SUFFIXES = (".xml", ".sdmx")
SDMX_JSON_SUFFIXES = (".json",)


def read_sdmx_message(
    path: Path, metadata: Metadata, log: ProblemLog, *, dataflow: str | None = None
) -> Iterator[RawSeries]:
    """The series of an SDMX-ML or SDMX-JSON data message; problems go to ``log``.

    ``dataflow`` overrides the dataflow named in the message. Nothing is yielded if the file
    has a problem.
    """
    import sdmx  # heavy (pandas); imported only when such a file is configured

    name = str(path)
    before = log.count
    try:
        # sdmx1 logs a warning for every attribute without values; they say nothing to us.
        with _quiet_sdmx():
            message = sdmx.read_sdmx(path)
    except FileNotFoundError:
        log.add(name, 0, "the file does not exist")
        return
    except Exception as error:  # sdmx1 raises many types for a malformed message
        log.add(name, 0, f"not a readable SDMX-ML or SDMX-JSON data message: {type(error).__name__}: {error}")
        return
    data_sets = getattr(message, "data", None)
    if data_sets is None:
        log.add(name, 0, f"this is an SDMX {type(message).__name__}, not a data message")
        return
    found: list[RawSeries] = []
    for data_set in data_sets:
        reference = dataflow or _structure_id(data_set)
        if not reference:
            log.add(name, 0, "the message does not name its dataflow: give `dataflow:` for this source in config.yaml")
            return
        flow = dataflow_id(reference)
        spec = metadata.dataflows.get(flow)
        if spec is None:
            known = ", ".join(sorted(metadata.dataflows)) or "none"
            log.add(name, 0, f"dataflow {flow} is not in the metadata file (dataflows: {known})")
            return
        found.extend(_series_of(name, flow, spec.dimensions, data_set, log))
    if log.count > before:
        return
    if not found:
        log.add(name, 0, "the message has no observations")
        return
    yield from found


class _quiet_sdmx:
    def __enter__(self) -> None:
        self.logger = logging.getLogger("sdmx")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *_: object) -> None:
        self.logger.setLevel(self.level)


def _structure_id(data_set: Any) -> str | None:
    for candidate in (getattr(data_set, "described_by", None), getattr(data_set, "structured_by", None)):
        identifier = getattr(candidate, "id", None)
        if identifier and identifier != "(missing id)":
            return str(identifier)
    return None


def _text(attribute_value: Any) -> str:
    value = getattr(attribute_value, "value", attribute_value)
    return str(getattr(value, "id", value))


def _split(codes: Mapping[str, str], declared: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Key values → (dimensions, attributes), by the declared dimensions or the known attributes."""
    dimensions: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for dimension, code in codes.items():
        if dimension == TIME_DIMENSION:
            continue
        is_dimension = dimension in declared if declared else dimension not in KNOWN_ATTRIBUTES
        (dimensions if is_dimension else attributes)[dimension] = code
    if declared:
        dimensions = {d: dimensions[d] for d in declared if d in dimensions}
    return dimensions, attributes


def _series_of(name: str, flow: str, declared: tuple[str, ...], data_set: Any, log: ProblemLog) -> list[RawSeries]:
    grouped: dict[tuple[str, ...], tuple[dict[str, str], dict[str, str], dict[str, Observation]]] = {}
    set_attributes = {a: _text(v) for a, v in getattr(data_set, "attrib", {}).items()}
    for observation in data_set.obs:
        key_values: dict[str, str] = {}
        series_key = getattr(observation, "series_key", None)
        series_attributes: dict[str, str] = dict(set_attributes)
        if series_key is not None:
            key_values.update({k: str(v.value) for k, v in series_key.values.items()})
            series_attributes.update({a: _text(v) for a, v in series_key.attrib.items()})
        key_values.update({k: str(v.value) for k, v in observation.key.values.items()})
        dimensions, key_attributes = _split(key_values, declared)
        series_attributes.update(key_attributes)
        key = ".".join(dimensions.values())
        missing = [d for d in declared if d not in dimensions]
        if missing:
            log.add(name, 0, f"series {key} of {flow} has no {', '.join(missing)}")
            continue
        if TIME_DIMENSION not in key_values:
            log.add(name, 0, f"series {key} of {flow}: an observation has no TIME_PERIOD")
            continue
        period = normal_period(key_values[TIME_DIMENSION])
        if period is None:
            log.add(name, 0, f"series {key} of {flow}: TIME_PERIOD {key_values[TIME_DIMENSION]!r} is not a period")
            continue
        ok, value = number("" if observation.value is None else str(observation.value))
        if not ok:
            log.add(name, 0, f"series {key} of {flow}, {period}: OBS_VALUE {observation.value!r} is not a number")
            continue
        attached = {a: _text(v) for a, v in observation.attached_attribute.items()}
        status = attached.pop(STATUS, None)
        entry = grouped.setdefault(tuple(dimensions.values()), (dimensions, {}, {}))
        entry[1].update({a: t for a, t in series_attributes.items() if a not in entry[1]})
        if period in entry[2]:
            log.add(name, 0, f"series {key} of {flow} has the period {period} twice")
            continue
        entry[2][period] = Observation(period, value, status)
    return [
        RawSeries(flow, dimensions, attributes, tuple(obs[p] for p in sorted(obs)), name, 0)
        for dimensions, attributes, obs in grouped.values()
    ]
