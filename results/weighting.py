"""Raking (iterative proportional fitting) of respondents' weights to population margins, with
:mod:`ipfn`, and Kish's effective sample size of a set of weights.

Each respondent starts with weight 1. For every margin dimension the targets are the population's
shares of its categories, scaled to the respondents who have a category there: a respondent whose
category is not given (an anonymous response, a region left empty) or not in the margins keeps
their share of the total on that dimension and is adjusted on the others only. Categories of the
margins that no respondent is in cannot be weighted to; they are left out and the other categories'
targets scaled up (listed in :attr:`Raking.empty`). The weights returned average 1.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from surveys.results_settings import Margin

if TYPE_CHECKING:
    import pandas as pd

#: The category of respondents without one of a dimension's categories (never in a margins file:
#: categories there are codes).
UNMATCHED = "\x00unmatched"
CONVERGENCE = 1e-9
MAX_ITERATIONS = 2000


@dataclass(frozen=True)
class Raking:
    """The weights (one per respondent, in order, averaging 1) and the margins' categories that no
    respondent is in, as ``(dimension, category)``."""

    weights: tuple[float, ...]
    empty: tuple[tuple[str, str], ...] = ()
    #: False when the margins could not be met within :data:`MAX_ITERATIONS` (the weights are then
    #: the last iteration's; staff are told).
    converged: bool = True


def rake(profiles: Sequence[Mapping[str, str | None]], margins: Sequence[Margin]) -> Raking:
    """Weights of the respondents (each a mapping of dimension to category) raked to ``margins``."""
    count = len(profiles)
    if count == 0 or not margins:
        return Raking(tuple(1.0 for _ in profiles))
    # pandas and numpy are imported when weights are raked: about a second that every process
    # importing storage (each `baraza` command, each test worker) would otherwise pay.
    import numpy as np
    import pandas as pd
    from ipfn import ipfn

    by_dimension: dict[str, dict[str, float]] = {}
    for margin in margins:
        by_dimension.setdefault(margin.dimension, {})[margin.category] = margin.population
    columns: dict[str, list[str]] = {}
    aggregates: list[pd.Series] = []
    dimensions: list[list[str]] = []
    empty: list[tuple[str, str]] = []
    for index, (dimension, population) in enumerate(by_dimension.items()):
        values = [profile.get(dimension) for profile in profiles]
        column = [value if value in population else UNMATCHED for value in values]
        present = set(column)
        matched = {category: size for category, size in population.items() if category in present}
        empty.extend((dimension, category) for category in population if category not in present)
        unmatched = column.count(UNMATCHED)
        targets = {category: (count - unmatched) * size / sum(matched.values()) for category, size in matched.items()}
        if unmatched:
            targets[UNMATCHED] = float(unmatched)
        name = f"d{index}"
        columns[name] = column
        aggregates.append(pd.Series(targets).rename_axis(name))
        dimensions.append([name])
    frame = pd.DataFrame(columns)
    frame["weight"] = 1.0
    with warnings.catch_warnings():
        # ipfn's own progress messages are warnings in some pandas versions: not the office's concern.
        warnings.simplefilter("ignore")
        # rate_tolerance 0: stop on convergence only (ipfn prints when it stops for another reason).
        fitted, converged = ipfn.ipfn(
            frame,
            aggregates,
            dimensions,
            weight_col="weight",
            convergence_rate=CONVERGENCE,
            max_iteration=MAX_ITERATIONS,
            rate_tolerance=0,
            verbose=1,
        ).iteration()
    weights = np.asarray(fitted["weight"], dtype=float)
    weights = weights * count / weights.sum()
    return Raking(tuple(float(weight) for weight in weights), tuple(empty), bool(converged))


def effective_size(weights: Sequence[float]) -> float:
    """Kish's effective sample size (Σw)² / Σw²: the number of unweighted respondents that would
    give the same precision (``n / deff`` with the design effect ``deff = n Σw² / (Σw)²``)."""
    total = sum(weights)
    squares = sum(weight * weight for weight in weights)
    return total * total / squares if squares else 0.0
