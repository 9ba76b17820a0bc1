"""Why a measurement's observable is None: the ``missing`` records of a
:class:`~twostep.simulate.Measurement` (``m.why("terms")``), derived from its options and what
it holds, never stored (docs/reference.md, Observables at a width N)."""

from __future__ import annotations

from typing import Any

from twostep.theory.observables import Missing


def _spectra_option(options: Any) -> str:
    spectra = options.spectra
    return spectra if isinstance(spectra, str) else f"({', '.join(spectra)})"


def unmeasured(m: Any) -> tuple[Missing, ...]:
    """The :class:`Missing` records of measurement ``m``: each observable that is None (or
    empty) with why, in one line: a spectrum the run did not compute (its ``spectra``
    option), exact terms it did not ask for (``terms=0``), null floors without null draws,
    features not asked for."""
    opts = m.options
    asked = f"spectra={_spectra_option(opts)}"
    T = len(m.provenance.steps) or 2
    last = f"W{T}"
    out: list[tuple[str, str]] = []
    for name in [f"W{t}" for t in range(1, T + 1)] + ["update"]:
        if name not in m.spectra:
            out.append((f"spectra.{name}", f"the run did not compute {name}'s spectrum ({asked})"))
    if m.step_one_spike is None:
        out.append(("step_one_spike", f"the run did not compute W1's spectrum ({asked})"))
    if m.outliers is None:
        out.append(("outliers", f"the run did not compute {last}'s spectrum ({asked})"))
    if m.bulk_edge_empirical is None:
        out.append(("bulk_edge_empirical",
                    f"the run did not compute {last}'s spectrum ({asked})"))
    if m.visible_new_outliers is None:
        out.append(("visible_new_outliers", f"needs the spectra of W{T - 1} and {last} "
                                            f"({asked})"))
    if m.features is None:
        out.append(("features", "the run did not ask for the feature spikes (features=False; "
                                "run with features=True)" if not opts.features else
                    "not in this measurement"))
    if m.terms is None:
        why = ("the run did not ask for the exact terms (terms=0; run with terms=K, "
               "twostep simulate --terms K)" if opts.terms == 0 else
               "not in this measurement (rescaled or stripped)")
        out += [("terms", why), ("series", why)]
    if opts.null_draws == 0:
        why = "the run drew no independent second layers (null_draws=0)"
        for record in ("amplitudes", "terms"):
            out += [(f"{record}.{f}", why) for f in
                    ("null_floor", "null_floor_sd", "null_beta_overlap", "null_beta_overlap_sd")]
        out += [("beta.null", why), ("beta.null_sd", why)]
    return tuple(Missing(field, reason) for field, reason in out)
