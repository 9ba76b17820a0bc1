"""Stored results of earlier versions still load (issue 21): files written by twostep 0.1.0 and
0.2.0 themselves (tests/data/v0_1, tests/data/v0_2; tests/data/README.md names the commands).

Each fixture is read with the current code and checked against values read from it with the
version that wrote it: a measurement and its npz (``Measurement.load``), a result store (opened
read-only through :class:`~twostep.compare.execution.store.Store`, its cells read back as
Measurements and grouped as ``twostep report`` groups them), and a prediction
(``Prediction.from_dict``).  The checks name only fields that are not being renamed (N, seeds,
configs, values, amplitudes). """

from __future__ import annotations

import hashlib
import json
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from twostep.compare.execution.store import Store
from twostep.compare.science.claims.results import Results
from twostep.simulate import Measurement
from twostep.theory.config import ModelConfig
from twostep.theory.observables import ExactTerm, FeatureSpikes, StepOneSpike
from twostep.theory.prediction import Prediction
from twostep.theory.spectra import Outlier

DATA = Path(__file__).parent / "data"

#: The folder of each version's files and the version its store cells were written with.
VERSIONS = {"v0_1": "0.1.0", "v0_2": "0.2.0"}

#: What the writing version reported for each measurement file (the same numbers for both
#: versions: the same seeds give the same draws).  ``top``: the first singular value of each
#: spectrum; ``outliers``: the values of ``Measurement.outliers`` (those of W_T).
MEASUREMENTS = {
    "simulate": {
        "N": 100, "d": 100, "n": 100, "seed": 3,
        "config": {"activation": "tanh(z + 1/2)", "target": "He1", "alpha1": 0.3,
                   "alpha2": 0.45, "etabar1": 1.0, "etabar2": 1.0, "batch": "reuse"},
        "top": {"W1": 2.8434880332618637, "W2": 5.25028645361684,
                "update": 2.688941202713667},
        "update_outliers": [2.688941202713667, 0.6162329320784343, 0.5708622987067763,
                            0.4976015943552281, 0.46397564337362884],
        "step_one_spike": 2.8434880332618637,
        "outliers": [5.25028645361684],
        "amplitudes": [2.65055733165217, 0.433527217645573, 0.5123116093334505,
                       0.4079876709120867],
        "terms": [4.779015100290202, 1.1490577540328646, 3.9521983215344547],
        "residual": 1.8758011339612186,
        "spike_count": 1,
    },
    "simulate_bbp": {
        "N": 80, "d": 80, "n": 80, "seed": 0,
        "config": {"activation": "tanh", "target": "He1", "alpha1": 0.0, "alpha2": 0.3,
                   "etabar1": 3.0, "etabar2": 1.0, "batch": "reuse"},
        "top": {"W1": 3.2210271446558503, "W2": 4.257826977017135,
                "update": 1.3439852770543272},
        "update_outliers": [1.3439852770543272, 0.3946905681748507, 0.3230547246162616,
                            0.2697904143321574],
        "step_one_spike": 3.2210271446558503,
        "outliers": [4.257826977017135],
        "amplitudes": [1.2581864932778484, 0.16495008590390098, 0.5090526778732024,
                       0.18339507688584689],
        "terms": [3.522792421088408, 0.9975840442136086, 6.468920421275885],
        "residual": 8.770417971331499,
        "spike_count": 1,
    },
}

#: The store's four cells (one config, N 60 and 80, seeds 0 and 1, --terms 2): per (N, seed)
#: the top singular value of the update, the step-one spike, the amplitude of the exact term
#: T_1 and the series residual.
STORE_CONFIG = {"activation": "tanh(z + 1/2)", "target": "He1", "alpha1": 0.3,
                "alpha2": 0.45, "batch": "reuse"}
STORE_CELLS = {
    (60, 0): (2.1508797742391237, 2.6458945918232994, 1.134046092222916, 1.788512347096212),
    (60, 1): (2.4739506740181842, 2.768427253389539, 2.4580027534709123, 9.770689209968213),
    (80, 0): (2.2948590062265475, 3.6395591212936704, 3.1158889569560317, 10.998109797151134),
    (80, 1): (2.453033513647976, 2.709868871198501, 0.8781306541723759, 1.55924724131782),
}

#: The predictions: (file, config fields, step-one exponent, ratio, paper count, the terms'
#: exact exponents, whether the BBP block is there).
PREDICTIONS = {
    "theory": ({"activation": "tanh(z + 1/2)", "alpha1": 0.3, "alpha2": 0.45, "etabar1": 1.0},
               0.3, Fraction(9, 4), 2, ["9/20", "1/4", "1/20", "-3/20"], False),
    "theory_bbp": ({"activation": "tanh", "alpha1": 0.0, "alpha2": 0.3, "etabar1": 3.0},
                   0.0, Fraction(3, 5), 0, ["3/10", "-1/5", "-7/10"], True),
}

approx = pytest.approx


