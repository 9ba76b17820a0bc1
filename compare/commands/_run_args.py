"""The run-option flags of ``twostep simulate`` and ``twostep sweep``, written once.

Defaults, allowed values and validation come from
:class:`twostep.simulate.options.RunOptions`; the help texts quote its defaults.
"""

from __future__ import annotations

import argparse
from typing import Any

from twostep.simulate.options import (
    BACKENDS,
    DTYPES,
    MAX_NULL_DRAWS,
    MAX_POWER_LIMIT,
    TERMS_LIMIT,
    RunOptions,
    check_spectra,
)

_DEFAULT = RunOptions()
#: The flags' destinations, in RunOptions field names.
RUN_FLAGS = ("dtype", "top", "max_power", "null_draws", "terms", "spectrum", "features",
             "spectra", "backend")


def _spectra(text: str) -> Any:
    from twostep.theory.errors import ConfigError

    try:
        return check_spectra(text)
    except ConfigError as err:  # argparse prints it after "argument --spectra:"
        raise argparse.ArgumentTypeError(str(err).removeprefix("spectra: ")) from None


def add_run_arguments(group: argparse._ArgumentGroup) -> None:
    """The run options as flags. Unset flags stay None: the caller's RunOptions (or a cell's
    defaults) fill them, so every default is written once, in RunOptions."""
    group.add_argument("--dtype", default=None,
                       help=f"{' or '.join(DTYPES)}: element type of the GEMMs; reductions "
                            f"stay float64 "
                            f"(default: {_DEFAULT.dtype})")
    group.add_argument("--top", type=int, default=None, metavar="K",
                       help=f"singular values reported per matrix, 1..min(N, d) "
                            f"(default: {_DEFAULT.top})")
    group.add_argument("--max-power", type=int, default=None, metavar="K",
                       help=f"powers a^1..a^K for overlaps and amplitudes, 1..{MAX_POWER_LIMIT} "
                            f"(default: {_DEFAULT.max_power})")
    group.add_argument("--null-draws", type=int, default=None, metavar="K",
                       help=f"independent second layers for the null floors, 0..{MAX_NULL_DRAWS} "
                            f"(default: {_DEFAULT.null_draws})")
    group.add_argument("--terms", type=int, default=None, metavar="K",
                       help=f"also the exact step-two terms T_0..T_K and the series residual "
                            f"(two steps, smooth activations; 0..{TERMS_LIMIT}, docs/theory.md) "
                            f"(default: {_DEFAULT.terms})")
    group.add_argument("--spectra", type=_spectra, default=None, metavar="NAMES",
                       help="top-k spectra to compute: all, none, or a comma list of W1, W2, "
                            f"..., update (default: {_DEFAULT.spectra})")
    group.add_argument("--spectrum", action="store_true", default=None,
                       help="also the full spectra (dense SVD; N <= 8000)")
    group.add_argument("--features", action="store_true", default=None,
                       help="also the one-step feature-matrix spikes (materialises n x N)")
    group.add_argument("--backend", default=None,
                       help=f"{', '.join(BACKENDS)}: array library the simulation runs in; "
                            "cupy needs the gpu extra "
                            f"(docs/performance.md) (default: {_DEFAULT.backend})")


def run_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The run-option flags that were given, by RunOptions field name."""
    return {name: getattr(args, name) for name in RUN_FLAGS if getattr(args, name) is not None}


def run_options(args: argparse.Namespace, **extra: Any) -> RunOptions:
    """The RunOptions the flags give (plus ``extra`` fields); a bad value is refused in one
    line that names the flag (``--top must be an integer >= 1, got 0``)."""
    from twostep.theory.errors import ConfigError

    try:
        return RunOptions(**run_options_from_args(args), **extra)
    except ConfigError as err:
        text = str(err)
        for name in RunOptions.fields():
            if text.startswith(name + " "):
                text = "--" + name.replace("_", "-") + text[len(name):]
                break
        raise ConfigError(text) from None
