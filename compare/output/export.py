"""Tidy (long) tables for papers and notebooks (docs/howto-paper.md): a store's per-seed
measurements and a verdict's or finding's per-N evidence.

:func:`store_rows` / :func:`store_frame` (``Store.to_frame()``): one row per (cell, config,
N, seed, observable, k, value).  The observables are found by walking the typed records of
:mod:`twostep.theory.observables` (``dataclasses.fields``), so a field added there exports
itself; fields that are not numbers (text, mappings) are left out, booleans are 1.0 / 0.0, and
a value that is None (not measured) gives no row.  Every column is described in
:data:`STORE_COLUMNS`.

:func:`evidence_rows` / :func:`evidence_frame` (``Verdict.evidence_frame()``,
``Finding.evidence_frame()``): one row per (claim, subject, config, N, statistic, value): the
evidence table's columns (machine names, :meth:`~twostep.compare.output.table.Table.machine`), the
per-seed values the finding recorded (its inputs), and the verdict's own statistic, interval
and p-value.  Only the standard library is needed for the rows; the frames need pandas, an
optional extra (:func:`require_pandas`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from twostep.simulate.measurement import Measurement, fields_of
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError
from twostep.theory.observables import Observable
from twostep.theory.spectra import Spectra

from .table import machine_name

#: The name of the optional extra that brings pandas and pyarrow.
EXTRA_HINT = "pip install 'twostep[export]'"

#: Config fields, in the order of :class:`ModelConfig`: one column each.
CONFIG_COLUMNS = tuple(f.name for f in dataclasses.fields(ModelConfig))

#: The columns of :func:`store_frame` and what they hold (docs/reference.md).
STORE_COLUMNS = {
    "cell": "the cell's store key (sha256; one simulation)",
    "version": "the twostep version that computed the cell",
    **{name: f"ModelConfig.{name}" for name in CONFIG_COLUMNS},
    "N": "the width", "d": "the input dimension", "n": "the batch size",
    "seed": "the seed",
    "run_<option>": "each run option of the cell (top, null_draws, terms, max_power, "
                    "spectrum, features, dtype, ...; a list joined by commas)",
    "matrix": "the spectrum's matrix (W1..WT, update) for spectrum.*, else empty",
    "observable": "dotted snake_case name: the Measurement field, then the record's field "
                  "(term.coherent_sq, projection.amplitude, outlier.value, "
                  "spectrum.bulk_edge_empirical, step_one_spike.value, series.residual, ...)",
    "k": "the term index of a term, projection or outlier (its term), else empty",
    "item": "position in a list of records (the outliers, the steps of dynamics), else empty",
    "j": "position in a vector-valued field (term.leakage[j]: the norm of T_j^T q_(k+1); "
         "term.singular_values[j]; outlier.left_overlaps[j]: with q_(j+1); series.norms[j]), "
         "else empty",
    "value": "the number (float; booleans 1.0 / 0.0)",
}

#: The list fields' record names in ``observable`` (others keep their field name).
_SINGULAR = {"terms": "term", "amplitudes": "projection", "outliers": "outlier",
             "spectra": "spectrum", "dynamics": "step"}

#: The Measurement fields that say which run it was, not what it measured: columns, not rows.
_RUN_FIELDS = frozenset(fields_of("run"))


def require_pandas(parquet: bool = False):
    """``pandas`` (and checks ``pyarrow`` for ``parquet``), or a one-line ConfigError (exit 2)
    naming the extra that installs them."""
    try:
        import pandas
    except ImportError:
        raise ConfigError(f"the export needs pandas, which is not installed: {EXTRA_HINT}") \
            from None
    if parquet:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError(f"parquet files need pyarrow, which is not installed: "
                              f"{EXTRA_HINT} (or --format csv)") from None
    return pandas


# -- measurements ---------------------------------------------------------------------------

def _number(x: Any) -> float | None:
    """``x`` as a float when it is a number (booleans 1.0 / 0.0; numpy scalars too), else
    None."""
    if isinstance(x, (bool, int, float, np.bool_, np.integer, np.floating)):
        return float(x)
    return None


Row = tuple[str | None, str, int | None, int | None, int | None, float]


def _record_k(record: Observable) -> int | None:
    """The term index of a record: its ``k`` (terms, projections) or ``term`` (outliers)."""
    for name in ("k", "term"):
        value = getattr(record, name, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _walk(prefix: str, value: Any, matrix: str | None, k: int | None,
          item: int | None) -> Iterator[Row]:
    """The rows of one value under the observable name ``prefix``: a number, a vector of
    numbers (``j``), a record (its fields), a list of records (``item``, ``k``) or the spectra
    (each under its matrix name, ``matrix``); anything else gives nothing."""
    x = _number(value)
    if x is not None:
        yield matrix, prefix, k, item, None, x
    elif isinstance(value, Spectra):
        for spec in value:
            yield from _walk(_SINGULAR.get(prefix, prefix), spec, spec.name, k, item)
    elif isinstance(value, Observable):
        for f in dataclasses.fields(value):
            if f.name == "k" or (f.name == "term" and k is not None):
                continue  # the k column
            yield from _walk(f"{prefix}.{f.name}", getattr(value, f.name), matrix, k, item)
    elif isinstance(value, (list, tuple)):
        if any(isinstance(v, (Observable, Mapping)) for v in value):
            name = _SINGULAR.get(prefix.rsplit(".", 1)[-1], None)
            prefix = prefix if name is None else (
                prefix.rsplit(".", 1)[0] + "." + name if "." in prefix else name)
            for i, v in enumerate(value):
                if isinstance(v, Observable):
                    yield from _walk(prefix, v, matrix, _record_k(v), i)
                elif isinstance(v, Mapping):  # dynamics: one dict per step
                    for key, sub in v.items():
                        yield from _walk(f"{prefix}.{machine_name(str(key))}", sub, matrix, k, i)
        else:
            for j, v in enumerate(value):
                x = _number(v)
                if x is not None:
                    yield matrix, prefix, k, item, j, x
    elif isinstance(value, Mapping) and value and all(
            isinstance(v, Observable) for v in value.values()):
        name = _SINGULAR.get(prefix, prefix)
        for key, v in value.items():
            yield from _walk(name, v, str(key), k, item)


def measurement_rows(measurement: Measurement | Mapping[str, Any]) -> Iterator[Row]:
    """``(matrix, observable, k, item, j, value)`` for every number a measurement holds (the
    module docstring); a stored dict of any format is read by ``Measurement.from_dict``."""
    m = Measurement.from_dict(measurement)
    for f in dataclasses.fields(m):
        if f.name not in _RUN_FIELDS:
            yield from _walk(f.name, getattr(m, f.name), None, None, None)


def _option_text(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return value


def store_rows(store: Any, **filters: Any) -> list[dict[str, Any]]:
    """The rows of :func:`store_frame` as dicts (no pandas needed)."""
    version = filters.pop("version", None)
    rows: list[dict[str, Any]] = []
    for v in [version] if version is not None else list(store.versions()):
        for cell, result in store.results(version=v, **filters):
            m = Measurement.from_dict(result)
            head = {"cell": cell.key(v), "version": v,
                    **{name: getattr(cell.config, name) for name in CONFIG_COLUMNS},
                    "N": cell.N, "d": m.d, "n": m.n, "seed": cell.seed,
                    **{f"run_{k}": _option_text(x) for k, x in sorted(cell.options.items())}}
            for matrix, observable, k, item, j, value in measurement_rows(m):
                rows.append({**head, "matrix": matrix, "observable": observable, "k": k,
                             "item": item, "j": j, "value": value})
    return rows


_INTEGER_COLUMNS = ("N", "d", "n", "seed", "k", "item", "j")


def store_frame(store: Any, **filters: Any):
    """The store's per-seed measurements as a long pandas DataFrame (:data:`STORE_COLUMNS`).

    ``filters``: those of ``Store.results`` (``N``, ``seed``, a ModelConfig field, a run
    option; ``version``: default every version in the store, the ``version`` column says
    which).  Integer columns with gaps (``k``, ``item``, ``j``) are pandas' nullable Int64."""
    pd = require_pandas()
    rows = store_rows(store, **filters)
    options = sorted({c for r in rows for c in r if c.startswith("run_")})
    columns = ["cell", "version", *CONFIG_COLUMNS, "N", "d", "n", "seed", *options, "matrix",
               "observable", "k", "item", "j", "value"]
    frame = pd.DataFrame(rows, columns=columns)
    for name in _INTEGER_COLUMNS:
        frame[name] = frame[name].astype("Int64")
    frame["value"] = frame["value"].astype("float64")
    return frame


