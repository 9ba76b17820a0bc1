"""RunOptions: one place for the run defaults, their validation and the store key; the
declared spectra (a run computes only what it is asked for); the backend option end to end."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from twostep.compare.execution.store import Cell, Store, normalise_options
from twostep.simulate import run
from twostep.simulate.options import DEFAULT_KEY, RunOptions
from twostep.theory import ConfigError, ModelConfig

#: The store key's options as every store written so far holds them: changing this form
#: silently orphans the cells on disk, so it is spelled out here, not derived.
LEGACY_DEFAULT_KEY = {"dtype": "float64", "features": False, "max_power": 4, "null_draws": 4,
                      "spectrum": False, "terms": 0, "top": 10}
CONFIG = ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45,
                     etabar1=0.2)


@pytest.mark.parametrize("fields, words", [
    ({"dtype": "float16"}, "dtype must be one of float64, float32; got 'float16'"),
    ({"top": 0}, "top must be an integer >= 1, got 0"),
    ({"top": 2.5}, "top must be an integer >= 1, got 2.5"),
    ({"max_power": 13}, "max_power must be an integer in [1, 12], got 13"),
    ({"null_draws": -1}, "null_draws must be an integer in [0, 1000], got -1"),
    ({"terms": 9}, "terms must be an integer in [0, 8], got 9"),
    ({"spectrum": "yes"}, "spectrum must be true or false, got 'yes'"),
    ({"spectra": ["W1", "W 2"]}, "spectra: unknown spectrum 'W 2'"),
    ({"backend": "jax"}, "backend must be one of numpy, cupy, torch, array-api-strict"),
    ({"block_rows": 0}, "block_rows must be an integer >= 1, got 0"),
])
def test_bad_options_are_one_line_errors_naming_the_allowed_values(fields, words):
    with pytest.raises(ConfigError) as info:
        RunOptions(**fields)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_the_default_key_is_the_one_stores_hold():
    assert RunOptions().key() == DEFAULT_KEY == LEGACY_DEFAULT_KEY
    assert normalise_options({}) == LEGACY_DEFAULT_KEY
    # the store key of a default cell is the documented hash of that form
    cell = Cell(CONFIG, 500, 2)
    payload = {"config": CONFIG.to_dict(), "N": 500, "seed": 2, "options": LEGACY_DEFAULT_KEY,
               "version": "9.9"}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert cell.key("9.9") == hashlib.sha256(text.encode()).hexdigest()


def test_new_fields_enter_the_key_only_when_set_and_execution_fields_never():
    assert RunOptions(spectra="all", backend="numpy").key() == LEGACY_DEFAULT_KEY
    assert RunOptions(spectra="update,W1").key()["spectra"] == ["W1", "update"]
    assert RunOptions(spectra="none").key()["spectra"] == []
    assert RunOptions(backend="array-api-strict").key()["backend"] == "array-api-strict"
    assert "allow_memory" not in RunOptions(allow_memory=True).key()
    assert Cell(CONFIG, 100, 0, {"spectra": ["W1"]}).key() != Cell(CONFIG, 100, 0).key()
    with pytest.raises(ConfigError, match="allow_memory are not part of a cell"):
        Cell(CONFIG, 100, 0, {"allow_memory": True})
    # the stored form round-trips: JSON lists come back as the same options
    opts = RunOptions(spectra=("update", "W1"), terms=3)
    assert RunOptions.from_mapping(json.loads(json.dumps(opts.key()))) == opts


def test_a_run_computes_only_the_declared_spectra_and_the_rest_is_unchanged():
    full = run(CONFIG, 150, 3, terms=2, null_draws=2)
    w1 = run(CONFIG, 150, 3, terms=2, null_draws=2, spectra=("W1",))
    none = run(CONFIG, 150, 3, terms=2, null_draws=2, spectra="none")
    assert set(full.spectra.names) == {"W1", "W2", "update"}
    assert set(w1.spectra.names) == {"W1"} and len(none.spectra) == 0
    assert w1.spectrum("W1").singular_values == full.spectrum("W1").singular_values
    assert w1.step_one_spike == full.step_one_spike and none.step_one_spike is None
    for m in (w1, none):  # what needs W_2's spectrum is None, not a stale or made-up value
        assert m.visible_new_outliers is None and m.outliers is None
        assert m.bulk_edge_empirical is None
        assert m.amplitudes == full.amplitudes and m.beta == full.beta
        assert m.options.spectra in (("W1",), ())
    # the series residual is relative to ||update||, computed alone when its spectrum is not
    assert none.series.residual == pytest.approx(full.series.residual, rel=1e-6)
    with pytest.raises(ConfigError, match="W3 not in this 2-step run"):
        run(CONFIG, 150, 3, spectra=("W3",))


@pytest.mark.parametrize("batch", ["reuse", "independent"])
def test_a_whole_run_on_array_api_strict_matches_numpy(batch):
    """The code is namespace-generic: steps, spectra' block products, exact terms and
    projections run in array-api-strict and agree with numpy to 1e-12 (float64)."""
    config = CONFIG.replace(batch=batch)
    ref = run(config, 120, 1, terms=2, null_draws=2).to_dict()
    got = run(config, 120, 1, terms=2, null_draws=2, backend="array-api-strict").to_dict()
    assert got["options"]["backend"] == "array-api-strict"
    for skip in ("timing", "versions", "options"):
        ref.pop(skip), got.pop(skip)
    flat_ref, flat_got = _flatten(ref), _flatten(got)
    assert flat_ref.keys() == flat_got.keys()
    for key, want in flat_ref.items():
        have = flat_got[key]
        if isinstance(want, float):
            assert have == pytest.approx(want, rel=1e-12, abs=1e-12), key
        else:
            assert have == want, key


def test_a_backend_that_is_not_installed_is_refused_before_drawing():
    with pytest.raises(ConfigError, match="gpu extra"):
        run(CONFIG, 120, 1, backend="cupy")


def test_store_filters_run_in_sql_on_config_fields_and_options(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    cells = [Cell(CONFIG, 100, 0), Cell(CONFIG.replace(alpha1=0.2), 100, 0),
             Cell(CONFIG, 100, 1, {"terms": 3}), Cell(CONFIG, 200, 0, {"spectra": ["W1"]})]
    for i, c in enumerate(cells):
        store.put_result(c, {"i": i}, 0.1)
    got = lambda **f: sorted(r["i"] for _, r in store.results(**f))  # noqa: E731
    assert got() == [0, 1, 2, 3]
    assert got(alpha1=0.3) == [0, 2, 3] and got(alpha1=[0.2]) == [1]
    assert got(alpha1=0.3 + 1e-15) == []  # floats match exactly (SQL only narrows)
    assert got(terms=3) == [2] and got(terms=0, N=100) == [0, 1]
    assert got(activation="tanh(z + 1/2)") == [0, 1, 2, 3] and got(activation="tanh") == []
    assert got(backend="numpy") == [0, 1, 2, 3] and got(backend="cupy") == []
    assert got(spectrum=False, seed=1) == [2]
    with pytest.raises(ConfigError, match="unknown filter"):
        got(colour="red")
    store.close()


def _flatten(value, prefix=""):
    out = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}"))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


def test_numpy_results_do_not_depend_on_the_execution_only_fields():
    a = run(CONFIG, 120, 0, null_draws=1)
    b = run(CONFIG, 120, 0, null_draws=1, block_rows=17, allow_memory=True)
    np.testing.assert_allclose(a.spectrum("W2").singular_values,
                               b.spectrum("W2").singular_values, rtol=1e-10)


def test_claims_declare_their_spectra_and_a_plan_shares_cells_between_them():
    from twostep.compare.plans.verify import Check, merged_cells, plan_cells

    cfg = CONFIG
    count = Check("outlier-count", cfg, (100, 200), 2)
    vectors = Check("left-vectors", cfg, (100, 200), 2)
    growth = Check("growth-exponent", cfg, (100, 200), 2)
    assert count.run_options()["spectra"] == ["W1", "W2"]
    assert vectors.run_options()["spectra"] == ["W2"]
    assert growth.run_options()["spectra"] == []
    # one simulation per (N, seed) computes the union of what the claims on it read
    cells = plan_cells((count, vectors))
    assert len(cells) == 4 and {tuple(c.options["spectra"]) for c in cells} == {("W1", "W2")}
    serves = merged_cells((count, vectors, growth))
    assert {tuple(c.options["spectra"]) for c in serves.values()} == {("W1", "W2")}
    # a claim that reads every spectrum (a user claim's default) makes the cell compute all
    from twostep.compare.science.claims import ExponentClaim
    mine = ExponentClaim(name="mine", statistic=lambda m: 1.0, predicted=lambda c: 0.0)
    every = plan_cells((count, Check(mine, cfg, (100, 200), 2)))
    assert {c.options.get("spectra", "all") for c in every} == {"all"}


def test_a_run_of_every_spectrum_serves_a_claim_that_declares_fewer(tmp_path):
    """A store written before claims declared their spectra (cells computing all of them) is
    read, not recomputed or refused: such a cell serves a check whose claim reads fewer."""
    from twostep.compare.plans.verify import Check, evaluate, plan_cells, served_cells
    from twostep.compare.science.claims import LimitClaim
    from twostep.simulate import Measurement

    class StepOneOnly(LimitClaim):
        spectra = ("W1",)

    claim = StepOneOnly(name="w1-value", predicted=lambda c: 3.0,
                        statistic=lambda m: m.step_one_spike.value, tolerance=0.5, guard=False)
    check = Check(claim, CONFIG, (100, 200, 400, 800), 2)
    store = Store(tmp_path / "s.sqlite")
    for cell in check.cells():
        every = Cell(cell.config, cell.N, cell.seed, {})          # spectra "all"
        m = Measurement(config=cell.config, N=cell.N, d=cell.N, n=cell.N, seed=cell.seed,
                        step_one_spike={"value": 3.0 + 0.01 * cell.seed})
        store.put_result(every, m.to_dict(), 0.1)
    cells = plan_cells((check,))
    assert all(c.options["spectra"] == ["W1"] for c in cells)
    served = served_cells(cells, store)
    assert all("spectra" not in c.options for c in served)   # the stored runs of every spectrum
    (verdict,), _ = evaluate((check,), store)
    assert verdict.status == "consistent", verdict.reason
    # without such a run, the declared cell is what is missing
    empty = Store(tmp_path / "e.sqlite")
    assert served_cells(cells, empty) == cells
    with pytest.raises(ConfigError, match="the store lacks 8 of the plan's 8 cells"):
        evaluate((check,), empty)
    store.close(), empty.close()
