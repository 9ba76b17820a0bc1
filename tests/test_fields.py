"""Fields declare how they scale and which step they belong to (theory/fields.py): a field that
declares nothing is refused at class creation, the core view's rescaling applies each field's
declaration, and the regime guard reads the declared steps of the per-step entries."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from twostep.compare.science import rescale
from twostep.compare.science.claims.guard import step_one_view, step_two_reads
from twostep.simulate import Measurement
from twostep.theory import ModelConfig, observables, spectra
from twostep.theory.fields import SCALES, STEPS, observable, observed, scale_of, step_of
from twostep.theory.observables import (
    BetaLearning,
    ExactTerm,
    FeatureSpikes,
    Projection,
    Series,
    StepOneSpike,
    StepStats,
)
from twostep.theory.spectra import Outlier, Spectra, Spectrum

CFG = ModelConfig(activation="tanh", target="He1", alpha1=0.2, alpha2=0.3)


def test_a_field_without_a_declaration_is_refused_when_the_class_is_created():
    with pytest.raises(TypeError, match=r"^PlantedTerm\.future_norm declares no scale and no "
                                        r"step: make it with observed"):
        @observable
        class PlantedTerm(ExactTerm):
            future_norm: float | None = None

    # a copy of ExactTerm with one field left bare: the same, naming that field
    bare = {f.name: (f.type, f.default if f.name != "coherent_sq" else None,
                     None if f.name == "coherent_sq" else f)
            for f in dataclasses.fields(ExactTerm)}
    namespace = {"__annotations__": {name: t for name, (t, _, _) in bare.items()}}
    for name, (_, default, declared) in bare.items():
        namespace[name] = declared if declared is not None else default
    with pytest.raises(TypeError, match=r"^CopiedTerm\.coherent_sq declares no scale"):
        observable(type("CopiedTerm", (observables.Observable,), namespace))
    # and a word outside the vocabulary
    with pytest.raises(TypeError, match=r"unknown scale 'linear'; allowed: invariant, term"):
        observed("linear", "step two")
    with pytest.raises(TypeError, match=r"unknown step 'three'; allowed: run, width"):
        observed("term", "three")


def test_every_observable_record_declares_every_field():
    records = [cls for module in (observables, spectra)
               for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, observables.Observable) and cls.__module__ == module.__name__
               and cls not in (observables.Observable, observables.Record,
                               observables.Observables)]
    assert {StepOneSpike, Outlier, Projection, ExactTerm, BetaLearning, FeatureSpikes, Spectrum,
            Spectra, Series, StepStats} <= set(records)
    for cls in records:
        assert cls.__dict__.get("__observed__"), f"{cls.__name__} is not an @observable"
        for f in dataclasses.fields(cls):
            assert scale_of(f) in SCALES and step_of(f) in STEPS, f"{cls.__name__}.{f.name}"


def test_every_scale_is_interpreted_by_the_rescaling():
    assert set(rescale.RESCALE) == set(SCALES)


def test_records_the_rescaling_keeps_or_empties_whole_declare_so():
    # a record under a Measurement field the rescaling empties (kind "step two", "per step")
    # holds nothing rescalable; one under a "step one" field is kept while eta_1 is unchanged
    for cls in (Outlier, Projection, BetaLearning, Spectrum, Spectra, StepStats):
        assert {scale_of(f) for f in dataclasses.fields(cls)} <= {"none", "invariant"}, cls
    for cls in (StepOneSpike, FeatureSpikes):
        assert {scale_of(f) for f in dataclasses.fields(cls)} <= {"step_one", "invariant"}, cls
    # a term redeclares the Projection fields: its amplitude scales, the whole update's is emptied
    by_name = {f.name: scale_of(f) for f in dataclasses.fields(ExactTerm)}
    assert by_name["amplitude"] == "term" and by_name["coherent_sq"] == "term_sq"
    assert by_name["left_weight"] == by_name["beta_overlap"] == "invariant"
    assert {f.name: scale_of(f) for f in dataclasses.fields(Projection)}["amplitude"] == "none"


def test_a_new_declared_field_is_rescaled_as_it_declares():
    @observable
    class PlantedTerm(ExactTerm):
        future_sq: float | None = observed("term_sq", "step two")
        future_label: str | None = observed("invariant", "run")

    factors = rescale._Factors(u=2.0, v=3.0, scale=[3.0, 6.0, 12.0], same=False, k=2)
    term = PlantedTerm(k=2, left_power=3, amplitude=1.5, future_sq=0.5, future_label="x",
                       singular_values=(4.0, 2.0), leakage=(1.0, 1.0, 1.0), left_weight=0.7)
    got = rescale.rescaled(term, factors)
    assert type(got) is PlantedTerm
    # exact in binary floating point: every factor is a power of two times 3
    assert got.amplitude == 1.5 * 12.0 and got.future_sq == 0.5 * 144.0
    assert got.singular_values == (48.0, 24.0) and got.leakage == (3.0, 6.0, 12.0)
    assert got.future_label == "x" and got.left_weight == 0.7 and got.k == 2


def test_a_given_field_without_its_value_is_refused():
    factors = rescale._Factors(u=1.0, v=1.0, scale=[1.0], same=True, given={"eta1": 0.1})
    with pytest.raises(ValueError, match=r"^Series: no value given for the field\(s\) eta2, "):
        rescale.rescaled(Series(K=1), factors)


def _measurement(**fields) -> Measurement:
    base = dict(config=CFG, N=100, d=100, n=100, seed=0)
    return Measurement(**base, **fields)


def test_the_per_step_entries_declare_their_step():
    # stored without a step (files of earlier versions): from the name and the run's steps
    m = _measurement(spectra={"W1": {"singular_values": [2.0]}, "W2": {"singular_values": [3.0]},
                              "update": {"singular_values": [1.0]}},
                     dynamics=[{"t": 1, "update_norm": 2.0}, {"t": 2, "update_norm": 3.0}])
    assert {s.name: s.step for s in m.spectra} == {"W1": 1, "W2": 2, "update": 2}
    assert all(isinstance(s, StepStats) for s in m.dynamics)
    assert [s.step for s in m.dynamics] == [1, 2] and m.dynamics[1].update_norm == 3.0
    one = _measurement(provenance={"steps": [{"alpha": 0.2, "etabar": 1.0,
                                              "batch": "independent"}]},
                       spectra={"update": {"singular_values": [1.0]}})
    assert one.spectrum("update").step == 1   # a one-step run's update is step one's


def test_the_guard_hides_what_the_entries_declare_of_step_two():
    m = _measurement(spectra={"W1": {"singular_values": [2.0], "bulk_edge": 2.0},
                              "W2": {"singular_values": [3.0], "bulk_edge": 2.0},
                              "W3": {"singular_values": [4.0], "bulk_edge": 2.0}},
                     dynamics=[{"t": 1, "eta": 0.5, "update_norm": 2.0},
                               {"t": 2, "eta": 0.5, "update_norm": 3.0}],
                     series={"residual": 0.01}, visible_new_outliers=1)
    view = step_one_view(m)
    assert view.spectrum("W1") == m.spectrum("W1") and view.dynamics[0] == m.dynamics[0]
    assert view.spectrum("W3").singular_values is None and view.spectrum("W3").step == 3
    assert view.series is None and view.visible_new_outliers is None
    cases = {
        "W2's values": (lambda m: m.spectrum("W2").singular_values[0], {"spectra.W2"}),
        "W3's values": (lambda m: m.spectrum("W3").singular_values[0], {"spectra.W3"}),
        "step 2's norm": (lambda m: m.dynamics[1].update_norm, {"dynamics.2"}),
        "a count": (lambda m: m.visible_new_outliers, {"visible_new_outliers"}),
        "a step-two read that tolerates None": (lambda m: m.series.residual if m.series else 0.0,
                                                {"series"}),
        # labels of a step-two entry are not step two's: the theory edge, a step size
        "W2's theory edge": (lambda m: m.spectrum("W2").bulk_edge, set()),
        "step 2's step size": (lambda m: m.dynamics[1].eta, set()),
        "W1 and step one": (lambda m: m.spectrum("W1").singular_values[0]
                            + m.dynamics[0].update_norm, set()),
        "the width": (lambda m: m.N + len(m.spectra) + len(m.dynamics), set()),
    }
    for what, (statistic, expected) in cases.items():
        assert step_two_reads(statistic, m) == expected, what