# -- verdicts and findings ------------------------------------------------------------------

#: The columns of :func:`evidence_frame` and what they hold (docs/reference.md).
EVIDENCE_COLUMNS = {
    "claim": "the claim's name",
    "subject": "what was decided (a term, a count, a location ...)",
    "status": "the verdict's status (empty for a finding, not yet decided)",
    **{name: f"ModelConfig.{name}" for name in CONFIG_COLUMNS},
    "N": "the width of the row (the verdict's decided_at for verdict.*; empty: several "
         "widths or none)",
    "seeds": "the seeds at that width (the evidence table's), else empty",
    "statistic": "what the value is: an evidence column's machine name (measured, ci_low, "
                 "null_floor, local_slope, ...), input.<name> for the per-seed values and "
                 "per-N settings the finding recorded (input.values: the per-seed statistic "
                 "a limit rule decides on), extra.<name> (a finding's own data, e.g. "
                 "extra.signal), interval.values (the per-seed values the verdict's interval "
                 "is computed from), verdict.statistic / verdict.ci_low / verdict.ci_high / "
                 "verdict.pvalue / verdict.predicted, finding.* and pvalue.<test> (raw)",
    "item": "the seed's position (sorted seeds) for per-seed values, the evidence row for a "
            "table without N, else empty",
    "value": "the number (float; booleans 1.0 / 0.0)",
}


