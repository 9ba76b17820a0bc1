"""The spectra are a typed record (issue 28): ``Observables.spectra`` is a :class:`Spectra` of
named :class:`Spectrum` entries, read one way, ``obs.spectrum(name)``; a missing name is one
line naming the spectra there are; the dict reads of 0.3 warn (RecordAccessWarning) naming what
to read; the JSON keeps its shape ``{"spectra": {name: spectrum}}``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from twostep.compare.science.claims.guard import step_two_reads
from twostep.simulate import Measurement, gd, run
from twostep.theory import ConfigError, ModelConfig
from twostep.theory.errors import NoSuchSpectrum
from twostep.theory.observables import Observables
from twostep.theory.predict import predict
from twostep.theory.records import RecordAccessWarning
from twostep.theory.spectra import Spectra, Spectrum

CFG = ModelConfig(activation="tanh", target="He1", alpha1=0.2, alpha2=0.3)


@pytest.fixture(scope="module")
def measured() -> Measurement:
    return run(CFG, N=60, seed=1)  # dense SVDs at this size: 0.1 s


def test_lookup_by_name_equals_the_dense_values(measured):
    """Each name finds its own matrix: the singular values of W_1, W_2 and W_2 - W_1 recomputed
    here from the GD trajectory with numpy's dense SVD."""
    states = [s.W.copy() for s in gd.trajectory(CFG, 60, 1, gd.default_steps(CFG),
                                                 dtype="float64")]
    dense = {"W1": states[1], "W2": states[2], "update": states[2] - states[1]}
    assert measured.spectra.names == ("W1", "W2", "update")
    refs = {name: np.linalg.svd(W, compute_uv=False) for name, W in dense.items()}
    # the three matrices' spectra differ, so a lookup that found the wrong one would fail
    assert abs(refs["W1"][0] - refs["W2"][0]) > 1e-3 * refs["W2"][0]
    assert abs(refs["update"][0] - refs["W2"][0]) > 1e-3 * refs["W2"][0]
    eps = np.finfo(np.float64).eps
    for name, W in dense.items():
        spec = measured.spectrum(name)
        got = np.asarray(spec.singular_values)
        # Weyl: both are float64 SVDs of the same W (up to the order of the block sums), each
        # backward stable to ~ max(N, d) eps ||W||; a factor 10 of margin
        bound = 10 * max(W.shape) * eps * refs[name][0]
        assert np.max(np.abs(got - refs[name][:got.size])) <= bound, name
        assert spec.name == name and spec is measured.spectra.get(name)
    assert [s.step for s in measured.spectra] == [1, 2, 2]  # iteration: the entries in order


def test_a_missing_name_is_one_line_naming_the_spectra(measured):
    with pytest.raises(NoSuchSpectrum) as err:
        measured.spectrum("W3")
    assert str(err.value) == "no spectrum 'W3': the spectra here are W1, W2, update"
    assert isinstance(err.value, ConfigError) and isinstance(err.value, KeyError)
    # a run that did not compute it says why (the run option), still in one line
    only = run(CFG, N=30, seed=0, spectra=("W1",))
    with pytest.raises(NoSuchSpectrum, match=re.escape(
            "no spectrum 'W2' (the run did not compute W2's spectrum (spectra=(W1))): the "
            "spectra here are W1")) as err:
        only.spectrum("W2")
    assert "\n" not in str(err.value)
    none = Observables(N=10, d=10, n=10)
    with pytest.raises(NoSuchSpectrum, match=r"^no spectrum 'W1': there are none here$"):
        none.spectrum("W1")
    assert only.spectra.get("W2") is None and "W2" not in only.spectra and len(only.spectra) == 1


