"""The base of the records (:class:`Observable`, :class:`Record`) and the small records that
the observables and the prediction hold (docs/reference.md).

Every record is a frozen dataclass: ``to_dict()`` gives the JSON keys (the field names) and
``from_dict()`` reads them back, refusing unknown keys in one line.  A :class:`Record` also
reads like the read-only mapping it replaced (``r["name"]``, ``r.get("name")``, ``"name" in
r``, iteration); that emulation is deprecated (:class:`RecordAccessWarning`): read the
attributes.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .errors import ConfigError

T = TypeVar("T", bound="Observable")


class RecordAccessWarning(DeprecationWarning):
    """A record read as a mapping (``spectrum["bulk_edge"]``): deprecated in twostep 0.4,
    removed in 0.5; the message names the attribute to read instead."""


def _plain(value: Any) -> Any:
    if isinstance(value, Observable):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and hasattr(value, "to_dict"):  # a ModelConfig
        return value.to_dict()
    return value


def _frozen(value: Any) -> Any:
    """Lists (from JSON) become tuples, so the observables stay hashable and immutable."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class Observable:
    """Base of the observables: JSON round trip by field name."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls: type[T], data: Mapping[str, Any] | T) -> T:
        if isinstance(data, cls):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; "
                              f"allowed: {', '.join(sorted(names))}")
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data
                   and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise ConfigError(f"{cls.__name__}: missing field(s) {', '.join(missing)}")
        return cls(**{k: _frozen(v) for k, v in data.items()})


def typed(kind: type[T], value: Any) -> T | None:
    """``value`` as a ``kind`` (a mapping from JSON converted); None stays None."""
    return None if value is None else kind.from_dict(value)


def typed_tuple(kind: type[T], values: Any) -> tuple[T, ...] | None:
    """Each of ``values`` as a ``kind``; None stays None."""
    return None if values is None else tuple(kind.from_dict(v) for v in values)


def _instance(cls: type) -> str:
    """How the deprecation messages name an instance: ``Spectrum`` -> ``spectrum``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls.__name__).lower()


def deprecated_read(old: str, new: str) -> None:
    """Warn (:class:`RecordAccessWarning`, at the caller's caller) that the read ``old`` of a
    record is deprecated, naming ``new``, the read to use."""
    warnings.warn(f"{old} is deprecated; use {new} (the mapping emulation of the records goes "
                  "in twostep 0.5)", RecordAccessWarning, stacklevel=3)


class Record(Observable):
    """An observable that also reads like the read-only mapping it replaced (format 2 stored
    these as dicts): ``r["name"]`` and ``r.get("name")`` give the field, ``"name" in r`` is
    True for a field that is set (not None), iteration gives the set fields' names.  Each of
    these warns (:class:`RecordAccessWarning`, naming the attribute to read); new code reads
    attributes.  A record is true when a field is set (as the mapping was when not empty)."""

    #: Earlier names of fields that ``r["old"]`` still reads (a subclass's; see BBPModel).
    OLD_NAMES: ClassVar[dict[str, str]] = {}

    def __getitem__(self, key: str) -> Any:
        name = self.OLD_NAMES.get(key, key) if isinstance(key, str) else key
        if not isinstance(name, str) or name not in _names(type(self)):
            raise KeyError(key)
        me = _instance(type(self))
        deprecated_read(f"{me}[{key!r}]", f"{me}.{name}")
        return self._as_mapped(name)

    def get(self, key: str, default: Any = None) -> Any:
        me = _instance(type(self))
        deprecated_read(f"{me}.get({key!r})", f"{me}.{key} (None when not set)")
        value = self._as_mapped(key) if key in _names(type(self)) else None
        return default if value is None else value

    def __contains__(self, key: object) -> bool:
        me = _instance(type(self))
        deprecated_read(f"{key!r} in {me}", f"{me}.{key} is not None")
        return isinstance(key, str) and key in _names(type(self)) and getattr(self, key) is not None

    def _set(self) -> list[str]:
        return [k for k in _names(type(self)) if getattr(self, k) is not None]

    def _as_mapped(self, name: str) -> Any:
        """What the mapping this record replaced held under ``name`` (the field, unless a
        subclass stored it otherwise there): the emulation's value."""
        return getattr(self, name)

    def __iter__(self):
        me = _instance(type(self))
        deprecated_read(f"iterating {me}", f"its attributes (or {me}.to_dict())")
        return iter(self._set())

    def keys(self):
        me = _instance(type(self))
        deprecated_read(f"{me}.keys()", f"its attributes (or {me}.to_dict())")
        return self._set()

    def items(self):
        me = _instance(type(self))
        deprecated_read(f"{me}.items()", f"its attributes (or {me}.to_dict())")
        return [(k, self._as_mapped(k)) for k in self._set()]

    def values(self):
        me = _instance(type(self))
        deprecated_read(f"{me}.values()", f"its attributes (or {me}.to_dict())")
        return [self._as_mapped(k) for k in self._set()]

    def __len__(self) -> int:
        me = _instance(type(self))
        deprecated_read(f"len({me})", f"its attributes (or {me}.to_dict())")
        return len(self._set())

    def __bool__(self) -> bool:
        return bool(self._set())


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


