"""The typed data a verdict and a finding carry instead of dicts.

- :class:`Interval`: what a verdict's statistic was computed from, so that its interval can be
  recomputed at another level (``Verdict.interval``, ``results.interval_at``);
- :class:`RuleInputs`: the base of a registered decision rule's inputs (``Finding.inputs``):
  each rule declares its record type (``register_rule(name, inputs=...)``), which converts to
  and from the JSON-able dict a kept finding stores (``to_dict`` / ``from_dict``);
  :class:`MappingInputs` holds the inputs of a rule that declares no type;
- :class:`PValues` (of :class:`PValue` entries): a finding's raw p-values by test name
  (``Finding.pvalues``), read by :meth:`PValues.get` / :attr:`PValues.names` or by iterating
  :attr:`PValues.tests`;
- :class:`FindingExtra`: the base of a finding's own data (``Finding.extra``), one record type
  per rule that keeps some (``ExponentExtra`` in exponent.py, ``CoherentExtra`` in coherent.py,
  ``LearningExtra`` in learning.py); :class:`ByKey` holds values by a width N or a term k.

They keep the dict reads of the old form one minor version (``x["key"]``, ``x.get("key")``),
with a :class:`~twostep.theory.records.RecordAccessWarning` (a ``DeprecationWarning``) naming the
attribute to use.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Generic, TypeVar

from twostep.theory.records import deprecated_read as _warn_read

V = TypeVar("V")


class _DictReads:
    """The old dict reads of a record, each with a DeprecationWarning naming the attribute."""

    _owner: ClassVar[str] = "record"

    def __getitem__(self, key: str) -> Any:
        _warn_read(f"{self._owner}[{key!r}]", f"{self._owner}.{key}")
        try:
            return self.to_dict()[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        _warn_read(f"{self._owner}[{key!r}]", f"{self._owner}.{key}")
        return self.to_dict().get(key, default)

    def keys(self):
        _warn_read(f"{self._owner}.keys()", "the record's attributes")
        return self.to_dict().keys()

    def __iter__(self) -> Iterator[str]:
        _warn_read(f"iterating {self._owner}", "the record's attributes")
        return iter(self.to_dict())

    def to_dict(self) -> dict[str, Any]:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class Interval(_DictReads):
    """What a statistic was computed from: ``method`` "mean" (the Student-t interval of the
    mean of ``values``) or "fit" (the bootstrap interval of the log-log slope of ``per_N``:
    ``((N, values), ...)``)."""

    _owner: ClassVar[str] = "Verdict.interval"
    METHODS: ClassVar[tuple[str, ...]] = ("mean", "fit")

    method: str
    values: tuple[float, ...] = ()
    per_N: tuple[tuple[int, tuple[float, ...]], ...] = ()

    def __post_init__(self) -> None:
        if self.method not in self.METHODS:
            raise ValueError(f"interval method {self.method!r}; allowed: "
                             f"{', '.join(self.METHODS)}")
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        object.__setattr__(self, "per_N", tuple(
            (int(N), tuple(float(v) for v in vs)) for N, vs in self.per_N))

    @classmethod
    def mean(cls, values) -> Interval:
        return cls("mean", values=tuple(values))

    @classmethod
    def fit(cls, values: Mapping[int, Any]) -> Interval:
        return cls("fit", per_N=tuple(sorted((int(N), tuple(v)) for N, v in values.items())))

    @classmethod
    def of(cls, source: Interval | Mapping[str, Any] | None) -> Interval | None:
        """``source`` as an Interval (the old dict form converted; None, or an unknown method:
        None)."""
        if source is None or isinstance(source, Interval):
            return source
        method = source.get("method")
        if method == "mean":
            return cls.mean(source["values"])
        if method == "fit":
            return cls.fit({int(N): v for N, v in source["values"].items()})
        return None

    def to_dict(self) -> dict[str, Any]:
        if self.method == "mean":
            return {"method": "mean", "values": list(self.values)}
        return {"method": "fit", "values": {N: list(v) for N, v in self.per_N}}


class RuleInputs(_DictReads):
    """Base of a decision rule's inputs (``Finding.inputs``): a frozen dataclass with
    :meth:`to_dict` (the JSON-able form a kept finding stores) and :meth:`from_dict`."""

    _owner: ClassVar[str] = "Finding.inputs"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RuleInputs:  # pragma: no cover - overridden
        raise NotImplementedError


@dataclass(frozen=True)
class MappingInputs(RuleInputs):
    """The inputs of a rule registered without a record type: the JSON-able mapping as given
    (read-only), read by key."""

    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def keys(self):
        return self.data.keys()

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MappingInputs:
        return cls(dict(d))


# -- a finding's raw p-values -----------------------------------------------------------------

@dataclass(frozen=True)
class PValue:
    """The raw p-value ``p`` of the test ``test`` (NaN: the test could not be made)."""

    test: str
    p: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "test", str(self.test))
        object.__setattr__(self, "p", math.nan if self.p is None else float(self.p))


@dataclass(frozen=True)
class PValues:
    """A finding's raw p-values, one :class:`PValue` per test, in the order the claim gave
    them (``Finding.pvalues``; each joins the run's BH family under ``Finding.key(test)``).

    Read them one way: :attr:`names` (the tests), :meth:`get` (one test's p-value) or the
    entries :attr:`tests`.  In JSON they are the object ``{test: p}`` (:meth:`to_dict`,
    :meth:`of`).  The dict reads of the form before 0.4 (``pvalues["fit"]``, ``.items()``,
    iteration) still work, with a :class:`~twostep.theory.records.RecordAccessWarning`."""

    tests: tuple[PValue, ...] = ()

    def __post_init__(self) -> None:
        tests = tuple(t if isinstance(t, PValue) else PValue(*t) for t in self.tests)
        names = [t.test for t in tests]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"a test enters a finding's p-values twice: {', '.join(dup)}")
        object.__setattr__(self, "tests", tests)

    @classmethod
    def of(cls, value: PValues | Mapping[str, float] | Iterable[PValue] | None) -> PValues:
        """``value`` as PValues: a mapping test -> p (the old form, and the JSON) converted."""
        if isinstance(value, PValues):
            return value
        if value is None:
            return cls()
        if isinstance(value, Mapping):
            return cls(tuple(PValue(k, p) for k, p in value.items()))
        return cls(tuple(value))

    @property
    def names(self) -> tuple[str, ...]:
        """The tests, in order."""
        return tuple(t.test for t in self.tests)

    def get(self, test: str, default: float | None = None) -> float | None:
        """The raw p-value of ``test`` (``default`` when the finding has no such test)."""
        for t in self.tests:
            if t.test == test:
                return t.p
        return default

    def to_dict(self) -> dict[str, float]:
        """``{test: p}`` (the JSON form)."""
        return {t.test: t.p for t in self.tests}

    def __bool__(self) -> bool:
        return bool(self.tests)

    # the dict reads of the form before 0.4, deprecated
    def __getitem__(self, test: str) -> float:
        _warn_read(f"Finding.pvalues[{test!r}]", f"Finding.pvalues.get({test!r})")
        p = self.get(test)
        if p is None:
            raise KeyError(test)
        return p

    def __contains__(self, test: object) -> bool:
        _warn_read(f"{test!r} in Finding.pvalues", "Finding.pvalues.names")
        return test in self.names

    def __iter__(self) -> Iterator[str]:
        _warn_read("iterating Finding.pvalues", "Finding.pvalues.names")
        return iter(self.names)

    def __len__(self) -> int:
        _warn_read("len(Finding.pvalues)", "len(Finding.pvalues.tests)")
        return len(self.tests)

    def keys(self):
        _warn_read("Finding.pvalues.keys()", "Finding.pvalues.names")
        return self.to_dict().keys()

    def items(self):
        _warn_read("Finding.pvalues.items()", "Finding.pvalues.tests (.test, .p)")
        return self.to_dict().items()

    def values(self):
        _warn_read("Finding.pvalues.values()", "Finding.pvalues.tests (.p)")
        return self.to_dict().values()


# -- a finding's own data ----------------------------------------------------------------------

@dataclass(frozen=True)
class ByKey(Generic[V]):
    """Values by an integer key (a width N, a term k), in key order: ``get(key)``,
    :attr:`keys`, the pairs :attr:`entries`; :meth:`to_dict` gives ``{key: value}``."""

    entries: tuple[tuple[int, V], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(sorted(
            ((int(k), v) for k, v in self.entries), key=lambda e: e[0])))

    @classmethod
    def of(cls, values: Mapping[int, V] | ByKey[V]) -> ByKey[V]:
        return values if isinstance(values, ByKey) else cls(tuple(values.items()))

    @property
    def keys(self) -> tuple[int, ...]:
        return tuple(k for k, _ in self.entries)

    def get(self, key: int, default: Any = None) -> Any:
        for k, v in self.entries:
            if k == key:
                return v
        return default

    def to_dict(self) -> dict[int, Any]:
        return {k: v.to_dict() if isinstance(v, ByKey) else v for k, v in self.entries}


class FindingExtra:
    """Base of a finding's own data (``Finding.extra``): a frozen dataclass per rule, built
    where the rule produces it and read by attribute.  :meth:`to_dict` gives the mapping the
    form before 0.4 held (what ``compare.export`` writes as ``extra.<name>`` rows); the dict
    reads of that form (``extra["fit"]``) still work with a
    :class:`~twostep.theory.records.RecordAccessWarning` naming the attribute."""

    def _names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self))

    def _as_mapped(self, name: str) -> Any:
        value = getattr(self, name)
        return value.to_dict() if isinstance(value, ByKey) else value

    def to_dict(self) -> dict[str, Any]:
        return {name: self._as_mapped(name) for name in self._names()}

    def __getitem__(self, key: str) -> Any:
        if key not in self._names():
            raise KeyError(key)
        _warn_read(f"Finding.extra[{key!r}]", f"Finding.extra.{key}")
        return self._as_mapped(key)

    def get(self, key: str, default: Any = None) -> Any:
        _warn_read(f"Finding.extra.get({key!r})", f"Finding.extra.{key}")
        return self._as_mapped(key) if key in self._names() else default

    def __contains__(self, key: object) -> bool:
        _warn_read(f"{key!r} in Finding.extra", "the attributes of Finding.extra")
        return key in self._names()

    def __iter__(self) -> Iterator[str]:
        _warn_read("iterating Finding.extra", "the attributes of Finding.extra")
        return iter(self._names())

    def keys(self):
        _warn_read("Finding.extra.keys()", "the attributes of Finding.extra")
        return self._names()

    def items(self):
        _warn_read("Finding.extra.items()", "the attributes of Finding.extra")
        return self.to_dict().items()


@dataclass(frozen=True)
class OtherExtra(FindingExtra):
    """The data of a finding made with a plain dict as ``extra`` (a user's claim before 0.4):
    the ``(name, value)`` pairs as given; :meth:`to_dict` and the dict reads give them back."""

    items_: tuple[tuple[str, Any], ...] = ()

    def _names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.items_)

    def _as_mapped(self, name: str) -> Any:
        return dict(self.items_)[name]

    def __getattr__(self, name: str) -> Any:
        if name != "items_":
            for k, v in self.__dict__.get("items_", ()):
                if k == name:
                    return v
        raise AttributeError(name)


def extra_of(value: FindingExtra | Mapping[str, Any] | None) -> FindingExtra | None:
    """``value`` as a finding's extra: a record as is, an empty mapping None, any other
    mapping an :class:`OtherExtra` (with a DeprecationWarning: give a record)."""
    if value is None or isinstance(value, FindingExtra):
        return value
    if isinstance(value, Mapping):
        if not value:
            return None
        warnings.warn("Finding(extra=<dict>) is deprecated; give a frozen dataclass deriving "
                      "from twostep.compare.science.claims.FindingExtra", DeprecationWarning,
                      stacklevel=4)
        return OtherExtra(tuple((str(k), v) for k, v in value.items()))
    raise TypeError(f"Finding.extra must be a FindingExtra record or None, got "
                    f"{type(value).__name__}")


__all__ = ["ByKey", "FindingExtra", "Interval", "MappingInputs", "OtherExtra", "PValue",
           "PValues", "RuleInputs", "extra_of"]