def check_config(config: ModelConfig, expected: dict) -> None:
    assert isinstance(config, ModelConfig)
    for name, value in expected.items():
        assert getattr(config, name) == value, name


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("name", sorted(MEASUREMENTS))
def test_measurement_file_loads_with_its_arrays(version, name, tmp_path):
    want = MEASUREMENTS[name]
    m = Measurement.load(DATA / version / f"{name}.json")
    assert (m.N, m.d, m.n, m.seed) == (want["N"], want["d"], want["n"], want["seed"])
    check_config(m.config, want["config"])
    assert set(m.spectra.names) == {"W1", "W2", "update"}
    for matrix, top in want["top"].items():
        spec = m.spectrum(matrix)
        assert spec.singular_values[0] == top
        values = spec.values  # the full spectrum, restored from the npz
        assert isinstance(values, np.ndarray) and values.shape == (want["N"],)
        assert values.dtype == np.float64
        assert values[0] == approx(top, rel=1e-12)
        assert np.all(np.diff(values) <= 0) and values[-1] >= 0
    # the spectra are Spectrum records that still read like the dicts they were, outliers too
    assert [o.value for o in m.spectrum("update").outliers] == want["update_outliers"]
    assert [o.value for o in m.spectrum("update").outliers] == want["update_outliers"]
    assert isinstance(m.step_one_spike, StepOneSpike)
    assert m.step_one_spike.value == want["step_one_spike"]
    # format 2's names read under format 3's (docs/reference.md, Renamed in 0.3)
    raw = json.loads((DATA / version / f"{name}.json").read_text(encoding="utf-8"))
    spike = raw["step_one_spike"]
    assert (m.step_one_spike.right_u_overlap, m.step_one_spike.left_a_overlap,
            m.step_one_spike.right_beta_overlap) == (
        spike["overlap_right"], spike["overlap_left"], spike["overlap_beta"])
    assert [o.right_beta_overlap for o in m.outliers] == [
        o["beta_overlap"] for o in raw["outliers"]]
    assert m.beta.best_term == raw["beta"]["term"] and m.beta.first_term is None
    assert m.options.terms == raw["options"]["terms"] == 2 and m.options.spectrum is True
    assert [s.to_dict() for s in m.provenance.steps] == raw["options"]["steps"]
    assert m.provenance.block_rows == raw["options"]["block_rows"]
    assert all(isinstance(o, Outlier) for o in m.outliers)
    assert [o.value for o in m.outliers] == want["outliers"]
    assert [a.amplitude for a in m.amplitudes] == want["amplitudes"]
    assert all(isinstance(t, ExactTerm) for t in m.terms)
    assert [t.k for t in m.terms] == [0, 1, 2]
    assert [t.amplitude for t in m.terms] == want["terms"]
    assert m.series.residual == want["residual"]
    assert isinstance(m.features, FeatureSpikes)
    assert m.features.spike_count == want["spike_count"]
    # what was loaded is a measurement of the current code: it saves and loads again
    again = Measurement.load(m.save(tmp_path / "again.json"))
    assert again.to_dict() == m.to_dict()
    for matrix in want["top"]:
        assert np.array_equal(again.spectrum(matrix).values, m.spectrum(matrix).values)


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_store_opens_read_only_and_its_cells_read_back(version, tmp_path):
    fixture = DATA / version / "sweep.sqlite"
    store_path = Path(shutil.copy(fixture, tmp_path / "sweep.sqlite"))
    before = hashlib.sha256(store_path.read_bytes()).hexdigest()
    stored_version = VERSIONS[version]
    results = Results()
    with Store(store_path, readonly=True) as store:
        assert store.versions() == {stored_version: 4}
        assert store.counts(version=None) == {"done": 4, "failed": 0}
        assert store.failed(version=None) == []
        done = store.done_keys()
        seen, configs = {}, set()
        for cell, result in store.results(version=None):
            check_config(cell.config, STORE_CONFIG)
            assert cell.options["terms"] == 2
            # the current code computes the key the writing version stored the cell under
            assert cell.key(stored_version) in done
            m = Measurement.from_dict(result)
            assert (m.N, m.seed) == (cell.N, cell.seed)
            assert m.config == cell.config
            seen[(cell.N, cell.seed)] = (m.spectrum("update").singular_values[0],
                                         m.step_one_spike.value, m.terms[1].amplitude,
                                         m.series.residual)
            results.add(cell.config, cell.N, cell.seed, result)
            configs.add(cell.config.key())
        # the filters of the current code work on the old rows
        assert [c.seed for c, _ in store.results(version=None, N=80)] == [0, 1]
    assert seen == STORE_CELLS
    assert len(configs) == 1
    config = ModelConfig.from_dict({**ModelConfig().to_dict(), **STORE_CONFIG})
    assert results.Ns(config) == [60, 80]
    assert results.seeds(config, 60) == results.seeds(config, 80) == [0, 1]
    assert len(results) == 4
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == before  # read only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.sqlite"]  # no -wal, -shm


@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("name", sorted(PREDICTIONS))
def test_prediction_json_loads(version, name):
    config, exponent, ratio, paper_count, exponents, has_bbp = PREDICTIONS[name]
    data = json.loads((DATA / version / f"{name}.json").read_text(encoding="utf-8"))
    p = Prediction.from_dict(data)
    check_config(p.config, config)
    assert p.step_one_exponent == exponent
    assert p.ratio == ratio
    assert p.paper_count == paper_count
    assert p.bulk_edge == 2.0
    # schema 2's names are read under schema 3's (docs/reference.md, Renamed in 0.3)
    assert p.beta.first_term == data["beta"]["term"] and p.beta.best_term is None
    assert p.features.spike_count == data["one_step_spikes"]["spike_count"]
    if has_bbp:
        assert (p.bbp.location, p.bbp.right_u_overlap, p.bbp.left_a_overlap,
                p.bbp.right_beta_overlap) == tuple(data["bbp"][k] for k in (
                    "outlier", "overlap_right", "overlap_left", "overlap_beta"))
        assert p.at(500).step_one_spike.value == data["bbp"]["outlier"]
    assert [t.k for t in p.laws] == list(range(len(exponents)))
    assert [t.exponent_exact for t in p.laws] == exponents
    assert (p.bbp is not None) == has_bbp
