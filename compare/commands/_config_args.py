"""Command-line flags that build a :class:`ModelConfig` (shared by subcommands).

Values are passed to ``ModelConfig`` as given, so its validation produces the
one-line errors (``alpha1 must be in [0, 1/2), got 0.7``) for every command.
"""

from __future__ import annotations

import argparse

from twostep.theory.config import FIRST_LAYER, LOSSES, SECOND_LAYER, ModelConfig

_DEFAULT = ModelConfig()


def add_config_arguments(parser: argparse.ArgumentParser, *, scaling_options: bool = False) -> None:
    g = parser.add_argument_group("model (THEORY.md section 2)")
    g.add_argument("--activation", default=_DEFAULT.activation,
                   help="activation sigma: a built-in name or an expression in z "
                        "(default: %(default)s)")
    g.add_argument("--target", default=_DEFAULT.target,
                   help="target sigma_*: a built-in name or an expression in z "
                        "(default: %(default)s)")
    g.add_argument("--alpha1", default=_DEFAULT.alpha1, metavar="X",
                   help="step-one exponent, eta1 = etabar1 N^alpha1, in [0, 1/2) "
                        "(default: %(default)s)")
    g.add_argument("--alpha2", default=_DEFAULT.alpha2, metavar="Y",
                   help="step-two exponent, in [0, 1/2) (default: %(default)s)")
    mode = g.add_mutually_exclusive_group()
    mode.add_argument("--reuse", dest="batch", action="store_const", const="reuse",
                      help="step two reuses the step-one batch (default)")
    mode.add_argument("--independent", dest="batch", action="store_const", const="independent",
                      help="step two draws a fresh batch")
    g.set_defaults(batch=_DEFAULT.batch)
    g.add_argument("--psi-d", default=_DEFAULT.psi_d, metavar="R",
                   help="d/N (default: %(default)s)")
    g.add_argument("--psi-n", default=_DEFAULT.psi_n, metavar="R",
                   help="n/N (default: %(default)s)")
    g.add_argument("--eta1", default=_DEFAULT.etabar1, metavar="E",
                   help="etabar1, the step-one size prefactor (default: %(default)s)")
    g.add_argument("--eta2", default=_DEFAULT.etabar2, metavar="E",
                   help="etabar2, the step-two size prefactor (default: %(default)s)")
    g.add_argument("--noise", default=_DEFAULT.noise, metavar="TAU",
                   help="label noise standard deviation tau (default: %(default)s)")
    if scaling_options:
        g.add_argument("--second-layer", default=_DEFAULT.second_layer,
                       help=f"second-layer init: {', '.join(SECOND_LAYER)} (default: %(default)s)")
        g.add_argument("--first-layer", default=_DEFAULT.first_layer,
                       help=f"W_0 rows: {', '.join(FIRST_LAYER)} (default: %(default)s)")
        g.add_argument("--loss", default=_DEFAULT.loss,
                       help=f"loss: {', '.join(LOSSES)} (default: %(default)s)")


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    """Build (and so validate) the config named by the flags."""
    extra = {}
    for name in ("second_layer", "first_layer", "loss"):
        if hasattr(args, name):
            extra[name] = getattr(args, name)
    return ModelConfig(
        activation=args.activation, target=args.target, alpha1=args.alpha1, alpha2=args.alpha2,
        batch=args.batch, psi_d=args.psi_d, psi_n=args.psi_n, etabar1=args.eta1,
        etabar2=args.eta2, noise=args.noise, **extra)
