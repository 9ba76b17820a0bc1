"""The result store: keys, create/reopen, upserts, filters, and refusing foreign files."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3

import numpy as np
import pytest

from twostep.compare.execution.store import (
    APPLICATION_ID,
    RUN_DEFAULTS,
    Cell,
    Store,
    check_store_path,
    package_version,
)
from twostep.theory.config import ModelConfig
from twostep.theory.errors import ConfigError, NonFiniteError

BASE = ModelConfig()


def cell(N=100, seed=0, **config):
    return Cell(BASE.replace(**config), N, seed)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(path):
    return sorted(p.name for p in path.parent.iterdir())


# -- cells and keys ----------------------------------------------------------------

def test_cell_key_is_the_documented_hash():
    # The key format is a contract with every store on disk: if this changes,
    # old stores silently stop matching.  Recompute it from its definition.
    c = Cell(BASE, 1000, 3, {"top": 5})
    payload = {"config": BASE.to_dict(), "N": 1000, "seed": 3,
               "options": {**RUN_DEFAULTS, "top": 5}, "version": "9.9"}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert c.key("9.9") == hashlib.sha256(text.encode()).hexdigest()
    assert c.key() == c.key(package_version())


def test_cell_key_separates_what_differs_and_merges_defaults():
    c = cell()
    assert Cell(BASE, 100, 0, {"dtype": "float64", "top": 10}).key() == c.key()
    assert Cell(BASE, np.int64(100), np.int32(0)).key() == c.key()
    others = [cell(N=101), cell(seed=1), cell(alpha1=0.31), cell(batch="independent"),
              Cell(BASE, 100, 0, {"dtype": "float32"}), Cell(BASE, 100, 0, {"spectrum": True})]
    keys = {c.key()} | {o.key() for o in others}
    assert len(keys) == len(others) + 1
    assert c.key("0.0.1") != c.key()
    assert {c, cell()} == {c}  # hashable, equal cells collapse


@pytest.mark.parametrize("args, words", [
    ((BASE, 1, 0), "N must be an integer >= 2"),
    ((BASE, 100, -1), "seed must be an integer >= 0"),
    ((BASE, 2.5, 0), "N must be an integer"),
    ((BASE, 100, True), "seed must be an integer"),
    ((BASE, 100, 0, {"colour": 1}), "unknown run option(s) colour; allowed: dtype"),
    ((BASE, 100, 0, {"dtype": "float16"}), "dtype must be one of float64, float32"),
    ((BASE, 100, 0, {"top": 0}), "top must be an integer >= 1"),
    (("tanh", 100, 0), "needs a ModelConfig"),
])
def test_bad_cells_are_refused(args, words):
    with pytest.raises(ConfigError) as info:
        Cell(*args)
    assert words in str(info.value)
    assert "\n" not in str(info.value)


# -- create, reopen, write ---------------------------------------------------------

def test_create_marks_the_file_and_reopen_reads_it(tmp_path):
    path = tmp_path / "s.db"
    c = cell()
    with Store(path) as store:
        assert store.counts() == {"done": 0, "failed": 0}
        assert store.put_result(c, {"outliers": [3.0, 2.0]}, 1.5, started=100.0,
                                worker=("hostA", 42))
    header = path.read_bytes()[:100]
    assert header.startswith(b"SQLite format 3\x00")
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID
    conn = sqlite3.connect(path)
    assert dict(conn.execute("SELECT name, value FROM meta"))["format"] == "twostep-store"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()

    with Store(path) as store:
        assert store.has(c.key()) and store.done_keys() == {c.key()}
        assert list(store.results()) == [(c, {"outliers": [3.0, 2.0]})]
        row = store.record(c.key())
        assert (row["elapsed"], row["started"], row["host"], row["pid"]) == (1.5, 100.0,
                                                                            "hostA", 42)
        assert row["version"] == package_version() and row["attempts"] == 1
    with Store(path, readonly=True) as store:
        assert store.counts() == {"done": 1, "failed": 0}
        with pytest.raises(ConfigError, match="read-only"):
            store.put_result(cell(seed=1), {}, 0.0)


def test_same_key_twice_is_one_row_and_done_wins(tmp_path):
    a, b = cell(seed=0), cell(seed=1)
    with Store(tmp_path / "s.db") as store:
        assert store.put_failure(a, "ValueError: first", 0.1)
        assert store.put_failure(a, "ValueError: second", 0.1)  # a retry that failed again
        assert store.failed() == [(a, "ValueError: second")]
        assert store.record(a.key())["attempts"] == 2
        assert store.put_result(a, {"x": 1}, 0.2)  # the next retry succeeds
        assert not store.put_result(a, {"x": 2}, 0.2)  # done is final: never recomputed
        assert not store.put_failure(a, "late failure", 0.2)
        assert store.put_result(b, {"x": 3}, 0.2)
        assert store.counts() == {"done": 2, "failed": 0}
        assert store.failed() == []
        assert dict((c.seed, r) for c, r in store.results()) == {0: {"x": 1}, 1: {"x": 3}}
        assert store.record(a.key())["attempts"] == 3
        rows = store._conn.execute("SELECT count(*), count(DISTINCT key) FROM cells").fetchone()
        assert rows == (2, 2)


def test_non_finite_result_is_refused_and_not_written(tmp_path):
    with Store(tmp_path / "s.db") as store:
        with pytest.raises(NonFiniteError, match=r"result\['spectrum'\]\[2\]"):
            store.put_result(cell(), {"spectrum": [1.0, 2.0, float("inf")]}, 0.1)
        assert store.counts() == {"done": 0, "failed": 0}


def test_results_filters(tmp_path):
    cells = [Cell(BASE.replace(activation=a, alpha1=x), N, s, {"dtype": d})
             for a in ("tanh", "relu") for x in (0.3, 0.25) for N in (50, 100)
             for s in (0, 1) for d in ("float32", "float64")]
    with Store(tmp_path / "s.db") as store:
        for i, c in enumerate(cells):
            store.put_result(c, {"i": i}, 0.0)
        got = list(store.results(activation="relu", N=100, alpha1=0.25, dtype="float32"))
        assert sorted(c.seed for c, _ in got) == [0, 1]
        assert all(c.config.activation == "relu" and c.N == 100 and c.config.alpha1 == 0.25
                   and c.options["dtype"] == "float32" for c, _ in got)
        assert all(r == {"i": cells.index(c)} for c, r in got)
        assert len(list(store.results(seed=[0, 1], N=(50,)))) == len(cells) // 2
        ns = [c.N for c, _ in store.results()]
        assert ns == sorted(ns) and len(ns) == len(cells)
        with pytest.raises(ConfigError, match="unknown filter.*allowed: N, seed"):
            list(store.results(width=100))


def test_version_is_part_of_the_key(tmp_path):
    path = tmp_path / "s.db"
    c = cell()
    with Store(path, version="0.0.1") as old:
        old.put_result(c, {"x": "old"}, 0.0)
    with Store(path) as store:
        assert not store.has(c.key()) and store.counts() == {"done": 0, "failed": 0}
        assert list(store.results()) == []
        store.put_result(c, {"x": "new"}, 0.0)
        assert [r for _, r in store.results()] == [{"x": "new"}]
        assert sorted(r["x"] for _, r in store.results(version=None)) == ["new", "old"]
        assert store.counts(version=None) == {"done": 2, "failed": 0}


def test_a_reader_sees_each_commit_while_the_writer_is_open(tmp_path):
    path = tmp_path / "s.db"
    with Store(path) as writer:
        writer.put_result(cell(seed=0), {"x": 0}, 0.0)
        with Store(path, readonly=True) as reader:
            assert reader.counts()["done"] == 1
            writer.put_result(cell(seed=1), {"x": 1}, 0.0)
            assert reader.counts()["done"] == 2


def test_an_empty_file_is_refused_untouched(tmp_path):
    # twostep writes a new store whole, so an empty file is not one it made (issue 27)
    path = tmp_path / "made-by-mktemp.db"
    path.touch()
    before = path.stat()
    with pytest.raises(ConfigError, match="is an empty file .0 bytes. that twostep did not "
                                          "create"):
        Store(path)
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (0, before.st_mtime_ns,
                                                               before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made-by-mktemp.db"]


# -- refusing what is not ours ------------------------------------------------------

def _foreign_sqlite(path):
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE cells (key TEXT PRIMARY KEY, result TEXT)")
    conn.execute("INSERT INTO cells VALUES ('k', 'precious')")
    conn.commit()
    conn.close()


def _our_store_with_a_page_destroyed(path):
    with Store(path) as store:
        for seed in range(40):  # enough rows to fill several pages
            store.put_result(cell(seed=seed), {"padding": "x" * 300}, 0.0)
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    rng = np.random.default_rng(7)
    data[4096:8192] = rng.bytes(4096)  # page 2: a b-tree page
    path.write_bytes(bytes(data))


def _ours_without_meta(path):
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("CREATE TABLE other (x)")
    conn.commit()
    conn.close()


def _newer_schema(path):
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(np.random.default_rng(1).bytes(8192)), "not an SQLite database"),
    (lambda p: p.write_text("N,seed,outlier\n1000,0,2.95\n"), "not an SQLite database"),
    (_foreign_sqlite, "an SQLite database but not a twostep store (application_id 0x00000000"),
    (lambda p: p.write_bytes(b"SQLite format 3\x00" + b"\x00" * 20), "truncated SQLite header"),
    (_our_store_with_a_page_destroyed, "corrupt"),
    (_ours_without_meta, "not a twostep store (no meta/cells)"),
    (_newer_schema, "schema version 2, this twostep reads 1"),
])
def test_foreign_or_corrupt_files_are_refused_untouched(tmp_path, make, words):
    path = tmp_path / "results.db"
    make(path)
    before, names = digest(path), siblings(path)
    for attempt in (lambda: Store(path), lambda: Store(path, readonly=True),
                    lambda: check_store_path(path)):
        with pytest.raises(ConfigError) as info:
            attempt()
        message = str(info.value)
        assert words in message and "refusing" in message and "\n" not in message
    assert digest(path) == before
    assert siblings(path) == names  # no -wal/-shm/-journal left beside it


def test_bad_paths_are_refused_and_nothing_is_created(tmp_path):
    with pytest.raises(ConfigError, match="folder .*missing does not exist"):
        Store(tmp_path / "missing" / "s.db")
    with pytest.raises(ConfigError, match="is a folder"):
        Store(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        Store(tmp_path / "absent.db", readonly=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind (not root)")
def test_unwritable_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="is not writable"):
            Store(locked / "s.db")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
