"""The ``Measurement`` of one simulation and its JSON + npz files.

The observables are the types of :mod:`twostep.theory.observables`, shared with the theory's
``Prediction`` under the same names (one vocabulary, docs/reference.md): ``step_one_spike``
(:class:`StepOneSpike`), ``outliers`` (:class:`Outlier`), ``amplitudes`` (:class:`Projection`),
``terms`` (:class:`ExactTerm`), ``beta`` (:class:`BetaLearning`), ``features``
(:class:`FeatureSpikes`). ``visible_new_outliers`` is what a finite N shows (W_T's outliers
minus W_{T-1}'s), not the theory's asymptotic ``paper_count`` / ``aware_count``. Every overlap
stored here is a squared cosine in [0, 1].

Files: ``save(path)`` writes the JSON (``to_dict()``, pure JSON types) at
``path`` and a sibling ``.npz`` with the arrays (top singular values of each
spectrum and, with ``spectrum=True``, the full spectra). Both are written to
temporary files in the target directory and renamed into place, npz first,
so a reader never sees a half-written file and the JSON appears last.  Nothing is
lost on the way (:meth:`Measurement.check_save`): a file is written where none is, and
replaced only when twostep wrote it (a measurement JSON, an npz of its arrays) and
``force=True``; a symbolic link, a device, FIFO or socket, or any file twostep did not write
is never replaced, whatever ``force``.  The files get the modes of the user's umask.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import os
import platform
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from twostep.theory import ConfigError, ModelConfig, html
from twostep.theory.deprecation import moved_names
from twostep.theory.fields import (
    _of,
    kind_fields,
)
from twostep.theory.observables import Observable, Observables, Series, StepStats

from .files import (
    is_measurement_file,
    is_measurement_npz,
    place_new,
    refuse_to_replace,
    umask,
)
from .formats import FORMAT, OLD_FORMATS, upgrade
from .missing import unmeasured
from .options import (
    Provenance,
    RunOptions,
    Timing,
    Versions,
)


def package_version() -> str:
    """The installed twostep version (recorded in every measurement, part of every store key,
    printed by ``twostep --version``); ``0+unknown`` in a source tree without install."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("twostep")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0+unknown"


def versions() -> Versions:
    """Versions of twostep, numpy, scipy and python that made the measurement."""
    import scipy

    return Versions(twostep=package_version(), numpy=np.__version__, scipy=scipy.__version__,
                    python=platform.python_version())


def _jsonable(value: Any, where: str = "") -> Any:
    """Plain JSON types: numpy scalars become Python numbers; arrays are refused."""
    if isinstance(value, Observable):
        return _jsonable(value.to_dict(), where)
    if isinstance(value, ModelConfig):
        return _jsonable(value.to_dict(), where)
    if isinstance(value, dict):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        raise TypeError(f"array at {where} must go to the npz file, not the JSON")
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        out = float(value)
        if out != out or out in (float("inf"), float("-inf")):
            raise ValueError(f"non-finite number at {where}")
        return out
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"{type(value).__name__} at {where} is not JSON")


