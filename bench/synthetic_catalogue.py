"""A synthetic catalogue of any size: metadata + SDMX-CSV files shaped like an office's.

``write_synthetic_catalogue(directory, series=10_000, observations=500)`` writes
``indicators x regions`` series (10 regions per indicator), ``observations`` monthly periods each,
one SDMX-CSV 1.0 file per dataflow of ``indicators_per_flow`` indicators, and the metadata file.
Values are a seeded random walk: the same arguments always write the same files.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from pathlib import Path

import yaml

REGIONS = ("R00", "R01", "R02", "R03", "R04", "R05", "R06", "R07", "R08", "R09")
TOPICS = ("prices", "labour", "population", "national_accounts", "agriculture", "health", "education")


@dataclass(frozen=True)
class SyntheticCatalogue:
    metadata: Path
    files: tuple[Path, ...]
    series: int
    observations: int


def _periods(count: int, first_year: int = 1980) -> list[str]:
    return [f"{first_year + i // 12}-{i % 12 + 1:02d}" for i in range(count)]


def write_synthetic_catalogue(
    directory: Path, *, series: int = 10_000, observations: int = 500, indicators_per_flow: int = 100, seed: int = 7
) -> SyntheticCatalogue:
    """Write the catalogue into ``directory``; ``series`` is rounded down to a multiple of 10."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    indicator_count = series // len(REGIONS)
    periods = _periods(observations)
    codes = [f"IND{i:05d}" for i in range(indicator_count)]
    flows: dict[str, list[str]] = {}
    for i, code in enumerate(codes):
        flows.setdefault(f"DF_SYN{i // indicators_per_flow:03d}", []).append(code)
    files = []
    for flow, flow_codes in flows.items():
        path = directory / f"{flow.lower()}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(
                ["DATAFLOW", "FREQ", "INDICATOR", "REF_AREA", "TIME_PERIOD", "OBS_VALUE", "UNIT_MEASURE", "OBS_STATUS"]
            )
            reference = f"SYN:{flow}(1.0)"
            for code in flow_codes:
                for region in REGIONS:
                    value = rng.uniform(10, 1000)
                    rows = []
                    for period in periods:
                        value *= 1 + rng.gauss(0.002, 0.01)
                        rows.append((reference, "M", code, region, period, f"{value:.2f}", "IX", "A"))
                    writer.writerows(rows)
        files.append(path)
    metadata = {
        "dataflows": {
            flow: {"dimensions": ["FREQ", "INDICATOR", "REF_AREA"], "indicator_dimension": "INDICATOR"}
            for flow in flows
        },
        "indicators": [
            {
                "code": code,
                "dataflow": flow,
                "topic": TOPICS[i % len(TOPICS)],
                "names": {"en": f"Synthetic indicator {code}", "fr": f"Indicateur synthétique {code}"},
                "synonyms": {"en": [f"series {code.lower()}"]},
                "unit": {"en": "index"},
                "decimals": 2,
            }
            for flow, flow_codes in flows.items()
            for i, code in enumerate(flow_codes)
        ],
    }
    metadata_path = directory / "metadata.yaml"
    metadata_path.write_text(yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return SyntheticCatalogue(
        metadata_path, tuple(files), indicator_count * len(REGIONS), indicator_count * len(REGIONS) * observations
    )
