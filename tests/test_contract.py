"""One contract between theory and measurement (docs/reference.md, Observables at a width N):
``Prediction.at(N)`` and a ``Measurement`` have the same observable fields, with the same names
and types, so one statistic reads both; the records that replaced dicts still read like them."""

from __future__ import annotations

import dataclasses
import math

import pytest

from twostep.simulate import run
from twostep.simulate.measurement import Measurement
from twostep.theory import ModelConfig
from twostep.theory.bbp import spike
from twostep.theory.fields import FIELD_KINDS
from twostep.theory.observables import OBSERVABLE_FIELDS, Observables, StepOneSpike
from twostep.theory.predict import predict
from twostep.theory.records import RecordAccessWarning
from twostep.theory.spectra import Outlier, Spectrum

BBP = ModelConfig(activation="tanh", target="He1", alpha1=0.0, alpha2=0.2, etabar1=3.0)


def _types(cls) -> dict[str, str]:
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def test_every_observable_field_is_a_measurement_field_of_the_same_type():
    # declared once: a Measurement is an Observables, the run's fields added (keywords only)
    assert issubclass(Measurement, Observables)
    own = set(Measurement.__dataclass_fields__) - set(Observables.__dataclass_fields__)
    assert own == {"config", "seed", "options", "provenance", "versions", "timing",
                   "bulk_edge_empirical", "dynamics", "series"}
    assert all(Measurement.__dataclass_fields__[name].kw_only for name in own)
    observed, measured = _types(Observables), _types(Measurement)
    assert set(OBSERVABLE_FIELDS) == set(observed)
    for name, kind in observed.items():
        assert name in measured, f"Measurement has no field {name!r}"
        assert measured[name] == kind, (name, measured[name], kind)


def test_every_measurement_field_says_what_it_is_a_function_of():
    for f in dataclasses.fields(Measurement):
        assert f.metadata.get("of") in FIELD_KINDS, f.name


def _statistic(obs) -> tuple:
    """One statistic, written once, run on a prediction and on a measurement."""
    w1 = obs.spectrum("W1").outliers
    return (obs.N, obs.d, obs.n, obs.bulk_edge, obs.step_one_spike.value,
            obs.step_one_spike.right_beta_overlap, [o.term for o in w1])


def test_one_statistic_reads_the_prediction_at_N_and_the_measurement():
    N = 800
    predicted = _statistic(predict(BBP).at(N))
    measured = _statistic(run(BBP, N=N, seed=1, spectra=("W1",), null_draws=0))
    # the sizes and the theory edge are the same numbers on both sides
    assert predicted[:4] == measured[:4] == (N, N, N, 2.0)
    # the BBP location and beta_* overlap, against the independent closed form
    # (Benaych-Georges & Nadakuditi): theta = etabar1 |c_1(tanh)| ||u||, c_1(tanh) = 0.6057,
    # ||u||^2 = c_1(He1)^2 + (psi_d/psi_n)(E He1^2 + 0) = 2, cos^2(u, beta) = 1/2
    theta = 3.0 * 0.605706 * math.sqrt(2.0)
    ref = spike(theta, 1.0)
    assert predicted[4] == pytest.approx(ref.outlier, rel=1e-4)
    assert predicted[5] == pytest.approx(ref.overlap_right / 2, rel=1e-3)
    # one seed at N = 800: the location within 2% (the bbp claim's calibrated tolerance) and
    # the overlap within 0.05 (its spread over seeds is ~0.02 at this N, docs/results.md)
    assert measured[4] == pytest.approx(predicted[4], rel=0.02)
    assert measured[5] == pytest.approx(predicted[5], abs=0.05)
    assert predicted[6] == measured[6] == [0]  # W_1's one outlier is term 0 on both sides


def test_the_prediction_at_N_has_the_measured_types_and_its_terms():
    p = predict(ModelConfig(activation="tanh(z + 1/2)", target="He1", alpha1=0.3, alpha2=0.45))
    obs = p.at(1000)
    assert isinstance(obs.step_one_spike, StepOneSpike)
    assert all(isinstance(o, Outlier) for o in obs.outliers)
    assert isinstance(obs.spectrum("W2"), Spectrum) and obs.spectrum("W2").outliers == obs.outliers
    # the terms 0..min(paper count, 3) as ExactTerms, read by k: the mean amplitude, theta_k^2
    amps = p.term_amplitudes(1000, ks=range(3))
    assert [t.k for t in obs.terms] == [a.k for a in amps] == [0, 1, 2]
    for a in amps:
        t = obs.term(a.k)
        assert t.k == a.k and t.amplitude == a.amplitude
        assert t.coherent_sq == pytest.approx(a.coherent ** 2)
        assert t.null_floor is None and "no null floor" in obs.why(f"term({a.k}).null_floor")
    assert obs.visible_new_outliers == sum(a.location is not None for a in amps if a.k >= 1)
    # a term's W_2 outlier carries its finite-N location where the theory gives one
    for a in amps[1:]:
        seen = [o.value for o in obs.outliers if o.term == a.k]
        assert seen == ([a.location] if a.location is not None else seen)
    assert obs.beta is p.beta and obs.features is p.features
    assert Observables.from_dict(obs.to_dict()) == obs  # JSON round trip, types restored


def test_records_read_like_the_dicts_they_replaced():
    spec = Spectrum.from_dict({"singular_values": [3.0, 2.0], "bulk_edge": None,
                               "outliers": [{"value": 3.0, "term": 0}]})
    # deprecated in 0.4 (each read warns, naming the attribute), still reading as before
    with pytest.warns(RecordAccessWarning):
        assert spec["singular_values"] == spec.singular_values == (3.0, 2.0)
        assert spec["outliers"][0]["value"] == spec.outliers[0].value == 3.0
        assert spec["bulk_edge"] is None and "bulk_edge" not in spec and "outliers" in spec
        assert spec.get("margin", 1.5) == 1.5 and set(spec) == {"singular_values", "outliers"}
    with pytest.raises(KeyError):
        spec["no_such_field"]
    bbp = predict(BBP).bbp
    with pytest.warns(RecordAccessWarning, match=r"bbp_model\['outlier'\] is deprecated; use "
                                                 r"bbp_model\.location"):
        assert bbp["outlier"] == bbp.location  # the schema-2 name still reads


def test_a_measurements_options_are_run_options_and_unknown_ones_are_refused():
    from twostep.simulate.options import RunOptions
    from twostep.theory import ConfigError

    m = Measurement(config=BBP, N=10, d=10, n=10, seed=0, options={"dtype": "float32"})
    assert m.options == RunOptions(dtype="float32")
    with pytest.raises(ConfigError, match=r"^unknown run option\(s\) dtyp; allowed: dtype, "):
        Measurement(config=BBP, N=10, d=10, n=10, seed=0, options={"dtyp": "float32"})