@dataclass(frozen=True, kw_only=True)
class Measurement(Observables):
    """One simulated run (see the module docstring and :func:`twostep.simulate.run`): the
    :class:`~twostep.theory.observables.Observables` a run measured (the fields and types of
    ``Prediction.at(N)``, declared once there, with :meth:`term` / :meth:`amplitude` by k
    and :meth:`why` a field is None), and the run's own fields (keywords only): ``config``,
    ``seed``, ``options``, ``provenance``, ``versions``, ``timing``, the empirical edge,
    ``dynamics`` and the ``series`` diagnostics of the exact terms (docs/theory.md).

    ``spectrum(name)`` (``W1``..``WT``, ``update``: those the run computed, ``spectra`` in
    order) are :class:`Spectrum` records with ``singular_values`` (top, descending),
    ``bulk_edge`` (theory, W_0's ``1 + sqrt(N/d)``; None for the update), ``bulk_edge_empirical``,
    ``margin`` and ``outliers``; with ``spectrum=True`` also ``values`` (all singular values,
    an array kept in the npz) and ``histogram``.  Observables whose spectrum was not computed
    are None, and ``missing`` (derived from the options, never stored) says so.  Mappings
    given for the observables (from JSON) are converted to their types.  What each field is a
    function of: its ``metadata["of"]`` (:data:`FIELD_KINDS`, :func:`fields_of`).
    """

    config: ModelConfig = _of("run")
    seed: int = _of("run")
    options: RunOptions = _of("run", default_factory=RunOptions)
    provenance: Provenance = _of("run", default_factory=Provenance)
    versions: Versions = _of("run", default_factory=Versions)
    timing: Timing = _of("run", default_factory=Timing)
    bulk_edge_empirical: float | None = _of("step two", default=None)
    dynamics: tuple[StepStats, ...] = _of("per step", default=())
    series: Series | None = _of("exact terms", default=None)

    def __post_init__(self) -> None:
        fix = object.__setattr__
        if isinstance(self.config, Mapping):
            fix(self, "config", ModelConfig.from_dict(self.config))
        elif not isinstance(self.config, ModelConfig):
            raise ConfigError(f"config must be a ModelConfig, got {type(self.config).__name__}")
        if not isinstance(self.options, RunOptions):
            fix(self, "options", RunOptions.from_mapping(self.options))  # unknown names: refused
        fix(self, "provenance", Provenance.from_dict(self.provenance or {}))
        fix(self, "versions", Versions.from_dict(self.versions or {}))
        fix(self, "timing", Timing.from_dict(self.timing or {}))
        super().__post_init__()  # the observables' types (the spectra's steps: _step_count)
        fix(self, "series", None if self.series is None else Series.from_dict(self.series))
        fix(self, "dynamics", tuple(StepStats.from_dict(s) for s in self.dynamics or ()))
        fix(self, "missing", unmeasured(self))

    def _step_count(self) -> int:
        return len(self.provenance.steps) or 2

    def __getitem__(self, key: Any) -> Any:
        """Refused in one line: a measurement is read by attribute (formats 1 and 2 were
        dicts; docs/howto-own-claim.md)."""
        raise TypeError(f"a measurement is read by attribute: m.{key}, not m[{key!r}] "
                        "(docs/howto-own-claim.md)")

    def __repr__(self) -> str:
        values = None if self.outliers is None else [round(o.value, 4) for o in self.outliers]
        return (f"Measurement(N={self.N}, d={self.d}, n={self.n}, seed={self.seed}, "
                f"activation={html.short(self.config.activation, 30)!r}, "
                f"target={self.config.target!r}, outliers={html.short(values, 40)}, "
                f"visible_new_outliers={self.visible_new_outliers}, "
                f"bulk_edge_empirical={self.bulk_edge_empirical})")

    def _repr_html_(self) -> str:
        return html.observables(self, f"Measurement at N = {self.N}, seed {self.seed}")

    # -- arrays ---------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays that go to the npz file, by key ``<spectrum>.<field>``."""
        out = {}
        for spec in self.spectra:
            out[f"{spec.name}.singular_values"] = np.asarray(spec.singular_values, dtype=float)
            if isinstance(spec.values, np.ndarray):
                out[f"{spec.name}.values"] = spec.values
        return out

    # -- dict / JSON -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Pure JSON types; full spectra are replaced by ``{"npz": key, "size": n}``."""
        data = {f.name: copy.copy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        spectra = {}  # the JSON object {name: spectrum} of every format
        for entry in self.spectra:
            spec = entry.to_dict()
            if isinstance(spec.get("values"), np.ndarray):
                spec["values"] = {"npz": f"{entry.name}.values",
                                  "size": int(spec["values"].size)}
            spectra[entry.name] = spec
        data["spectra"] = spectra
        data["options"] = self.options.to_dict()
        del data["missing"]  # derived from the options (:func:`unmeasured`), never stored
        data["format"] = FORMAT
        return _jsonable(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """The measurement of ``to_dict()`` (or of an earlier format, renamed); refuses
        unknown or missing fields in one line."""
        if isinstance(data, Measurement):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(f"a measurement must be a mapping, got {type(data).__name__}")
        data = dict(data)
        fmt = data.pop("format", FORMAT)
        if fmt in OLD_FORMATS:
            data = upgrade(data, fmt)
        elif fmt != FORMAT:
            raise ConfigError(f"unknown measurement format {fmt!r}; expected {FORMAT!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        unknown = sorted(set(data) - names)
        missing = sorted(required - set(data))
        if unknown or missing:
            raise ConfigError(f"not a measurement: unknown field(s) {unknown}, "
                              f"missing field(s) {missing}")
        return cls(**data)

    # -- files -------------------------------------------------------------------
    @staticmethod
    def npz_path(path: str | os.PathLike) -> Path:
        path = Path(path)
        if path.suffix == ".npz":
            raise ConfigError(f"{path}: the JSON file may not end in .npz (its arrays go there)")
        return path.with_suffix(".npz")

    @classmethod
    def check_save(cls, path: str | os.PathLike, *, force: bool = False,
                   force_hint: str = "force=True") -> list[Path]:
        """Refuse (one-line ConfigError, before any work) a :meth:`save` that could lose
        something; return the files (``path``, its npz) that exist and will be replaced.

        Each of the two files may be missing (it is created), or a regular file twostep
        wrote (a measurement JSON, an npz of its arrays), replaced only with ``force``.
        Refused whatever ``force``: a symbolic link (its target is never written through
        or replaced), a folder, a device, FIFO or socket, and a file twostep did not write.
        ``force_hint`` is how the caller spells ``force`` in the advice.
        """
        path = Path(path)
        replaced = []
        for target, ours, what in ((path, is_measurement_file, "a twostep measurement"),
                                   (cls.npz_path(path), is_measurement_npz,
                                    "the arrays of a twostep measurement")):
            try:
                info = os.lstat(target)
            except FileNotFoundError:
                continue
            except OSError as err:
                raise ConfigError(f"{target}: cannot be examined ({err.strerror or err}); "
                                  "nothing was written") from None
            refuse_to_replace(str(target), info.st_mode, ours=functools.partial(ours, target),
                              what=what, force=force, force_hint=force_hint)
            replaced.append(target)
        return replaced

    def save(self, path: str | os.PathLike, *, force: bool = False) -> Path:
        """Write ``path`` (JSON) and its sibling ``.npz`` atomically; return the JSON path.

        Existing files are replaced only when twostep wrote them and ``force`` is true
        (:meth:`check_save`, the module docstring); the files get the umask's modes.
        """
        path = Path(path)
        npz = self.npz_path(path)
        replace = set(self.check_save(path, force=force))
        text = json.dumps(self.to_dict(), indent=1, sort_keys=True)
        arrays = self.arrays()
        directory = path.parent if str(path.parent) else Path(".")
        mode = 0o666 & ~umask()
        temps: list[str] = []
        created: list[Path] = []
        try:
            with tempfile.NamedTemporaryFile("wb", dir=directory, prefix=f".{npz.name}.",
                                             delete=False) as fh:
                temps.append(fh.name)
                np.savez(fh, **arrays)
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            with tempfile.NamedTemporaryFile("w", dir=directory, prefix=f".{path.name}.",
                                             delete=False, encoding="utf-8") as fh:
                temps.append(fh.name)
                fh.write(text + "\n")
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                os.fsync(fh.fileno())
            for temp, target in zip(temps, (npz, path)):
                if target in replace:
                    self.check_save(path, force=True)  # still only twostep's own files?
                    os.replace(temp, target)
                else:
                    place_new(temp, target)
                    created.append(target)
        except BaseException:
            for target in created:  # only what this call created
                target.unlink(missing_ok=True)
            raise
        finally:
            for name in temps:
                if os.path.lexists(name):
                    os.unlink(name)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Measurement:
        """Read a file written by :meth:`save` (arrays restored from the npz)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such measurement file") from None
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None
        spectra = data.get("spectra") if isinstance(data, dict) else None
        if not isinstance(spectra, Mapping):
            spectra = {}
        wanted = {name: spec["values"]["npz"] for name, spec in spectra.items()
                  if isinstance(spec, Mapping) and isinstance(spec.get("values"), Mapping)}
        if wanted:
            # the arrays go into the spectra before the measurement is built (it is frozen:
            # nothing of it is changed after construction)
            npz = cls.npz_path(path)
            if not npz.exists():
                raise ConfigError(f"{npz}: missing arrays file of {path}")
            restored = dict(spectra)
            with np.load(npz) as arrays:
                for name, key in wanted.items():
                    if key not in arrays:
                        raise ConfigError(f"{npz}: array {key!r} is missing")
                    restored[name] = {**spectra[name], "values": arrays[key]}
            data = {**data, "spectra": restored}
        return cls.from_dict(data)


def fields_of(*kinds: str) -> tuple[str, ...]:
    """The names of the :class:`Measurement` fields of these kinds (:data:`FIELD_KINDS`), in
    field order."""
    return kind_fields(Measurement, *kinds)


def field_defaults(names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """The default value of each named :class:`Measurement` field (a fresh one for the
    containers): what a measurement holds where it has nothing."""
    out = {}
    for f in dataclasses.fields(Measurement):
        if f.name in names:
            if f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            elif f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            else:
                raise ValueError(f"the Measurement field {f.name!r} has no default")
    missing = sorted(set(names) - set(out))
    if missing:
        raise ValueError(f"no Measurement field(s) {missing}")
    return out


#: names importable from here before 0.4, now only from their own module
__getattr__ = moved_names(__name__, {
    "FIELD_KINDS": "twostep.theory.fields",
    "Step": "twostep.simulate.options",
})
