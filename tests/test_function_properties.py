"""What belongs to one parsed activation (:class:`twostep.theory.functions.Function`): its
radius of convergence (what ``compare.core.radius`` reads by name) and its kinks (the
non-smooth sub-expressions of :mod:`twostep.theory.nonsmooth`)."""

from __future__ import annotations

import math

import pytest
import sympy

from twostep.compare.plans import core
from twostep.theory import nonsmooth
from twostep.theory.functions import Function, Z, parse_function


@pytest.mark.parametrize("text, expected", [
    ("tanh", math.pi / 2), ("TANH", math.pi / 2), ("tanh(z + 1/2)", math.pi / 2),
    ("tanh(2*z)", math.pi / 4), ("tanh(z/3 + 1)", 3 * math.pi / 2), ("sigmoid", math.pi),
    ("softplus", math.pi), ("silu", math.pi), ("gelu", math.inf), ("erf", math.inf),
    ("erf(2*z - 1)", math.inf), ("sin(z/2)", math.inf), ("He3", math.inf),
    ("z**3 - z", math.inf), ("identity", math.inf),
    ("relu", None), ("abs", None), ("tanh(z)**3", None), ("tanh(z**2)", None),
    ("tanh(-z/3)", None),  # sympy writes it -tanh(z/3): a product, not read here
])
def test_radius_is_the_activations(text, expected):
    fn = parse_function(text)
    assert fn.radius == (expected if expected is None else pytest.approx(expected))
    assert core.radius(text) == fn.radius          # the name-keyed view is a thin call


def test_radius_of_a_function_built_directly():
    # the built-in name decides only for a parsed built-in; an expression is read by shape
    fn = Function(text="my tanh", expr=sympy.tanh(3 * Z), smooth=True)
    assert fn.radius == pytest.approx(math.pi / 6)


@pytest.mark.parametrize("text, kinks", [
    ("relu", (sympy.Max(Z, 0),)),
    ("abs(z - 5/11)", (sympy.Abs(Z - sympy.Rational(5, 11)),)),  # not 3/7: see
    # tests/test_hermite_nonsmooth.py, which needs abs(z - 3/7) out of the parse cache
    ("max(abs(z) - 1, 0)", (sympy.Max(sympy.Abs(Z) - 1, 0), sympy.Abs(Z))),
    ("sign(z) + z", (sympy.sign(Z),)),
    ("tanh", ()), ("He3", ()), ("floor(z)", ()),
])
def test_kinks_are_the_activations(text, kinks):
    fn = parse_function(text)
    assert fn.kinks == kinks == nonsmooth.kinks(fn.expr)
    assert fn.smooth is (not kinks and text != "floor(z)")
    for node in fn.kinks:
        assert nonsmooth.switches(node)