def _width(key: Any) -> int | None:
    """``key`` as a width N when it is one (an int, or the digits of a JSON key)."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.isdigit():
        return int(key)
    return None


def _plain(value: Any) -> Any:
    """A typed record (a dataclass, an Observable) as its mapping of fields."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    if callable(getattr(value, "to_dict", None)):
        return value.to_dict()
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _data_rows(prefix: str, value: Any, N: int | None = None
               ) -> Iterator[tuple[str, int | None, int | None, float]]:
    """``(statistic, N, item, value)`` for every number in a finding's data (mappings keyed by
    width give ``N``, lists of numbers ``item``, other keys a dotted name); the rest is left
    out."""
    value = _plain(value)
    x = _number(value)
    if x is not None:
        yield prefix, N, None, x
    elif isinstance(value, Mapping):
        for key, sub in value.items():
            width = _width(key) if N is None else None
            if width is not None:
                yield from _data_rows(prefix, sub, width)
            else:
                yield from _data_rows(f"{prefix}.{machine_name(str(key))}", sub, N)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            x = _number(v)
            if x is not None:
                yield prefix, N, i, x


def _table_rows(evidence: Any) -> Iterator[tuple[str, int | None, Any, int | None, float]]:
    """``(statistic, N, seeds, item, value)`` of an evidence table, in its machine form."""
    columns, rows = evidence.machine()
    by_N = "N" in columns
    for i, r in enumerate(rows):
        N = _width(r.get("N")) if by_N else None
        seeds = r.get("seeds")
        for c in columns:
            if c in ("N", "seeds"):
                continue
            x = _number(r.get(c))
            if x is not None:
                yield c, N, seeds, None if by_N else i, x


def _own_rows(result: Any) -> Iterator[tuple[str, int | None, int | None, float]]:
    """The verdict's (or finding's) own numbers: statistic, interval, p-values, and what the
    statistic was computed from."""
    kind = "verdict" if hasattr(result, "status") else "finding"
    N = getattr(result, "decided_at", None)
    low, high = tuple(result.ci) if result.ci is not None else (None, None)
    for name, x in (("statistic", result.statistic), ("ci_low", low), ("ci_high", high),
                    ("pvalue", getattr(result, "pvalue", None)), ("predicted", result.predicted)):
        x = _number(x)
        if x is not None and math.isfinite(x):
            yield f"{kind}.{name}", N, None, x
    if kind == "finding":
        for name, p in ((t.test, t.p) for t in result.pvalues.tests):
            at = _width(name.rsplit("@", 1)[-1]) if "@" in name else None
            x = _number(p)
            if x is not None and math.isfinite(x):
                yield f"pvalue.{machine_name(name.split('@')[0])}", at, None, x
        yield from _data_rows("input", result.inputs)
        if result.extra is not None:
            yield from _data_rows("extra", result.extra.to_dict())
        return
    interval = _plain(getattr(result, "interval", None)) or {}   # an Interval record
    values = interval.get("values")
    yield from _data_rows("interval.values", values, N if not isinstance(values, Mapping)
                          else None)


def evidence_rows(result: Any) -> list[dict[str, Any]]:
    """The rows of :func:`evidence_frame` for one :class:`~.claims.results.Verdict` or
    :class:`~.claims.results.Finding`, as dicts (no pandas needed)."""
    config = result.config
    head = {"claim": result.claim, "subject": result.subject,
            "status": getattr(result, "status", None),
            **{name: getattr(config, name) if config is not None else None
               for name in CONFIG_COLUMNS}}
    rows = [{**head, "N": N, "seeds": seeds, "statistic": s, "item": item, "value": x}
            for s, N, seeds, item, x in _table_rows(result.evidence)]
    seeds_at = {r["N"]: r["seeds"] for r in rows if r["N"] is not None}
    rows += [{**head, "N": N, "seeds": seeds_at.get(N), "statistic": s, "item": item,
              "value": x} for s, N, item, x in _own_rows(result)]
    return rows


def evidence_frame(results: Any):
    """The per-N evidence of a verdict or finding (or of a list of them) as a long pandas
    DataFrame (:data:`EVIDENCE_COLUMNS`)."""
    pd = require_pandas()
    many = results if isinstance(results, (list, tuple)) else [results]
    rows = [r for result in many for r in evidence_rows(result)]
    frame = pd.DataFrame(rows, columns=list(EVIDENCE_COLUMNS))
    for name in ("N", "seeds", "item"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("Int64")
    frame["value"] = frame["value"].astype("float64")
    return frame
