"""The tidy export (issue 29, part 1): ``Store.to_frame()``, ``twostep export`` and the
verdicts' evidence as long tables.

One small store is filled for the module by two ``twostep verify`` runs (``growth-exponent``
and ``bbp``, N = 40, 80, 160, 3 seeds, inline: a few seconds); the done-when check recomputes
an exponent verdict's and a limit verdict's statistic from the exported per-seed rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from _cli import run_cli

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from twostep.compare.cli import main  # noqa: E402
from twostep.compare.execution.store import Store  # noqa: E402
from twostep.compare.output import export  # noqa: E402
from twostep.compare.science import stats  # noqa: E402
from twostep.simulate import Measurement  # noqa: E402
from twostep.theory.config import ModelConfig  # noqa: E402
from twostep.theory.observables import ExactTerm  # noqa: E402

#: the exponent config: etabar1 0.3 keeps the series of exact terms converging at every N
EXPONENT_CONFIG = {"activation": "tanh(z + 1/2)", "alpha1": 0.2, "alpha2": 0.4,
                   "batch": "independent", "etabar1": 0.3}
SMALL = ["--N", "40", "80", "160", "--seeds", "3", "--executor", "inline", "--quiet",
         "--no-plots", "--json"]
#: The recomputations repeat the claims' arithmetic on the same float64 numbers (bit-identical
#: after the parquet round trip) in another order (pandas' group means, numpy's polyfit, scipy's
#: t quantile): the results agree to a few ulps; 1e-12 relative leaves a wide margin.
RTOL = 1e-12


def _verify(root: Path, claim: str, *extra: str) -> list[dict]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["verify", "--claim", claim, *extra, *SMALL, "--store",
                     str(root / "s.sqlite"), "--out", str(root / f"report-{claim}")])
    assert code == 0, err.getvalue()
    return json.loads(out.getvalue())["verdicts"]


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """(store path, {claim: verdict dicts}) of two small verify runs into one store."""
    root = tmp_path_factory.mktemp("export")
    (root / "c.json").write_text(json.dumps(EXPONENT_CONFIG))
    verdicts = {"growth-exponent": _verify(root, "growth-exponent", "--config",
                                           str(root / "c.json")),
                "bbp": _verify(root, "bbp")}
    return root / "s.sqlite", verdicts


@pytest.fixture(scope="module")
def exported(filled, tmp_path_factory):
    """The store exported by the command, as parquet and as CSV, read back by pandas."""
    store, _ = filled
    root = tmp_path_factory.mktemp("exported")
    frames = {}
    for fmt in ("parquet", "csv"):
        out = root / f"t.{fmt}"
        code = main(["export", str(store), "--out", str(out), "--format", fmt])
        assert code == 0
        frames[fmt] = (pd.read_parquet(out) if fmt == "parquet"
                       else pd.read_csv(out))
    return frames


def _config_rows(frame, config: dict):
    mask = np.ones(len(frame), bool)
    for name, value in ModelConfig.from_dict(config).to_dict().items():
        mask &= (frame[name] == value).to_numpy()
    return frame[mask]


# -- the done-when check ---------------------------------------------------------------------

def test_an_exponent_verdict_is_recomputed_from_the_exported_rows(filled, exported):
    _, verdicts = filled
    v = next(v for v in verdicts["growth-exponent"] if v["subject"].startswith("term k=0"))
    assert v["statistic"] is not None, v["reason"]  # a fit at the three widths
    df = _config_rows(exported["parquet"], EXPONENT_CONFIG)
    amp = df[(df.observable == "projection.amplitude") & (df.k == 0)].sort_values(["N", "seed"])
    floor = df[(df.observable == "projection.null_floor") & (df.k == 0)].groupby("N").value.mean()
    # the claim's signal: sqrt(A^2 - mean floor^2) per seed (compare/science/claims/exponent.py)
    signal = {int(N): np.sqrt(np.maximum(g.value.to_numpy() ** 2 - floor[N] ** 2, 0)).tolist()
              for N, g in amp.groupby("N")}
    Ns = sorted(signal)
    slope = np.polyfit(np.log(Ns), [np.mean(np.log(signal[N])) for N in Ns], 1)[0]
    assert slope == pytest.approx(v["statistic"], rel=RTOL)
    fit = stats.fit_exponent(signal)  # the bootstrap interval: deterministic (default_rng(0))
    assert (fit.low, fit.high) == pytest.approx(tuple(v["ci"]), rel=RTOL)


def test_a_limit_verdict_is_recomputed_from_the_exported_rows(filled, exported):
    from scipy import stats as st

    _, verdicts = filled
    v = verdicts["bbp"][0]  # the top singular value of W_1: a limit verdict
    df = exported["csv"]
    x = df[(df.observable == "step_one_spike.value") & (df.alpha1 == 0)
           & (df.N == v["decided_at"])].value.to_numpy()
    assert x.size == 3
    half = st.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    assert x.mean() == pytest.approx(v["statistic"], rel=RTOL)
    assert (x.mean() - half, x.mean() + half) == pytest.approx(tuple(v["ci"]), rel=RTOL)


# -- the store's table -----------------------------------------------------------------------

def test_csv_and_parquet_hold_the_same_table(exported):
    a, b = exported["parquet"], exported["csv"]
    assert list(a.columns) == list(b.columns)
    assert list(a.columns[:2]) == ["cell", "version"]
    assert list(a.columns[-6:]) == ["matrix", "observable", "k", "item", "j", "value"]
    for name in ("N", "seed", "k", "item", "j", "value", "alpha1", "etabar1"):
        assert pd.api.types.is_numeric_dtype(a[name]) and pd.api.types.is_numeric_dtype(b[name])
    # CSV holds each float's repr; a parser may round its last digit (pandas' fast one did)
    np.testing.assert_allclose(a.value.to_numpy(), b.value.to_numpy(), rtol=RTOL, atol=0)
    assert (a.observable == b.observable).all()


def test_every_per_seed_statistic_a_verdict_reads_is_there(exported):
    names = set(exported["parquet"].observable)
    assert {"term.coherent_sq", "term.coherent_sq_se", "term.left_weight",
            "term.beta_component", "term.amplitude", "term.null_floor", "term.leakage",
            "projection.amplitude", "projection.null_floor", "projection.beta_overlap",
            "series.residual", "series.converges", "beta.overlap", "step_one_spike.value",
            "step_one_spike.right_beta_overlap", "step_one_spike.left_a_overlap",
            "spectrum.singular_values", "spectrum.bulk_edge_empirical"} <= names
    assert all(n == n.lower() or ".K" in n for n in names)  # field names, snake_case


def test_the_rows_match_the_stored_measurements(filled):
    store, _ = filled
    with Store(store, readonly=True) as s:
        frame = s.to_frame(N=80, seed=1)
        cells = list(s.results(N=80, seed=1))
    for cell, result in cells:
        m = Measurement.from_dict(result)
        mine = frame[frame.cell == cell.key(s.version)]
        for t in m.terms or ():
            row = mine[(mine.observable == "term.coherent_sq") & (mine.k == t.k)]
            assert row.value.tolist() == [t.coherent_sq]
            leak = mine[(mine.observable == "term.leakage") & (mine.k == t.k)].sort_values("j")
            assert leak.value.tolist() == [x for x in t.leakage if x is not None]
        if m.spectra.get("W1"):
            top = mine[(mine.observable == "spectrum.singular_values") & (mine.matrix == "W1")]
            assert top.sort_values("j").value.tolist() == list(m.spectrum("W1").singular_values)


def test_a_new_field_of_a_record_exports_itself(filled):
    @dataclass(frozen=True)
    class Richer(ExactTerm):
        new_statistic: float | None = None
        label: str | None = None

    store, _ = filled
    with Store(store, readonly=True) as s:
        _, result = next(s.results(N=40, seed=0, batch="independent"))
    m = Measurement.from_dict(result)
    m = dataclasses.replace(m, terms=(Richer(k=3, left_power=4, new_statistic=2.5,
                                             label="text", leakage=(0.1, None, 0.3)),))
    rows = [r for r in export.measurement_rows(m) if r[1].startswith("term.")]
    assert (None, "term.new_statistic", 3, 0, None, 2.5) in rows
    assert [(r[4], r[5]) for r in rows if r[1] == "term.leakage"] == [(0, 0.1), (2, 0.3)]
    assert not any("label" in r[1] for r in rows)  # text is not a number


@pytest.mark.parametrize("version", ["v0_1", "v0_2"])
def test_stores_of_earlier_versions_export(version, tmp_path):
    fixture = Path(__file__).parent / "data" / version / "sweep.sqlite"
    store = Path(shutil.copy(fixture, tmp_path / "sweep.sqlite"))
    with Store(store, readonly=True) as s:
        frame = s.to_frame()
        cells = list(s.results(version=None))
    assert len(frame) and frame.cell.nunique() == len(cells)
    assert set(frame.version) == {"0.1.0" if version == "v0_1" else "0.2.0"}
    cell, result = cells[0]
    m = Measurement.from_dict(result)
    got = frame[(frame.N == cell.N) & (frame.seed == cell.seed)
                & (frame.alpha1 == cell.config.alpha1) & (frame.batch == cell.config.batch)
                & (frame.observable == "projection.amplitude")].sort_values("k")
    assert got.value.tolist() == [a.amplitude for a in m.amplitudes]


# -- verdicts and findings -------------------------------------------------------------------

def test_a_finding_exports_its_per_seed_inputs_and_its_table():
    from twostep.compare.science.claims import decide_all, limit_finding

    values = {100: [1.0, 1.2, 0.9], 200: [1.05, 0.98, 1.01]}
    f = limit_finding("mine", "a limit", ModelConfig(), values, 1.0, 0.1)
    rows = pd.DataFrame(f.to_rows())
    seeds = rows[rows.statistic == "input.values"].sort_values(["N", "item"])
    assert seeds.value.tolist() == values[100] + values[200]
    assert seeds.item.tolist() == [0, 1, 2, 0, 1, 2] and set(seeds.seeds) == {3}
    measured = rows[rows.statistic == "measured"].set_index("N").value
    assert measured[200] == pytest.approx(np.mean(values[200]), rel=RTOL)
    (v,) = decide_all([f])
    frame = v.evidence_frame()
    assert frame.status.unique().tolist() == [v.status]
    own = frame[frame.statistic.str.startswith("verdict.")].set_index("statistic")
    assert own.value["verdict.statistic"] == v.statistic and own.N.unique().tolist() == [200]
    assert own.value["verdict.ci_low"] == v.ci[0]
    interval = frame[frame.statistic == "interval.values"]
    assert interval.value.tolist() == values[200] and set(interval.N) == {200}
    assert {"ci_low", "ci_high", "deviation", "tolerance", "predicted"} <= set(frame.statistic)


def test_machine_csv_of_a_table():
    from twostep.compare.output.table import Table, machine_name

    assert machine_name("overlap with q_(k+1) (mean)") == "overlap_with_q_k_plus_1_mean"
    assert [machine_name(c) for c in ("N", "CI low", "#", "seeds with outlier")] == \
        ["N", "ci_low", "number", "seeds_with_outlier"]
    t = Table(["N", "above floor", "identified", "predicted", "CI", "text"])
    t.add(N=20, **{"above floor": True, "identified": "3/4", "predicted": "N^0.4",
                   "CI": "[0.1, 2e-3]", "text": "a/b"})
    t.add(N=40, **{"above floor": False, "identified": "-", "predicted": "N^-1.5",
                   "CI": "-", "text": "-"})
    assert t.to_csv() == (
        "N,above_floor,identified,identified_of,predicted_exponent,ci_low,ci_high,text\n"
        "20,true,3,4,0.4,0.1,0.002,a/b\n"
        "40,false,,,-1.5,,,-\n")
    assert "| 20 | yes | 3/4 | N^0.4 |" in t.to_markdown()  # the human form is unchanged


# -- the command -----------------------------------------------------------------------------

@pytest.fixture
def work(filled, tmp_path, monkeypatch):
    shutil.copy(filled[0], tmp_path / "s.sqlite")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(capsys, *argv):
    code, out, err = run_cli(capsys, "export", "s.sqlite", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1, (code, out, err)
    return err


def test_export_json_summary_and_replace_only_with_force(work, capsys):
    code, out, _ = run_cli(capsys, "export", "s.sqlite", "--out", "t.csv", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["format"] == "csv" and data["rows"] == len(pd.read_csv("t.csv"))
    assert data["columns"][-3:] == ["item", "j", "value"] and data["cells"] > 0
    assert "--force to replace it" in _refused(capsys, "--out", "t.csv")
    code, _, err = run_cli(capsys, "export", "s.sqlite", "--out", "t.csv", "--force")
    assert code == 0 and "rows" in err
    code, out, _ = run_cli(capsys, "export", "s.sqlite", "--out", "t.parquet", "--json")
    assert json.loads(out)["format"] == "parquet"  # from the suffix
    assert run_cli(capsys, "export", "s.sqlite", "--out", "t.parquet", "--force")[0] == 0
    assert sorted(p.name for p in work.iterdir()) == ["s.sqlite", "t.csv", "t.parquet"]


@pytest.mark.parametrize("plant", ["theirs", "link", "folder"])
def test_export_never_replaces_what_twostep_did_not_write(work, capsys, plant):
    target = work / "t.csv"
    if plant == "theirs":
        target.write_text("a,b\n1,2\n")
    elif plant == "link":
        (work / "mine.csv").write_text("x\n")
        target.symlink_to(work / "mine.csv")
    else:
        target.mkdir()
    before = sorted(p.name for p in work.iterdir())
    err = _refused(capsys, "--out", "t.csv", "--force")
    assert {"theirs": "twostep did not write it (not a twostep export)", "link": "symbolic link",
            "folder": "is a folder"}[plant] in err
    assert sorted(p.name for p in work.iterdir()) == before
    if plant == "theirs":
        assert target.read_text() == "a,b\n1,2\n"


def test_export_leaves_nothing_half_written(work, capsys, monkeypatch):
    from twostep.compare.commands import export as command

    def broken(frame, fh, fmt, store):
        fh.write("cell,version\n")
        raise OSError(28, "No space left on device", str(work / "t.csv"))

    monkeypatch.setattr(command, "_write_table", broken)
    code, out, err = run_cli(capsys, "export", "s.sqlite", "--out", "t.csv")
    assert code == 1 and "the disk is full" in err and err.count("\n") == 1
    assert sorted(p.name for p in work.iterdir()) == ["s.sqlite"]


def test_export_without_pandas_names_the_extra(work, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    err = _refused(capsys, "--out", "t.csv")
    assert "pip install 'twostep[export]'" in err
    monkeypatch.setitem(sys.modules, "pandas", pd)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    assert "pyarrow" in _refused(capsys, "--out", "t.parquet")
    assert sorted(p.name for p in work.iterdir()) == ["s.sqlite"]


def test_export_refuses_a_bad_store_or_format(work, capsys):
    (work / "empty.sqlite").write_bytes(b"")
    code, out, err = run_cli(capsys, "export", "missing.sqlite", "--out", "t.csv")
    assert code == 2 and out == "" and err.count("\n") == 1
    code, out, err = run_cli(capsys, "export", "s.sqlite", "--out", "t.csv", "--format", "xls")
    assert code == 2 and "invalid choice: 'xls'" in err and "'csv', 'parquet'" in err
    assert sorted(p.name for p in work.iterdir()) == ["empty.sqlite", "s.sqlite"]


def test_the_columns_are_documented():
    import re

    text = (Path(__file__).parents[1] / "docs" / "reference.md").read_text(encoding="utf-8")
    for section, columns in (("store-export", export.STORE_COLUMNS),
                             ("evidence-export", export.EVIDENCE_COLUMNS)):
        start = text.index(f"<!-- keys:{section} -->")
        block = text[start:text.index("<!-- keys:end -->", start)]
        assert dict(re.findall(r"^\| `([^`]+)` \| (.*) \|$", block, re.M)) == columns


def test_export_evidence_gives_the_verdicts_of_the_stored_plan(work, filled, capsys):
    code, out, _ = run_cli(capsys, "export", "s.sqlite", "--out", "ev.csv", "--evidence",
                           "--json")
    assert code == 0
    assert json.loads(out)["columns"] == list(export.EVIDENCE_COLUMNS)
    ev = pd.read_csv("ev.csv")
    # the store's plan is the last verify's: bbp
    for v in filled[1]["bbp"]:
        mine = ev[(ev.subject == v["subject"])]
        assert set(mine.status) == {v["status"]} and set(mine.claim) == {"bbp"}
        own = mine[mine.statistic == "verdict.statistic"]
        assert own.value.tolist() == pytest.approx([v["statistic"]], rel=RTOL)
        assert own.N.tolist() == [v["decided_at"]]
    assert "--force" in _refused(capsys, "--out", "ev.csv", "--evidence")  # ours: --force
