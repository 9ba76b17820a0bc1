"""Command-line flags shared by subcommands: the :class:`ModelConfig` flags and the
time budget of the symbolic and numerical evaluations.

Values are passed to ``ModelConfig`` as given, so its validation produces the
one-line errors (``alpha1 must be in [0, 1/2), got 0.7``) for every command.

Spellings: ``--etabar1/--etabar2`` set ``etabar1/etabar2`` (``--eta1/--eta2`` are
accepted aliases); ``--batch reuse|independent`` sets the batch mode (``fresh`` is
accepted for ``independent``, and ``--reuse`` / ``--independent`` alone still work).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
import types
from collections.abc import Iterator

from twostep.theory import config as _config
from twostep.theory.config import BATCH_MODES, FIRST_LAYER, LOSSES, SECOND_LAYER, ModelConfig
from twostep.theory.errors import ConfigError

from ..execution.paths import read_input_file

#: The config's defaults, read from its fields: building the parser validates no config (that
#: would load sympy for ``twostep --help``).
_DEFAULT = types.SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(ModelConfig)})

def batch_mode(text: str) -> str:
    """``--batch`` value: reuse or independent (``fresh`` is read as independent), as
    :func:`twostep.theory.config.batch_mode` reads it everywhere."""
    try:
        return _config.batch_mode(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("batch ")) from None


def add_config_arguments(parser: argparse.ArgumentParser, *, scaling_options: bool = False,
                         law_option: bool = False) -> None:
    """The config flags; ``scaling_options``: also --second-layer, --first-layer and --loss;
    ``law_option``: also --second-layer (the law of a, which predictions take)."""
    g = parser.add_argument_group("model (docs/model.md)")
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
    mode.add_argument("--batch", type=batch_mode, metavar="MODE",
                      help=f"batch of step two: {' or '.join(BATCH_MODES)} (fresh is accepted "
                           f"for independent) (default: {_DEFAULT.batch})")
    mode.add_argument("--reuse", dest="batch", action="store_const", const="reuse",
                      help="same as --batch reuse")
    mode.add_argument("--independent", dest="batch", action="store_const", const="independent",
                      help="same as --batch independent")
    g.set_defaults(batch=_DEFAULT.batch)
    g.add_argument("--psi-d", default=_DEFAULT.psi_d, metavar="R",
                   help="d/N (default: %(default)s)")
    g.add_argument("--psi-n", default=_DEFAULT.psi_n, metavar="R",
                   help="n/N (default: %(default)s)")
    g.add_argument("--etabar1", "--eta1", dest="etabar1", default=_DEFAULT.etabar1, metavar="E",
                   help="step-one size prefactor etabar1, eta1 = etabar1 N^alpha1 (--eta1 is "
                        "an alias) (default: %(default)s)")
    g.add_argument("--etabar2", "--eta2", dest="etabar2", default=_DEFAULT.etabar2, metavar="E",
                   help="step-two size prefactor etabar2 (--eta2 is an alias) "
                        "(default: %(default)s)")
    g.add_argument("--noise", default=_DEFAULT.noise, metavar="TAU",
                   help="label noise standard deviation tau, in [0, 1e6] (default: %(default)s)")
    if scaling_options or law_option:
        g.add_argument("--second-layer", default=_DEFAULT.second_layer,
                       help=f"law of the second layer a (variance 1/N; docs/model.md): "
                            f"{', '.join(SECOND_LAYER)} (default: %(default)s)")
    if scaling_options:
        g.add_argument("--first-layer", default=_DEFAULT.first_layer,
                       help=f"W_0 rows: {', '.join(FIRST_LAYER)} (default: %(default)s)")
        g.add_argument("--loss", default=_DEFAULT.loss,
                       help=f"loss: {', '.join(LOSSES)} (default: %(default)s)")


def flag_number(value: object, flag: str) -> object:
    """A numeric flag's text as a float (``nan``, ``inf`` and ``1e5`` read as Python reads
    them; the config refuses what is not finite); text that is no number is refused naming
    the flag.  A value that is not text (a default) is passed on as it is."""
    if not isinstance(value, str):
        return value
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{flag} must be a number, got {value!r}") from None


def config_from_args(args: argparse.Namespace) -> ModelConfig:
    """Build (and so validate) the config named by the flags; the numeric flags' text is read
    as numbers here (the config refuses strings)."""
    extra = {}
    for name in ("second_layer", "first_layer", "loss"):
        if hasattr(args, name):
            extra[name] = getattr(args, name)
    numbers = {name: flag_number(getattr(args, name), "--" + name.replace("_", "-"))
               for name in _config.NUMBER_FIELDS}
    return ModelConfig(activation=args.activation, target=args.target, batch=args.batch,
                       **numbers, **extra)


def load_config_file(path: str, flag: str = "--config") -> ModelConfig:
    """The ModelConfig of the JSON file ``path`` given with ``flag``: a regular file of at
    most :data:`~twostep.compare.execution.paths.MAX_INPUT_BYTES` (:func:`read_input_file`),
    decoded by
    :meth:`ModelConfig.from_json` (UTF-8, or UTF-8/16/32 with a byte-order mark); every
    refusal is one line naming the flag and the file."""
    data = read_input_file(path, f"{flag} {path}")
    try:
        return ModelConfig.from_json(data)
    except ConfigError as err:
        raise ConfigError(f"{flag} {path}: {err}") from None


class DistinctWidths(argparse.Action):
    """``--N`` with ``nargs="+"``: each width once (``--N 20 20`` is refused, exit 2)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        seen, repeated = set(), []
        for n in values:
            if n in seen and n not in repeated:
                repeated.append(n)
            seen.add(n)
        if repeated:
            parser.error(f"argument {option_string}: width(s) {', '.join(map(str, repeated))} "
                         "given more than once; give each width once")
        setattr(namespace, self.dest, values)


# --------------------------------------------------------------------------- time budget


def add_time_budget_argument(parser: argparse.ArgumentParser) -> None:
    from twostep.theory.budget import DEFAULT_TIME_BUDGET, MAX_TIME_BUDGET

    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET,
                        metavar="SECONDS",
                        help="give up (exit 2, naming it) on any one symbolic or numerical "
                             "evaluation (an integrability check, a parity proof, a Hermite "
                             "coefficient, a Gaussian expectation) that takes longer, in "
                             f"(0, {MAX_TIME_BUDGET:g}] (default: %(default)s)")


@contextlib.contextmanager
def evaluations(args: argparse.Namespace, command: str) -> Iterator[None]:
    """Run the block's evaluations under ``--time-budget``; on a terminal, a progress bar
    on stderr (counting evaluations, naming the current one) once the block takes > 2 s."""
    from tqdm import tqdm

    from twostep.theory import hermite

    seconds = hermite.check_time_budget(args.time_budget, "--time-budget")
    bar = tqdm(desc=f"twostep {command}", unit=" evaluations", file=sys.stderr, delay=2.0,
               leave=False, disable=None, dynamic_ncols=True)

    def progress(what: str) -> None:
        bar.set_postfix_str(what if len(what) <= 50 else what[:47] + "...", refresh=False)
        bar.update()

    try:
        with hermite.time_budget(seconds, progress):
            yield
    finally:
        bar.close()
