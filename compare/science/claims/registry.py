"""The registry of named claims: ``twostep verify --claim NAME``, :func:`get_claim`.

The built-in claims are one explicit list, :data:`_BUILTINS`, from which the registry starts;
nothing registers itself on import.  :func:`register` adds a user's claim to this process's
registry.  A one-off :class:`Claim` object needs no registration:
:func:`twostep.compare.plans.verify.check` and :class:`twostep.compare.plans.verify.Check` take the
object. """

from __future__ import annotations

import re

from twostep.theory.errors import ConfigError

from .amplitude import OutlierLocations, TermAmplitudeClaim
from .base import Claim
from .bbp import BBP
from .count import OutlierCount
from .growth import GrowthExponent, TermExponent
from .learning import ReuseLearning
from .reuse import ReuseGap
from .spikes import OneStepSpikes
from .vectors import LeftVectors

#: The built-in claims, in the order :func:`claim_names` lists them: the one place they are named.
_BUILTINS: tuple[Claim, ...] = (
    GrowthExponent(), TermExponent(), OutlierCount(), LeftVectors(), ReuseGap(), ReuseLearning(),
    BBP(), OneStepSpikes(), TermAmplitudeClaim(), OutlierLocations())

#: names of the built-in claims (``check`` refuses to shadow them with a user claim)
BUILTIN_CLAIMS = frozenset(c.name for c in _BUILTINS)

#: The claims by name: the built-ins, then what :func:`register` added in this process.
_REGISTRY: dict[str, Claim] = {c.name: c for c in _BUILTINS}

_CLAIM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def check_claim_name(name: object) -> str:
    """A claim name names the report's files: letters, digits, '-', '_' and '.'."""
    if not isinstance(name, str) or not _CLAIM_NAME.fullmatch(name):
        raise ConfigError(f"claim name {name!r} may use only letters, digits, '-', '_' and '.' "
                          "(it names the report's files)")
    return name


def register(claim: Claim, *, replace: bool = False) -> Claim:
    """Make ``claim`` available by name to ``twostep verify --claim`` and :func:`check`."""
    if not isinstance(claim, Claim):
        raise ConfigError(f"register takes a Claim, got {type(claim).__name__}")
    check_claim_name(claim.name)
    if claim.name in _REGISTRY and not replace:
        raise ConfigError(f"a claim named {claim.name!r} exists; pass replace=True")
    _REGISTRY[claim.name] = claim
    return claim


def get_claim(name: str) -> Claim:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown claim {name!r}; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def claim_names() -> list[str]:
    return list(_REGISTRY)
