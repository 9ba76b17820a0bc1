"""The registry of non-smooth primitives (``twostep.theory.nonsmooth.REGISTRY``) is what
``theory.functions`` and ``theory.hermite`` consult: every registered class is handled
the same way everywhere, a new entry is enough for a new primitive, and removing an
entry removes the special treatment everywhere (docs/theory.md, "Hermite convention":
``c_m(f) = E[f^(m)]`` distributionally for kinks)."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import sympy

from twostep.theory import ConfigError, hermite, nonsmooth
from twostep.theory.functions import Function, Z, parse_function
from twostep.theory.hermite import kinks

THIRD = sympy.Rational(1, 3)


def _mp(q: sympy.Rational) -> mpmath.mpf:
    return mpmath.mpf(q.p) / q.q


def _he(m: int, x):
    return (1, x, x**2 - 1, x**3 - 3 * x)[m]


# One example per registered class: (expression, its switching points, an independent
# mpmath definition, whether it jumps).  Adding a class to the registry without an
# example here fails test_every_registered_class_has_an_example.
EXAMPLES = {
    sympy.Abs: (sympy.Abs(Z - THIRD), [THIRD], lambda x: abs(x - _mp(THIRD)), False),
    sympy.Max: (sympy.Max(Z, sympy.Rational(1, 4)), [sympy.Rational(1, 4)],
                lambda x: max(x, mpmath.mpf(1) / 4), False),
    sympy.Min: (sympy.Min(Z, -sympy.Rational(1, 5)), [-sympy.Rational(1, 5)],
                lambda x: min(x, -mpmath.mpf(1) / 5), False),
    sympy.Heaviside: (sympy.Heaviside(Z - sympy.Rational(1, 2)), [sympy.Rational(1, 2)],
                      lambda x: 1 if x > 0.5 else 0, True),
    sympy.sign: (sympy.sign(Z + THIRD), [-THIRD], lambda x: 1 if x > -_mp(THIRD) else -1, True),
    sympy.Piecewise: (sympy.Piecewise((Z**2, Z < sympy.Rational(1, 2)), (Z - 1, True)),
                      [sympy.Rational(1, 2)],
                      lambda x: x**2 if x < 0.5 else x - 1, True),
}


def test_every_registered_class_has_an_example():
    assert set(EXAMPLES) == set(nonsmooth.REGISTRY)


@pytest.mark.parametrize("cls", list(EXAMPLES), ids=lambda c: c.__name__)
def test_registered_class_is_handled_consistently(cls):
    expr, breaks, reference, jumps = EXAMPLES[cls]
    # functions: not smooth; a derivative with a Dirac delta is refused iff it jumps
    fn = Function(text=str(expr), expr=expr, smooth=nonsmooth.is_smooth(expr))
    assert fn.smooth is False
    fn.numpy(0)
    if jumps:
        with pytest.raises(ConfigError, match="has a jump"):
            fn.numpy(1)
    else:
        fn.numpy(1)
        with pytest.raises(ConfigError, match="has a jump"):
            fn.numpy(2)
    # hermite: split at exactly the switching points, integrated exactly piece by piece
    pieces = kinks._pieces(expr)
    assert [hi for _, hi, _ in pieces[:-1]] == breaks
    for c in hermite.coefficients(expr, 3, digits=20):
        assert c.exact and c.reason.startswith(("exact: piecewise", "zero by parity")), c
        with mpmath.workdps(30):
            want = mpmath.quad(lambda x, m=c.order: reference(x) * _he(m, x) * mpmath.npdf(x),
                               [-mpmath.inf, *map(_mp, breaks), mpmath.inf])
        assert abs(c.numeric - want) < mpmath.mpf(10) ** -18, (c.order, c, want)


def test_parseable_names_come_from_the_registry():
    for kind in nonsmooth.REGISTRY.values():
        for name in kind.names:
            f = parse_function(f"{name}(z - 1/3)" if kind.cls not in (sympy.Max, sympy.Min)
                               else f"{name}(z, 1/3)")
            assert f.expr.has(kind.cls) and f.smooth is False, name


def test_piecewise_jump_is_refused_though_sympy_drops_its_delta():
    step = sympy.Piecewise((-1, Z < 0), (1, True))
    assert not sympy.diff(step, Z).has(sympy.DiracDelta)   # sympy says 0 everywhere
    with pytest.raises(ConfigError, match="jumps"):
        Function(text="step", expr=step, smooth=False).numpy(1)
    kink = sympy.Piecewise((0, Z < 0), (Z, True))
    Function(text="kink", expr=kink, smooth=False).numpy(1)


# -- a primitive the code has never seen: one registry entry is enough --------------------


class Ramp(sympy.Function):
    """``max(x, 0)`` as a class of its own (unknown to sympy's printers and to hermite)."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return sympy.Max(x, 0)
        return None

    def _eval_is_real(self):
        return self.args[0].is_real


class Step(sympy.Function):
    """``Heaviside`` as a class of its own: sympy differentiates it to ``Derivative``, not
    to a Dirac delta."""

    @classmethod
    def eval(cls, x):
        if x.is_number:
            return sympy.Heaviside(x)
        return None


def _ramp_entry(**changes) -> nonsmooth.NonSmooth:
    fields = dict(
        cls=Ramp, switches=lambda node: [node.args[0]],
        branch=lambda node, where, resolve: (
            resolve(node.args[0]) if sympy.N(resolve(node.args[0]).subs(where)) > 0
            else sympy.S.Zero),
        jumps=False, names=("Ramp",),
        mpmath=lambda x: max(x, mpmath.mpf(0)), numpy=lambda x: np.maximum(x, 0))
    fields.update(changes)
    return nonsmooth.NonSmooth(**fields)


def test_a_new_primitive_needs_one_registry_entry(monkeypatch):
    monkeypatch.setitem(nonsmooth.REGISTRY, Ramp, _ramp_entry())
    shift = sympy.Rational(1, 7)
    ramp, relu = Ramp(Z - shift), sympy.Max(Z - shift, 0)
    # hermite: exact, piece by piece, equal to the same function written with Max
    got = hermite.coefficients(ramp, 4, digits=25)
    want = hermite.coefficients(relu, 4, digits=25)
    for g, w in zip(got, want):
        assert g.exact and g.reason == w.reason and sympy.simplify(g.value - w.value) == 0
    # quadrature (tanh(z) Ramp does not close): the mpmath implementation, split at the kink
    q = hermite.expectation(sympy.tanh(Z) * ramp, digits=20)
    r = hermite.expectation(sympy.tanh(Z) * relu, digits=20)
    assert not q.exact and abs(q.numeric - r.numeric) < 1e-18
    # functions: parsed by name, not smooth, numpy implementation
    f = parse_function("Ramp(z - 1/7)")
    assert f.smooth is False
    x = np.array([-1.0, 0.0, 0.5, 2.0], dtype=np.float32)
    assert np.array_equal(f.numpy()(x), np.maximum(x - np.float32(1 / 7), 0))


def test_the_jumps_field_decides_the_refusal(monkeypatch):
    step = Function(text="Step(z)", expr=Step(Z), smooth=False)
    entry = nonsmooth.NonSmooth(cls=Step, switches=lambda node: [node.args[0]],
                                branch=lambda node, where, resolve: sympy.S.One,
                                jumps=True, numpy=lambda x: np.heaviside(x, 0.5))
    monkeypatch.setitem(nonsmooth.REGISTRY, Step, entry)
    with pytest.raises(ConfigError, match="Step\\(z\\) jumps"):
        step.numpy(1)
    monkeypatch.setitem(nonsmooth.REGISTRY, Step, _ramp_entry(cls=Step, jumps=False))
    assert nonsmooth.jump(Step(Z)) is None


def test_removing_an_entry_removes_the_special_treatment(monkeypatch):
    expr = sympy.Abs(Z - sympy.Rational(2, 7))
    assert hermite.coefficient(expr, 2).reason.startswith("exact: piecewise")
    monkeypatch.delitem(nonsmooth.REGISTRY, sympy.Abs)
    fresh = sympy.Abs(Z - sympy.Rational(3, 7))   # not in hermite's caches
    assert nonsmooth.is_smooth(fresh)
    assert parse_function("abs(z - 3/7)").smooth is True
    assert kinks._resolve(fresh, sympy.S.Zero) == fresh   # no branch is taken
    assert hermite.coefficient(fresh, 2).reason.startswith("numerical")
