"""How long one phone chart takes to draw (a lookup's 📈 Chart button, off the event loop); prints the figures.

    .venv/bin/python -m bench.charts [--repeat 20]

Ten years of a monthly series and three years of quarters, with an English and a long French
source line (wrapped to the width), best and median of ``--repeat`` drawings each.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from bench.machine import describe
from catalogue.charts import ChartTexts, trend_chart
from catalogue.model import Observation

ENGLISH = ChartTexts("Inflation rate", "Demoland", "%", "Source: Demoland Statistics Office", "7.1%", "October 2026")
FRENCH = ChartTexts(
    "Taux d'inflation annuel des prix à la consommation",
    "Ensemble du pays, tous les ménages",
    "%",
    "Source : Institut national de la statistique et des études économiques — Indice des prix à la "
    "consommation harmonisé, publication mensuelle du 15 novembre 2026",
    "7,1 %",
    "octobre 2026",
)
MONTHLY = [Observation(f"{2017 + i // 12}-{i % 12 + 1:02d}", 5 + 4 * math.sin(i / 5)) for i in range(118)]
QUARTERLY = [Observation(f"{2024 + i // 4}-Q{i % 4 + 1}", 0.5 * i) for i in range(12)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    arguments = parser.parse_args()
    print(describe())
    trend_chart(MONTHLY, ENGLISH)  # fonts and caches warm
    for name, observations, texts in (
        ("monthly, English", MONTHLY, ENGLISH),
        ("monthly, long French source", MONTHLY, FRENCH),
        ("quarterly, English", QUARTERLY, ENGLISH),
    ):
        times, size = [], 0
        for _ in range(arguments.repeat):
            started = time.perf_counter()
            size = len(trend_chart(observations, texts))
            times.append(time.perf_counter() - started)
        print(
            f"{name:30s} best {1000 * min(times):6.1f} ms  median {1000 * statistics.median(times):6.1f} ms  "
            f"PNG {size / 1024:5.1f} KiB"
        )


if __name__ == "__main__":
    main()
