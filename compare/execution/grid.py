"""Grids of sweep cells: widths, seeds and model configurations, sized before they are built.

A :class:`Grid` is the product of widths N, seeds, ``(alpha1, alpha2)`` pairs, batch
modes, activations and targets, every config built (and so validated) on construction;
:func:`geometric_ns` spaces widths for successive-N slopes (docs/claims.md).  Seed and cell
counts are bounded (:data:`MAX_SEEDS`, :data:`MAX_CELLS`) before anything is allocated.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twostep.theory.config import ModelConfig, batch_mode
from twostep.theory.errors import ConfigError

from .cell import Cell, normalise_options

#: Most seeds per cell of a grid or a check (``--seeds``), and most cells in one sweep or
#: plan: sized before anything is built, so a typo cannot allocate gigabytes of cells.
MAX_SEEDS = 10_000
MAX_CELLS = 100_000


def _positive_int(name: str, value: Any, minimum: int) -> int:
    from twostep.simulate.options import check_integer

    return check_integer(name, value, minimum)


def check_seed_count(seeds: Any, name: str = "the number of seeds") -> int:
    """A seed count in [1, :data:`MAX_SEEDS`]; else a one-line ConfigError."""
    from twostep.simulate.options import check_integer

    return check_integer(name, seeds, 1, MAX_SEEDS)


def check_cell_count(count: int, what: str = "the sweep") -> int:
    """Refuse (one line) a sweep or plan of more than :data:`MAX_CELLS` cells, before any
    cell is built."""
    if count > MAX_CELLS:
        raise ConfigError(f"{what} has {count:,} cells, more than the {MAX_CELLS:,} one run "
                          f"takes; split it into smaller runs into the same store (fewer widths, "
                          f"seeds or configurations)")
    return count


def geometric_ns(n_min: int, n_max: int, count: int) -> list[int]:
    """Widths spaced geometrically between ``n_min`` and ``n_max`` (both included).

    ``N_i = round(n_min (n_max / n_min)^(i / (count - 1)))``, ``i = 0..count-1``,
    sorted and without repeats (``500, 4000, 4 -> [500, 1000, 2000, 4000]``);
    successive-N slopes (docs/claims.md) then use equal steps in log N.
    """
    n_min = _positive_int("the smallest N", n_min, 2)
    n_max = _positive_int("the largest N", n_max, 2)
    count = _positive_int("the number of N values", count, 1)
    if n_max < n_min:
        raise ConfigError(f"the largest N ({n_max}) must be >= the smallest ({n_min})")
    if count == 1:
        if n_min != n_max:
            raise ConfigError("the number of N values must be >= 2 when the smallest and "
                              f"largest N differ ({n_min} != {n_max})")
        return [n_min]
    # geomspace returns both end points exactly; rint rounds half to even, like round()
    return [int(v) for v in np.unique(np.rint(np.geomspace(n_min, n_max, count)))]


def _listed(name: str, values: Any) -> tuple[Any, ...] | None:
    if values is None:
        return None
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        values = (values,)
    values = tuple(values)
    if not values:
        raise ConfigError(f"empty grid: no {name} given (give at least one or leave it unset)")
    return values


def _alpha_pair(value: Any) -> tuple[float, float]:
    if isinstance(value, str):
        parts = value.replace(" ", "").split(",")
    else:
        try:
            parts = list(value)
        except TypeError:
            parts = [value]
    if len(parts) != 2:
        raise ConfigError(f"an alpha pair is 'alpha1,alpha2' (two numbers in [0, 1/2)), "
                          f"got {value!r}")
    out = []
    for name, part in zip(("alpha1", "alpha2"), parts):
        try:
            out.append(float(part))
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number in [0, 1/2), got {part!r}") from None
    return out[0], out[1]


@dataclass(frozen=True, eq=False)
class Grid:
    """A product of widths, seeds and model configurations.

    ``ns``: widths (each an integer >= 2; see :func:`geometric_ns`).
    ``seeds``: a count (seeds ``0..count-1``) or a list of seeds (integers >= 0).
    ``alphas``, ``batches``, ``activations``, ``targets``: the values to vary;
    None keeps the ``base`` config's value.  ``options`` are the run options of
    ``simulate.run`` shared by every cell.  Every config is built (and so
    validated) on construction: a bad grid fails before anything runs.
    """

    ns: Sequence[int]
    seeds: int | Sequence[int] = 1
    alphas: Sequence[Any] | None = None
    batches: Sequence[str] | None = None
    activations: Sequence[str] | None = None
    targets: Sequence[str] | None = None
    base: ModelConfig = field(default_factory=ModelConfig)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.base, ModelConfig):
            raise ConfigError(f"base must be a ModelConfig, got {type(self.base).__name__}")
        ns = _listed("N values", self.ns)
        if ns is None:
            raise ConfigError("empty grid: no N values given")
        set_(self, "ns", tuple(sorted({_positive_int("N", n, 2) for n in ns})))
        if isinstance(self.seeds, Iterable):
            seeds = _listed("seeds", self.seeds)
            seeds = tuple(dict.fromkeys(_positive_int("seed", s, 0) for s in seeds))
        else:
            seeds = tuple(range(check_seed_count(self.seeds)))
        set_(self, "seeds", seeds)
        alphas = _listed("alpha pairs", self.alphas)
        set_(self, "alphas", None if alphas is None else tuple(_alpha_pair(a) for a in alphas))
        batches = _listed("batch modes", self.batches)
        if batches is not None:
            batches = tuple(batch_mode(b) for b in batches)  # fresh is read as independent
        set_(self, "batches", batches)
        set_(self, "activations", _listed("activations", self.activations))
        set_(self, "targets", _listed("targets", self.targets))
        set_(self, "options", normalise_options(self.options))
        count = 1
        for values in (self.alphas, batches, self.activations, self.targets):
            count *= len(values or (None,))
        check_cell_count(len(self.ns) * len(self.seeds) * count, "the grid")
        set_(self, "_configs", self._build_configs())

    def _build_configs(self) -> tuple[ModelConfig, ...]:
        b = self.base
        alphas = self.alphas or ((b.alpha1, b.alpha2),)
        configs: dict[str, ModelConfig] = {}
        for activation, target, batch, (alpha1, alpha2) in itertools.product(
                self.activations or (b.activation,), self.targets or (b.target,),
                self.batches or (b.batch,), alphas):
            config = b.replace(activation=activation, target=target, batch=batch,
                               alpha1=alpha1, alpha2=alpha2)
            configs.setdefault(config.key(), config)  # "tanh" twice is one config
        return tuple(configs.values())

    @property
    def configs(self) -> tuple[ModelConfig, ...]:
        """The distinct model configs, in activation, target, batch, alpha order."""
        return self._configs  # type: ignore[attr-defined]

    def cells(self) -> list[Cell]:
        """Every cell, smallest N first (then config, then seed).

        Small widths first: a sweep cut short still holds every config at the
        small N, where the successive-N trend starts.
        """
        return [Cell(config, n, seed, self.options)
                for n in self.ns for config in self.configs for seed in self.seeds]

    def __len__(self) -> int:
        return len(self.ns) * len(self.configs) * len(self.seeds)