# -- the records of a spectrum (simulate/spectra.py, simulate/lanczos.py build them) ----------

@dataclass(frozen=True)
class EdgeFit(Record):
    """How a spectrum's bulk edge was fitted (``Spectrum.edge_fit``): the Airy fit's ``edge``
    (None when the fit is unreliable), its Tracy-Widom scale ``kappa``, the outliers'
    ``margin`` above the edge, ``edge_outliers`` (values above edge + margin),
    ``values_used`` by the fit, its ``rms_residual`` in kappa units, ``reliable`` and, when
    not, the ``reason``; ``rule`` states the fit."""

    edge: float | None = None
    kappa: float | None = None
    margin: float | None = None
    edge_outliers: int | None = None
    values_used: int | None = None
    rms_residual: float | None = None
    reliable: bool | None = None
    reason: str = ""
    rule: str | None = None


@dataclass(frozen=True)
class Solver(Record):
    """How the top singular values were computed (``Spectrum.solver``): the ``method``
    (``dense`` or ``lanczos``), its ``iterations``, the largest ``residual``
    ``||A^T u - sigma v|| / sigma_1`` over the triplets, and whether it ``converged``."""

    method: str | None = None
    iterations: int | None = None
    residual: float | None = None
    converged: bool | None = None


@dataclass(frozen=True)
class Histogram(Record):
    """A histogram of every singular value (``Spectrum.histogram``, ``spectrum=True`` runs):
    the ``counts`` in the bins between ``edges``, and the values ``above`` the last edge."""

    counts: tuple[int, ...] = ()
    edges: tuple[float, ...] = ()
    above: int | None = None


@dataclass(frozen=True)
class NpzRef(Record):
    """Where an array of a stored measurement lies (``Spectrum.values`` of a measurement read
    from its JSON alone; :meth:`~twostep.simulate.Measurement.load` puts the array there): its
    key ``npz`` in the sibling ``.npz`` file and its ``size``."""

    npz: str
    size: int | None = None


# -- the series' first-order part (simulate/terms.py builds it) ------------------------------

@dataclass(frozen=True)
class Exceedance(Observable):
    """The ``fraction`` of the entries of ``eta_1 P1`` above ``level`` in absolute value
    (``level`` as written: ``"0.5"``, ``"1"``, ``"pi/2"``)."""

    level: str
    fraction: float | None = None


@dataclass(frozen=True)
class P1Stats(Record):
    """Statistics of ``eta_1 P1`` that bound the Taylor series of the exact terms
    (``Series.p1``, docs/theory.md): the ``max`` of its entries' absolute values and the
    ``fraction_above`` each level (:class:`Exceedance`, :meth:`fraction`).  In JSON (and
    through the deprecated mapping emulation) ``fraction_above`` is the object level ->
    fraction that earlier versions wrote."""

    max: float | None = None
    fraction_above: tuple[Exceedance, ...] | None = None

    def __post_init__(self) -> None:
        above = self.fraction_above
        if isinstance(above, Mapping):
            above = tuple(Exceedance(level=str(k), fraction=v) for k, v in above.items())
        object.__setattr__(self, "fraction_above", typed_tuple(Exceedance, above))

    def to_dict(self) -> dict[str, Any]:
        return {"max": self.max, "fraction_above": self._as_mapped("fraction_above")}

    def _as_mapped(self, name: str) -> Any:
        if name == "fraction_above" and self.fraction_above is not None:
            return {e.level: e.fraction for e in self.fraction_above}
        return getattr(self, name)

    def fraction(self, level: str) -> float | None:
        """The fraction above ``level`` (None when not recorded)."""
        for e in self.fraction_above or ():
            if e.level == level:
                return e.fraction
        return None


# -- the prediction's records (theory/predict.py builds them) --------------------------------

@dataclass(frozen=True)
class Coefficient(Record):
    """One leading coefficient of a term's law (``Term.coefficients``): its ``label``, its
    ``value`` (None when not ``defined``), whether it is ``exact`` and whether it is ``zero``
    (None when not defined)."""

    label: str
    value: float | None = None
    exact: bool = False
    defined: bool = False
    zero: bool | None = None


@dataclass(frozen=True)
class ActivationInfo(Record):
    """The activation's functionals (``Prediction.activation``): the ``function``, whether it
    is ``smooth``, its ``parity`` and its first Hermite coefficient ``c1``."""

    function: str
    smooth: bool | None = None
    parity: str | None = None
    c1: float | None = None


@dataclass(frozen=True)
class TargetInfo(Record):
    """The target's functionals (``Prediction.target``): the ``function``, its
    ``information_exponent``, its ``reuse_exponent`` (None when none up to ``reuse_limit``),
    its ``parity``, its first Hermite coefficient ``c1`` and its ``second_moment``."""

    function: str
    information_exponent: int | None = None
    reuse_exponent: int | None = None
    reuse_limit: int | None = None
    parity: str | None = None
    c1: float | None = None
    second_moment: float | None = None
