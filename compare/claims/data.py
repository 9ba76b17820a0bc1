"""The typed data a verdict and a finding carry instead of dicts.

- :class:`Interval`: what a verdict's statistic was computed from, so that its interval can be
  recomputed at another level (``Verdict.interval``, ``results.interval_at``);
- :class:`RuleInputs`: the base of a registered decision rule's inputs (``Finding.inputs``):
  each rule declares its record type (``register_rule(name, inputs=...)``), which converts to
  and from the JSON-able dict a kept finding stores (``to_dict`` / ``from_dict``);
  :class:`MappingInputs` holds the inputs of a rule that declares no type.

Both keep the dict reads of the old form one minor version (``x["key"]``, ``x.get("key")``),
with a ``DeprecationWarning`` naming the attribute to use.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar


def _deprecated_read(owner: str, key: str) -> None:
    warnings.warn(f"{owner}[{key!r}] is deprecated; use {owner}.{key} (the dict form goes in "
                  "the next minor version)", DeprecationWarning, stacklevel=3)


class _DictReads:
    """The old dict reads of a record, each with a DeprecationWarning naming the attribute."""

    _owner: ClassVar[str] = "record"

    def __getitem__(self, key: str) -> Any:
        _deprecated_read(self._owner, key)
        try:
            return self.to_dict()[key]
        except KeyError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        _deprecated_read(self._owner, key)
        return self.to_dict().get(key, default)

    def keys(self):
        warnings.warn(f"{self._owner}.keys() is deprecated; read the record's attributes",
                      DeprecationWarning, stacklevel=2)
        return self.to_dict().keys()

    def __iter__(self) -> Iterator[str]:
        warnings.warn(f"iterating {self._owner} is deprecated; read the record's attributes",
                      DeprecationWarning, stacklevel=2)
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


__all__ = ["Interval", "MappingInputs", "RuleInputs"]
