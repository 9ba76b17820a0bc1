"""Reading cells back: the SQL of :meth:`Store.results` and :meth:`Store.failed` filters.

Every filter is a condition of the query: ``N`` and ``seed`` are columns, config fields and
run options are read from the stored JSON with ``json_extract`` (booleans are 0/1 there).
Float config fields are narrowed in SQL with a relative 1e-12 and compared exactly in Python.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError

from .cell import _OPTIONAL_OPTIONS, RUN_DEFAULTS, Cell

_FLOAT_FIELDS = tuple(f.name for f in dataclasses.fields(ModelConfig) if f.type in ("float", float))


def allowed_filters() -> tuple[str, ...]:
    """The names :meth:`Store.results` filters by."""
    return ("N", "seed", "version", *ModelConfig.fields(), *RUN_DEFAULTS,
            *(k for k in _OPTIONAL_OPTIONS if k != "spectra"))


def rows(conn: sqlite3.Connection, status: str, version: str | None,
         filters: dict[str, Any]) -> Iterator[tuple[Cell, str]]:
    """Cells of ``status`` (and ``version``; None: all) matching ``filters``, with their
    result JSON (done) or error text (failed), ordered by N, config, seed."""
    allowed = allowed_filters()
    unknown = sorted(set(filters) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown filter(s) {', '.join(unknown)}; allowed: "
                          f"{', '.join(allowed)}")
    sql = "SELECT config, N, seed, options, {} FROM cells WHERE status = ?"
    params: list[Any] = [status]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    exact: dict[str, list[float]] = {}
    for name, value in filters.items():
        values = _filter_values(name, value)
        if name in _FLOAT_FIELDS:
            exact[name] = values
        sql += _condition(name, values, params)
    column = "result" if status == "done" else "error"
    sql = sql.format(column) + " ORDER BY N, config_key, seed, key"
    for config_text, N, seed, options_text, payload in conn.execute(sql, params):
        config = _config_from_json(config_text)
        if all(getattr(config, name) in values for name, values in exact.items()):
            yield Cell(config, N, seed, json.loads(options_text)), payload


def _condition(name: str, values: list[Any], params: list[Any]) -> str:
    """The SQL condition of one filter; its parameters are appended to ``params``."""
    if name in ("N", "seed"):
        column = name
    elif name in _OPTIONAL_OPTIONS:
        column = f"coalesce(json_extract(options, '$.{name}'), ?)"
        params.append(_OPTIONAL_OPTIONS[name])
    elif name in RUN_DEFAULTS:
        column = f"json_extract(options, '$.{name}')"
    elif name in _FLOAT_FIELDS:
        # SQL narrows with a relative 1e-12 (a JSON number parsed by SQLite need not
        # be the double Python parsed); the exact comparison is made by the caller
        column = f"json_extract(config, '$.{name}')"
        params.extend(x for v in values for x in (v, v))
        return " AND (" + " OR ".join(
            f"abs({column} - ?) <= 1e-12 * max(1.0, abs(?))" for _ in values) + ")"
    else:
        column = f"json_extract(config, '$.{name}')"
    params.extend(int(v) if isinstance(v, bool) else v for v in values)
    return f" AND {column} IN ({', '.join('?' * len(values))})"


def _filter_values(name: str, value: Any) -> list[Any]:
    from twostep.theory.functions import parse_function

    values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
    out = []
    for v in values:
        if name in ("activation", "target"):
            out.append(parse_function(str(v)).text)
        elif name in ("N", "seed"):
            out.append(int(v))
        elif name in _FLOAT_FIELDS:
            out.append(float(v))
        else:
            out.append(v)
    return out


@functools.lru_cache(maxsize=1024)
def _config_from_json(text: str) -> ModelConfig:
    # Parsing a config re-parses its sympy functions: cache by the stored text.
    return ModelConfig.from_json(text)
