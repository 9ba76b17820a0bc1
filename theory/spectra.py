"""The spectra of the observables (docs/reference.md): one matrix's top singular values and
outliers (:class:`Spectrum`, :class:`Outlier`; :class:`FeatureSpectrum` for a feature matrix) and
the container of a run's or a prediction's spectra (:class:`Spectra`, ``Observables.spectra``),
read one by name with ``obs.spectrum("W2")``.

Every field declares how it scales and which step it belongs to (:mod:`twostep.theory.fields`);
a spectrum's ``step`` is the GD step of its matrix (:func:`spectrum_step`), which the regime
guard reads (compare/science/claims/guard.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .errors import ConfigError, NoSuchSpectrum
from .fields import observable, observed
from .records import (
    EdgeFit,
    Histogram,
    NpzRef,
    Observable,
    Record,
    Solver,
    deprecated_read,
    typed,
    typed_tuple,
)


@observable
class Outlier(Record):
    """One outlier of a weight matrix.

    ``term``: the step-two term k it belongs to (its left vector follows ``a^{k+1}``;
    ``left_power`` = k + 1); ``value``: its singular value (predicted only where theory gives a
    finite location, else None).  Measured only: ``index`` (rank among the singular values),
    ``gap`` (above the bulk edge), ``left_overlaps`` (with ``q_1..q_K``),
    ``right_beta_overlap`` (right vector with beta_*; format 2: ``beta_overlap``).
    Predicted only: ``exponent`` (its size ``N^exponent``),
    ``growth`` and a ``statement``.
    """

    value: float | None = observed("none", "entry")
    term: int | None = observed("invariant", "run")
    left_power: int | None = observed("invariant", "run")
    index: int | None = observed("none", "entry")
    gap: float | None = observed("none", "entry")
    left_overlaps: tuple[float | None, ...] | None = observed("none", "entry")
    right_beta_overlap: float | None = observed("none", "entry")
    exponent: float | None = observed("none", "entry")
    growth: str | None = observed("none", "entry")
    statement: str | None = observed("none", "entry")


@observable
class Spectrum(Record):
    """The top of one matrix's spectrum (``obs.spectrum(name)``, :class:`Spectra`).

    ``name``: the matrix, ``W1``..``WT`` or ``update`` (None for a feature matrix's,
    ``FeatureSpikes.F0``); in JSON it is the key the spectrum is stored under
    (``{"spectra": {name: spectrum}}``), not a key of the spectrum's own.

    ``step``: the step it belongs to (t for ``W_t``, the last step T for the update
    ``W_T - W_{T-1}``; :func:`spectrum_step`): the regime guard reads a spectrum of step 2 or
    later as a step-two quantity (docs/claims.md).

    ``singular_values``: the top ones, descending; ``bulk_edge``: the theory's edge of W_0,
    ``1 + sqrt(N/d)`` (None for the update); ``bulk_edge_empirical``, ``margin``,
    ``tracy_widom_scale``, ``edge_used`` (``"empirical"``, ``"theory"`` or None),
    ``edge_fit`` (:class:`EdgeFit`) and ``solver`` (:class:`Solver`): how the edge was fitted
    and the top singular values computed (``computed`` of them); ``outliers``: the
    :class:`Outlier` s above edge + margin.  With ``spectrum=True`` runs also ``values``
    (every singular value: an array in memory, ``{"npz": key, "size": n}`` in a JSON file, an
    :class:`NpzRef` read from it until :meth:`Measurement.load` restores the array) and
    ``histogram`` (:class:`Histogram`).  A prediction's spectrum has ``bulk_edge`` and the
    predicted ``outliers`` only."""

    singular_values: tuple[float, ...] | None = observed("none", "entry")
    bulk_edge: float | None = observed("invariant", "width")
    bulk_edge_empirical: float | None = observed("none", "entry")
    tracy_widom_scale: float | None = observed("none", "entry")
    margin: float | None = observed("none", "entry")
    edge_used: str | None = observed("none", "entry")
    edge_fit: EdgeFit | None = observed("none", "entry")
    solver: Solver | None = observed("none", "entry")
    computed: int | None = observed("invariant", "run")
    outliers: tuple[Outlier, ...] | None = observed("none", "entry")
    values: np.ndarray | NpzRef | None = observed("none", "entry")
    histogram: Histogram | None = observed("none", "entry")
    step: int | None = observed("invariant", "run")
    name: str | None = observed("invariant", "run")

    def __post_init__(self) -> None:
        fix = object.__setattr__
        fix(self, "outliers", typed_tuple(Outlier, self.outliers))
        if isinstance(self.singular_values, list):
            fix(self, "singular_values", tuple(self.singular_values))
        for name, kind in (("edge_fit", EdgeFit), ("solver", Solver), ("histogram", Histogram)):
            fix(self, name, typed(kind, getattr(self, name)))
        if isinstance(self.values, Mapping):  # the key of the array in the npz (JSON)
            fix(self, "values", NpzRef.from_dict(self.values))

    def to_dict(self) -> dict[str, Any]:
        """The JSON keys, without ``name`` (the key the spectrum is stored under)."""
        out = super().to_dict()
        del out["name"]
        return out

    def _set(self) -> list[str]:
        return [k for k in super()._set() if k != "name"]  # the mapping of 0.3 had no name


@observable
class FeatureSpectrum(Spectrum):
    """The spectrum of a feature matrix (``FeatureSpikes.F0``, ``F1``): a :class:`Spectrum`
    (no outliers, no theory edge) and ``edge_outliers``, its values above the edge + margin."""

    edge_outliers: int | None = observed("none", "entry")


def spectrum_step(name: str, steps: int) -> int | None:
    """The step a spectrum named ``name`` belongs to in a run of ``steps`` steps: t for
    ``W<t>``, the last step for ``update``; None for another name."""
    if name == "update":
        return steps
    if name.startswith("W") and name[1:].isdigit():
        return int(name[1:])
    return None


#: ``Spectra.get``'s default when none is given (a default makes it the deprecated mapping read).
_UNSET: Any = object()


@observable
class Spectra(Observable):
    """The top-k spectra of one run or prediction, in order (``Observables.spectra``): one
    :class:`Spectrum` per matrix, each knowing its ``name`` (``W1``..``WT``, ``update``) and its
    ``step`` (:func:`spectrum_step`).

    One is read by name with ``obs.spectrum("W2")`` (``Observables.spectrum``: a
    :class:`~twostep.theory.errors.NoSuchSpectrum` naming the spectra there are when absent).
    The whole: ``names``, ``len(spectra)``, ``"W2" in spectra``, iteration over the entries in
    order, :meth:`get` (None when absent).  In JSON the object ``{name: spectrum}`` of earlier
    versions (:meth:`to_dict`, :meth:`of`).  The mapping reads of twostep 0.3 (``spectra["W2"]``,
    ``keys()``, ``items()``, ``values()``, ``get(name, default)``) still work and warn
    (:class:`~twostep.theory.records.RecordAccessWarning`, naming what to read); they go in 0.5.
    """

    entries: tuple[Spectrum, ...] = observed("none", "entry", ())

    def __post_init__(self) -> None:
        entries = tuple(Spectrum.from_dict(e) for e in self.entries or ())
        names = [e.name for e in entries]
        if not all(isinstance(n, str) and n for n in names):
            raise ConfigError("each entry of Spectra needs its matrix name (W1..WT, update); "
                              f"got {names}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"Spectra: {', '.join(twice)} given twice; one spectrum a matrix")
        object.__setattr__(self, "entries", entries)

    @classmethod
    def of(cls, spectra: Any, steps: int = 2) -> Spectra:
        """``spectra`` as :class:`Spectra`: a Spectra, a mapping name -> :class:`Spectrum` or
        its dict (JSON, code of 0.3), or a sequence of named spectra; None: none.  An entry
        without a ``step`` gets :func:`spectrum_step` of its name in a run of ``steps`` steps
        (files from before the field).  Anything else: a one-line ConfigError."""
        if isinstance(spectra, Mapping):
            entries = []
            for name, spec in spectra.items():
                spec = Spectrum.from_dict(spec)
                if spec.name not in (None, name):
                    raise ConfigError(f"the spectrum stored under {name!r} is named "
                                      f"{spec.name!r}")
                entries.append(dataclasses.replace(spec, name=name))
        elif isinstance(spectra, (cls, list, tuple)) or spectra is None:
            entries = [Spectrum.from_dict(e) for e in spectra or ()]
        else:
            raise ConfigError(f"spectra must be a Spectra, a mapping name -> spectrum or a "
                              f"sequence of named spectra, got {type(spectra).__name__}")
        out = []
        for spec in entries:
            step = spectrum_step(spec.name, steps) if isinstance(spec.name, str) else None
            out.append(spec if spec.step is not None or step is None
                       else dataclasses.replace(spec, step=step))
        return cls(tuple(out))

    @classmethod
    def from_dict(cls, data: Any) -> Spectra:
        """The :class:`Spectra` of :meth:`to_dict`'s object (:meth:`of`)."""
        return data if isinstance(data, cls) else cls.of(data)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``{name: spectrum}``, in order."""
        return {e.name: e.to_dict() for e in self.entries}

    def __repr__(self) -> str:
        return f"Spectra({', '.join(self.names)})"

    # -- the whole, read -------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """The matrices' names, in order."""
        return tuple(e.name for e in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[Spectrum]:
        return iter(self.entries)

    def __contains__(self, name: object) -> bool:
        return any(e.name == name for e in self.entries)

    def get(self, name: str, default: Any = _UNSET) -> Spectrum | None:
        """The spectrum of the matrix ``name``, None when there is none (a ``default``: the
        deprecated mapping read)."""
        if default is not _UNSET:
            deprecated_read(f"obs.spectra.get({name!r}, default)",
                        f"obs.spectra.get({name!r}) (None when absent) or obs.spectrum({name!r})")
        for e in self.entries:
            if e.name == name:
                return e
        return None if default is _UNSET else default

    def find(self, name: str, why: str | None = None) -> Spectrum:
        """The spectrum of ``name``, else a one-line :class:`NoSuchSpectrum` naming the spectra
        there are (``why``: why it is absent, when known)."""
        spec = self.get(name)
        if spec is not None:
            return spec
        have = (f"the spectra here are {', '.join(self.names)}" if self.entries else
                "there are none here")
        raise NoSuchSpectrum(f"no spectrum {name!r}{f' ({why})' if why else ''}: {have}")

    # -- the mapping reads of twostep 0.3, deprecated ---------------------------------------
    def __getitem__(self, name: str) -> Spectrum:
        deprecated_read(f"obs.spectra[{name!r}]", f"obs.spectrum({name!r})")
        return self.find(name)

    def keys(self) -> list[str]:
        deprecated_read("obs.spectra.keys()", "obs.spectra.names")
        return list(self.names)

    def items(self) -> list[tuple[str, Spectrum]]:
        deprecated_read("obs.spectra.items()",
                        "the entries, in order: for s in obs.spectra (s.name)")
        return [(e.name, e) for e in self.entries]

    def values(self) -> list[Spectrum]:
        deprecated_read("obs.spectra.values()", "the entries, in order: for s in obs.spectra")
        return list(self.entries)
