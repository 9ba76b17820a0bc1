"""A cell (one simulation of a sweep) and its store key; the JSON form of its result.

A cell is ``simulate.run(config, N, seed, **options)``; its key is

    sha256(canonical JSON of {config, N, seed, options, version})

with ``version`` the installed twostep version (see :mod:`.store`).  The options are the
store-key form of :class:`twostep.simulate.options.RunOptions`: completed with the defaults,
so ``{}`` and the explicit defaults name the same cell.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twostep.simulate.measurement import package_version
from twostep.simulate.options import (
    DEFAULT_KEY,
    EXECUTION_ONLY,
    KEYED_IF_SET,
    RunOptions,
    check_integer,
)
from twostep.theory.config import ModelConfig, number_text
from twostep.theory.errors import ConfigError, NonFiniteError

#: Options of ``twostep.simulate.run`` in the store key, at their defaults: the key form of
#: :class:`twostep.simulate.options.RunOptions` (one place for defaults and validation).
#: A cell's options are completed with these before hashing, so ``{}`` and the explicit
#: defaults name the same cell.
RUN_DEFAULTS: dict[str, Any] = dict(DEFAULT_KEY)
#: Run options a stored row may omit (their defaults are not written into keys).
_OPTIONAL_OPTIONS = {name: getattr(RunOptions(), name) for name in KEYED_IF_SET}


def normalise_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run options completed with the defaults, validated, in key order: the store-key form
    of :class:`~twostep.simulate.options.RunOptions` (execution-only fields are refused)."""
    options = dict(options or {})
    execution = sorted(set(options) & set(EXECUTION_ONLY))
    if execution:
        keyed = [f for f in RunOptions.fields() if f not in EXECUTION_ONLY]
        raise ConfigError(f"run option(s) {', '.join(execution)} are not part of a cell; "
                          f"allowed: {', '.join(keyed)}")
    return RunOptions.from_mapping(options).key()


@dataclass(frozen=True)
class Cell:
    """One simulation: ``simulate.run(config, N, seed, **options)``.

    ``N >= 2`` and ``seed >= 0`` are integers; ``options`` are completed with
    :data:`RUN_DEFAULTS`.  :meth:`key` is the store key (module docstring).
    """

    config: ModelConfig
    N: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.config, ModelConfig):
            raise ConfigError(f"a cell needs a ModelConfig, got {type(self.config).__name__}")
        object.__setattr__(self, "N", check_integer("N", self.N, 2))
        object.__setattr__(self, "seed", check_integer("seed", self.seed, 0))
        object.__setattr__(self, "options", normalise_options(self.options))

    # A dict field is unhashable; the key identifies the cell.
    def __hash__(self) -> int:
        return hash(self.key())

    def key(self, version: str | None = None) -> str:
        """sha256 of ``{config, N, seed, options, version}`` (canonical JSON)."""
        payload = {
            "config": self.config.to_dict(),
            "N": self.N,
            "seed": self.seed,
            "options": self.options,
            "version": package_version() if version is None else version,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def describe(self) -> str:
        """One line naming the cell, for progress and error lists."""
        c = self.config
        text = (f"{c.activation} -> {c.target}, alpha=({number_text(c.alpha1)}, "
                f"{number_text(c.alpha2)}), "
                f"{c.batch}, N={self.N}, seed={self.seed}")
        changed = [f"{k}={v}" for k, v in self.options.items() if RUN_DEFAULTS.get(k) != v]
        return text + (f" [{', '.join(changed)}]" if changed else "")


def _non_finite_path(value: Any, path: str = "result") -> str | None:
    """Where the first NaN/Inf sits in a JSON-like value, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, Mapping):
        for k, v in value.items():
            found = _non_finite_path(v, f"{path}[{k!r}]")
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _non_finite_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


def result_json(result: Any) -> str:
    """A cell's result as JSON text; NaN/Inf raise :class:`NonFiniteError` saying where."""
    if isinstance(result, str):
        result = json.loads(result)
    if not isinstance(result, Mapping):
        raise TypeError(f"a cell result must be a dict, got {type(result).__name__}")
    try:
        return json.dumps(result, sort_keys=True, allow_nan=False)
    except ValueError:
        where = _non_finite_path(result) or "result"
        raise NonFiniteError(f"non-finite value at {where}") from None