def test_the_dict_reads_warn_naming_what_to_read(measured):
    spectra = measured.spectra
    w1 = measured.spectrum("W1")
    with pytest.warns(RecordAccessWarning,
                      match=re.escape("obs.spectra['W1'] is deprecated; use obs.spectrum('W1')")):
        assert spectra["W1"] is w1
    with pytest.warns(RecordAccessWarning, match=re.escape("use obs.spectra.names")):
        assert spectra.keys() == ["W1", "W2", "update"]
    with pytest.warns(RecordAccessWarning, match=r"obs\.spectra\.items\(\) is deprecated"):
        assert spectra.items()[0] == ("W1", w1)
    with pytest.warns(RecordAccessWarning, match=r"obs\.spectra\.values\(\) is deprecated"):
        assert spectra.values() == list(spectra)
    with pytest.warns(RecordAccessWarning, match=re.escape("or obs.spectrum('W3')")):
        assert spectra.get("W3", "absent") == "absent"
    with pytest.warns(RecordAccessWarning):  # dict() reads keys() and [name]
        assert dict(spectra) == {s.name: s for s in spectra}
    with pytest.warns(RecordAccessWarning), pytest.raises(KeyError, match="the spectra here"):
        spectra["W3"]


def test_a_dict_given_to_a_constructor_converts():
    obs = Observables(N=10, d=10, n=10, spectra={"W2": {"singular_values": [3.0]},
                                                  "W1": Spectrum(bulk_edge=2.0)})
    assert isinstance(obs.spectra, Spectra) and obs.spectra.names == ("W2", "W1")
    assert obs.spectrum("W2").singular_values == (3.0,) and obs.spectrum("W2").step == 2
    assert obs.spectrum("W1").bulk_edge == 2.0 and obs.spectrum("W1").step == 1
    assert Spectra.of(obs.spectra) == obs.spectra  # a Spectra, or its entries, as they are
    assert Observables(N=10, d=10, n=10, spectra=obs.spectra.entries).spectra == obs.spectra
    for bad, message in (
            ({"W1": {"name": "W2"}}, r"^the spectrum stored under 'W1' is named 'W2'$"),
            ((Spectrum(name="W1"), Spectrum(name="W1")), r"^Spectra: W1 given twice; "),
            ((Spectrum(),), r"^each entry of Spectra needs its matrix name"),
            ("W1", r"^spectra must be a Spectra, a mapping name -> spectrum or a sequence")):
        with pytest.raises(ConfigError, match=message):
            Observables(N=10, d=10, n=10, spectra=bad)


#: A stored spectrum's keys: the JSON shape of every format since 0.1 (plus ``step``, 0.4).
KEYS = ("singular_values", "bulk_edge", "bulk_edge_empirical", "tracy_widom_scale", "margin",
        "edge_used", "edge_fit", "solver", "computed", "outliers", "values", "histogram", "step")


def test_the_json_keeps_its_shape():
    m = Measurement(config=CFG, N=10, d=10, n=10, seed=0,
                    spectra={"W1": {"singular_values": [3.0, 2.0], "bulk_edge": 2.0},
                             "update": {"singular_values": [1.0], "values": np.arange(3.0)}})
    data = json.loads(json.dumps(m.to_dict()))
    blank = dict.fromkeys(KEYS)
    assert data["spectra"] == {
        "W1": {**blank, "singular_values": [3.0, 2.0], "bulk_edge": 2.0, "step": 1},
        "update": {**blank, "singular_values": [1.0], "step": 2,
                   "values": {"npz": "update.values", "size": 3}}}
    assert list(data["spectra"]) == ["W1", "update"]  # in order
    back = Measurement.from_dict(data)
    assert back.spectra.names == ("W1", "update")
    assert back.spectrum("W1") == m.spectrum("W1")
    assert back.to_dict() == m.to_dict()
    pred = predict(CFG).at(1000)
    assert list(pred.to_dict()["spectra"]) == ["W1", "W2"]
    assert set(pred.to_dict()["spectra"]["W2"]) == set(KEYS)
    assert Observables.from_dict(json.loads(json.dumps(pred.to_dict()))) == pred


def test_the_guard_reads_a_spectrum_by_its_declared_step(measured):
    def named(name):
        return lambda m: next(s for s in m.spectra if s.name == name).singular_values[0]

    assert step_two_reads(lambda m: m.spectrum("W2").singular_values[0], measured) \
        == {"spectra.W2"}
    assert step_two_reads(named("update"), measured) == {"spectra.update"}
    assert step_two_reads(lambda m: m.spectrum("W1").singular_values[0], measured) == set()
    assert step_two_reads(named("W1"), measured) == set()
