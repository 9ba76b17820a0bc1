"""What every field of an observable declares: how it scales with the step sizes and which step
it belongs to (docs/claims.md, the core view and the regime guard).

A field of an :func:`observable` record is made with :func:`observed`, which puts both
declarations in the dataclass field's metadata (``metadata["scale"]``, ``metadata["step"]``).
The words are a closed vocabulary (:data:`SCALES`, :data:`STEPS`), written as data:

- the core view's rescaling (compare/science/rescale.py) loops over a record's fields and applies
each
  field's ``scale``, so a new field is rescaled as it declares, never silently kept;
- the regime guard (compare/science/claims/guard.py) hides what belongs to step two (the entries
whose
  declared step is 2 or later) to learn whether a statistic reads it.

A field that declares nothing, or a word outside the vocabulary, is refused when the class is
created (TypeError naming the class and the field), so such a class cannot be imported.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from .errors import NoSuchTerm

C = TypeVar("C", bound=type)

#: How a field changes when a measurement at step sizes ``(eta_1, eta_2)`` is rescaled to
#: ``(eta_1', eta_2')`` (compare/plans/core.py): ``u = eta_1'/eta_1``, ``v = eta_2'/eta_2`` and the
#: factor ``s_k = v u^k`` of the exact term ``T_k = eta_2 eta_1^k D_k`` the record describes.
#: A sequence scales entry by entry.
SCALES = {
    "invariant": "does not depend on the step sizes (a label, an overlap or cosine, a constant): "
                 "kept",
    "term": "proportional to its term T_k: multiplied by s_k",
    "term_sq": "quadratic in its term T_k: multiplied by s_k^2",
    "per_term": "a sequence whose entry m is proportional to T_m: entry m multiplied by s_m",
    "ratio": "a ratio of successive terms ||T_{k+1}|| / ||T_k||: multiplied by u",
    "update": "proportional to the whole step-two update at a fixed W_1: multiplied by v while "
              "eta_1 is unchanged, else emptied",
    "step_one": "a function of W_1 alone: kept while eta_1 is unchanged, else emptied",
    "given": "set by the rescaling from the target's step sizes (step sizes, residual rule)",
    "none": "not rescalable (a function of W_2 or of the whole update): emptied",
}

#: Which step a field belongs to.  "entry": the step of the per-step entry that holds it (a
#: spectrum's ``step``, a step's ``t``: ``W_t`` and the step-t statistics are step t's, the
#: last update the last step's); step two is every step from 2 on.
STEPS = {
    "run": "which run it is and how it was made (labels, step sizes, options)",
    "width": "before any step: a function of N, d and the initial draws (W_0, a, beta_*)",
    "step one": "a function of W_1 alone",
    "step two": "a function of W_T, of the last update or of its exact terms",
    "entry": "the step of the entry that holds it (a spectrum of W_t or a statistic of step t)",
}

#: The metadata keys :func:`observed` writes.
KEYS = ("scale", "step")


def observed(scale: str, step: str, default: Any = None, *, required: bool = False) -> Any:
    """A dataclass field declaring how it scales (:data:`SCALES`) and which step it belongs to
    (:data:`STEPS`); its default is ``default`` (None unless given), none when ``required``."""
    if scale not in SCALES:
        raise TypeError(f"unknown scale {scale!r}; allowed: {', '.join(SCALES)}")
    if step not in STEPS:
        raise TypeError(f"unknown step {step!r}; allowed: {', '.join(STEPS)}")
    metadata = {"scale": scale, "step": step}
    if required:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def observable(cls: C) -> C:
    """``dataclass(frozen=True)`` of ``cls``, refused (TypeError naming the class and the field)
    unless every field, inherited ones included, was made with :func:`observed`."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    for f in dataclasses.fields(cls):
        missing = [key for key in KEYS if key not in f.metadata]
        if missing:
            raise TypeError(f"{cls.__name__}.{f.name} declares no {' and no '.join(missing)}: "
                            f"make it with observed(scale=..., step=...) (twostep.theory.fields;"
                            f" scales: {', '.join(SCALES)}; steps: {', '.join(STEPS)})")
    cls.__observed__ = True
    return cls


def scale_of(f: dataclasses.Field) -> str:
    """The declared scale of a field of an :func:`observable` record."""
    return f.metadata["scale"]


def step_of(f: dataclasses.Field) -> str:
    """The declared step of a field of an :func:`observable` record."""
    return f.metadata["step"]


# -- the fields of the Observables container (and so of a Measurement) ----------------------

#: What each field of an :class:`Observables` (and so of a
#: :class:`~twostep.simulate.Measurement`) is a function of: its ``metadata["of"]``, one of these
#: keys.  This is the one classification of the fields: the core's rescaling (compare/plans/core.py:
#: what it rescales, keeps or empties) and the regime guard (compare/science/claims/guard.py: which
#: reads are statements about step two) both derive their field lists from it
#: (``simulate.measurement.fields_of``), and tests/test_core.py fails for a field without one.
FIELD_KINDS = {
    "run": "which run it is and how it was made: config, width, seed, options, provenance, "
           "versions, timing",
    "width": "a function of N and d alone",
    "step one": "a function of W_1 alone (its spectrum, the features)",
    "step two": "a function of W_T or of the last update W_T - W_{T-1} (step two of a "
                "two-step run)",
    "exact terms": "the exact step-two terms T_k and the diagnostics of their series",
    "per step": "one entry per matrix or per step (spectra by name, dynamics by t): the "
                "entries of W_1 and step one are step one's, the others step two's",
}


def _of(kind: str, **kwargs: Any) -> Any:
    """A dataclass field of the given kind (:data:`FIELD_KINDS`)."""
    if kind not in FIELD_KINDS:
        raise ValueError(f"unknown field kind {kind!r}; known: {', '.join(FIELD_KINDS)}")
    return dataclasses.field(metadata={"of": kind}, **kwargs)


def kind_fields(cls: type, *kinds: str) -> tuple[str, ...]:
    """The names of ``cls``'s fields of these kinds (:data:`FIELD_KINDS`), in field order."""
    unknown = sorted(set(kinds) - set(FIELD_KINDS))
    if unknown:
        raise ValueError(f"unknown field kind(s) {unknown}; known: {', '.join(FIELD_KINDS)}")
    return tuple(f.name for f in dataclasses.fields(cls) if f.metadata["of"] in kinds)


# -- looking terms up by k ---------------------------------------------------------------------

def why_names(name: str, head: str) -> list[str]:
    """``name``, then the names it falls back to in ``Observables.why`` (``head``: the field
    it belongs to)."""
    out = [name]
    first, _, rest = name.partition(".")
    if first != head:  # term(1).amplitude -> terms.amplitude -> terms
        if rest:
            out.append(f"{head}.{rest}")
        out.append(head)
    parts = out[-1].split(".")
    out += [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
    return list(dict.fromkeys(out))


def by_k(records: tuple | None, k: int, what: str, why: str | None) -> Any:
    for r in records or ():
        if r.k == k:
            return r
    ks = [r.k for r in records or ()]
    have = (f"the {what}s here are k = {', '.join(map(str, ks))}" if ks else
            f"there are none here ({why})" if why else "there are none here")
    raise NoSuchTerm(f"no {what} k={k}: {have}")
