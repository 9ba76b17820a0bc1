"""``RunOptions``: the options of one simulation, in one place.

:func:`twostep.simulate.run`, the result store's cells, ``twostep simulate`` and
``twostep sweep`` all take their defaults, validation and store-key form from
:class:`RunOptions`. The fields:

``dtype``        ``float64`` or ``float32`` (the GEMMs; reductions stay float64)
``top``          singular values reported per spectrum (>= 1)
``max_power``    powers ``a^1..a^K`` for overlaps and amplitudes (1..12)
``null_draws``   independent second layers for the null floors (0..1000)
``terms``        exact step-two terms ``T_0..T_K`` (0..8; 0: none)
``spectrum``     also the full spectra (dense SVD)
``features``     also the one-step feature-matrix spikes
``spectra``      the top-k spectra to compute: ``"all"`` (every ``W_t`` and the update) or
                 a tuple of names ``W1``..``WT`` / ``update`` (``()``: none). A claim declares
                 the spectra it reads, so a cell computes only those (docs/claims.md).
``backend``      the array library the simulation runs in: ``numpy`` (default, the
                 reference) or another array-API namespace (docs/performance.md)
``allow_memory`` run even when the estimated peak memory exceeds what is available
``block_rows``   samples per streamed block (None: about 32 MiB per block buffer)

The store key (:meth:`RunOptions.key`) holds the fields that change a result. The last two
only change how a run is executed and are not part of it; ``spectra`` and ``backend`` are
part of it only when they differ from their defaults, so the keys of cells written before
those fields existed stay valid.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from twostep.theory.config import check_alpha
from twostep.theory.errors import ConfigError
from twostep.theory.records import Observable, Record, typed_tuple

#: Backend names (``numpy`` is the default; :mod:`.backend` runs them). Here, not in
#: :mod:`.backend`, so that options are checked without loading sympy.
BACKENDS = ("numpy", "cupy", "torch", "array-api-strict")
#: Element types of a run.
DTYPES = ("float64", "float32")
#: Largest number of exact terms beyond term 0 (the derivatives sigma^(K+1) are lambdified).
TERMS_LIMIT = 8
#: Largest ``max_power`` (the Gram-Schmidt of a^1..a^K loses accuracy beyond).
MAX_POWER_LIMIT = 12
#: Largest ``null_draws``.  Each draw is one more second layer whose power basis (N x K) is
#: kept and onto which the update is projected (N d K flops), so time and memory grow with
#: it; past 1000 draws the standard error of a null floor (sd / sqrt(draws)) is already
#: under 3.2% of the draws' own spread, so more draws add only cost.
MAX_NULL_DRAWS = 1000
#: ``spectra`` value meaning every ``W_t`` and the update.
ALL_SPECTRA = "all"
_SPECTRUM_NAME = re.compile(r"^(W[1-9][0-9]*|update)$")

#: The batches of a step (:class:`Step`).
BATCH_CHOICES = ("fresh", "reuse")
#: the config's name for a fresh batch (ModelConfig.batch), accepted as a step's batch too
BATCH_ALIASES = {"independent": "fresh"}

#: Fields that change how a run executes, not what it measures (not in the store key).
EXECUTION_ONLY = ("allow_memory", "block_rows")
#: Fields in the store key only when they differ from their defaults.
KEYED_IF_SET = ("spectra", "backend")


def check_integer(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``; else a one-line ConfigError naming the range."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name} must be an integer {bounds}, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ConfigError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_spectra(value: object) -> str | tuple[str, ...]:
    """``"all"`` or a sorted tuple of distinct spectrum names (``W1``.., ``update``)."""
    allowed = "allowed: all, none, or a comma-separated list of W1, W2, ..., update"
    if value == ALL_SPECTRA:
        return ALL_SPECTRA
    if isinstance(value, str):
        items = [s.strip() for s in value.split(",")]
        if not value.strip():
            raise ConfigError(f"spectra: empty (for no spectra write none); {allowed}")
        if "" in items:
            raise ConfigError(f"spectra: empty spectrum name in {value!r}; {allowed}")
        for word in (ALL_SPECTRA, "none"):
            if word in items and len(items) > 1:
                raise ConfigError(f"spectra: {word!r} stands alone, got {value!r}; {allowed}")
        value = [] if items == ["none"] else items
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigError(f"spectra must be 'all' or a list of W1, W2, ..., update; "
                          f"got {value!r}")
    names = []
    for v in value:
        if not isinstance(v, str) or not _SPECTRUM_NAME.match(v):
            raise ConfigError(f"spectra: unknown spectrum {v!r}; {allowed}")
        names.append(v)
    return tuple(sorted(set(names), key=lambda s: (s == "update", len(s), s)))


@dataclass(frozen=True)
class RunOptions:
    """The validated options of one run (module docstring). Build with keywords or
    :meth:`from_mapping`; invalid values raise a one-line ConfigError."""

    dtype: str = "float64"
    top: int = 10
    max_power: int = 4
    null_draws: int = 4
    terms: int = 0
    spectrum: bool = False
    features: bool = False
    spectra: str | tuple[str, ...] = ALL_SPECTRA
    backend: str = "numpy"
    allow_memory: bool = False
    block_rows: int | None = None

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}; got {self.dtype!r}")
        fix = {
            "top": check_integer("top", self.top, 1),
            "max_power": check_integer("max_power", self.max_power, 1, MAX_POWER_LIMIT),
            "null_draws": check_integer("null_draws", self.null_draws, 0, MAX_NULL_DRAWS),
            "terms": check_integer("terms", self.terms, 0, TERMS_LIMIT),
            "spectrum": _check_flag("spectrum", self.spectrum),
            "features": _check_flag("features", self.features),
            "allow_memory": _check_flag("allow_memory", self.allow_memory),
            "spectra": check_spectra(self.spectra),
            "block_rows": (None if self.block_rows is None
                           else check_integer("block_rows", self.block_rows, 1)),
        }
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}; "
                              f"got {self.backend!r}")
        for name, value in fix.items():
            object.__setattr__(self, name, value)

    # -- construction -------------------------------------------------------------
    @classmethod
    def fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any] | None) -> RunOptions:
        """From a mapping of field names (a store cell's options, a JSON file); unknown
        names are refused with the allowed ones."""
        options = dict(options or {})
        unknown = sorted(set(options) - set(cls.fields()))
        if unknown:
            raise ConfigError(f"unknown run option(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(cls.fields())}")
        if isinstance(options.get("spectra"), list):
            options["spectra"] = tuple(options["spectra"])
        return cls(**options)

    def replace(self, **changes: Any) -> RunOptions:
        return dataclasses.replace(self, **changes)

    # -- views --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON types (``spectra`` as a list unless ``"all"``)."""
        out = {f: getattr(self, f) for f in self.fields()}
        if out["spectra"] != ALL_SPECTRA:
            out["spectra"] = list(out["spectra"])
        return out

    def key(self) -> dict[str, Any]:
        """The fields that change a result, sorted: the store key's ``options`` (module
        docstring). ``run(config, N, seed, **options.key())`` reproduces the run."""
        defaults = RunOptions()
        out = {}
        for name, value in self.to_dict().items():
            if name in EXECUTION_ONLY:
                continue
            if name in KEYED_IF_SET and getattr(self, name) == getattr(defaults, name):
                continue
            out[name] = value
        return dict(sorted(out.items()))

    def wants(self, name: str) -> bool:
        """Whether the top-k spectrum ``name`` (``W1``.., ``update``) is computed."""
        return self.spectra == ALL_SPECTRA or name in self.spectra

    def check_spectra_names(self, T: int) -> None:
        """Refuse spectrum names that this run of ``T`` steps does not have."""
        if self.spectra == ALL_SPECTRA:
            return
        allowed = [f"W{t}" for t in range(1, T + 1)] + ["update"]
        bad = [s for s in self.spectra if s not in allowed]
        if bad:
            raise ConfigError(f"spectra: {', '.join(bad)} not in this {T}-step run; allowed: "
                              f"all, {', '.join(allowed)}")


#: The defaults, as the store key writes them.
DEFAULT_KEY = RunOptions().key()


@dataclass(frozen=True)
class Step(Record):
    """One GD step: ``eta = etabar N^alpha`` on a ``fresh`` batch or the
    previous step's batch (``reuse``)."""

    alpha: float
    etabar: float
    batch: str

    def __post_init__(self) -> None:
        for name in ("alpha", "etabar"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise ConfigError(f"step {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"step {name} must be finite, got {value!r}")
            object.__setattr__(self, name, float(value))
        check_alpha("step alpha", self.alpha)
        if self.etabar <= 0:
            raise ConfigError(f"step etabar must be > 0, got {self.etabar!r}")
        object.__setattr__(self, "batch", BATCH_ALIASES.get(self.batch, self.batch))
        if self.batch not in BATCH_CHOICES:
            raise ConfigError(
                f"step batch must be independent (or fresh) or reuse; got {self.batch!r}")

    def eta(self, N: int) -> float:
        """``eta = etabar N^alpha`` (docs/model.md)."""
        return self.etabar * float(N) ** self.alpha


@dataclass(frozen=True)
class Provenance(Record):
    """How a run was made, beyond its :class:`RunOptions`: the GD ``steps`` (:class:`Step`),
    the ``max_power`` and ``block_rows`` used (the options give the requested ones), the
    singular values computed beyond ``top`` (``extra``), the edge margin's
    ``edge_margin_kappa``, the ``memory_estimate_bytes`` and the ``identify_rule`` of the
    outliers' terms."""

    steps: tuple[Step, ...] = ()
    max_power: int | None = None
    block_rows: int | None = None
    extra: int | None = None
    edge_margin_kappa: float | None = None
    memory_estimate_bytes: int | None = None
    identify_rule: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", typed_tuple(Step, self.steps or ()))


@dataclass(frozen=True)
class Versions(Record):
    """The versions of ``twostep``, ``numpy``, ``scipy`` and ``python`` that made a
    measurement (``Measurement.versions``)."""

    twostep: str | None = None
    numpy: str | None = None
    scipy: str | None = None
    python: str | None = None


@dataclass(frozen=True)
class SpectrumTime(Observable):
    """The wall ``seconds`` one top-k spectrum (``name``: ``W1``.., ``update``) took."""

    name: str
    seconds: float


@dataclass(frozen=True)
class Timing(Record):
    """Where a run's wall time went, in seconds (``Measurement.timing``): drawing
    (``draws_s``), the GD ``steps_s``, the top-k spectra (``spectra_s``, and each one's in
    ``spectrum_s``), the directions and amplitudes (``directions_s``), the features
    (``features_s``), the exact terms (``terms_s``; None without terms) and the
    ``total_s``.  In JSON (and through the deprecated mapping emulation) ``spectrum_s`` is
    the object name -> seconds that earlier versions wrote."""

    draws_s: float | None = None
    steps_s: float | None = None
    spectra_s: float | None = None
    directions_s: float | None = None
    features_s: float | None = None
    terms_s: float | None = None
    total_s: float | None = None
    spectrum_s: tuple[SpectrumTime, ...] = ()

    def __post_init__(self) -> None:
        each = self.spectrum_s or ()
        if isinstance(each, Mapping):
            each = tuple(SpectrumTime(name=k, seconds=v) for k, v in each.items())
        object.__setattr__(self, "spectrum_s", typed_tuple(SpectrumTime, each))

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "spectrum_s": self._as_mapped("spectrum_s")}

    def _as_mapped(self, name: str) -> Any:
        if name == "spectrum_s":
            return {e.name: e.seconds for e in self.spectrum_s}
        return getattr(self, name)

    def spectrum(self, name: str) -> float | None:
        """The seconds the spectrum ``name`` took (None: not computed)."""
        for entry in self.spectrum_s:
            if entry.name == name:
                return entry.seconds
        return None
