"""The built-in plans by name (``twostep verify --profile``) and :func:`verify`, the Python
form of ``twostep verify`` without a report (docs/reference.md, The Python API).

- ``default``: the seed's claims at small widths
(:data:`~twostep.compare.plans.verify.DEFAULT_PLAN`);
- ``deep``: the same claims with more widths and seeds (``DEEP_PLAN``);
- ``headline``: the count ``floor(a2/(1/2-a1))`` decided at count 1 and 2 through the core
  view (:mod:`twostep.compare.plans.headline`, docs/results.md, The headline).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from twostep.theory.errors import ConfigError

if TYPE_CHECKING:  # imported where used: the command line reads PROFILES at start
    from .verify import Check, Run

#: The built-in plans of ``--profile``.
PROFILES = ("default", "deep", "headline")


def profile_plan(profile: str, seeds: int | dict[int, int] | None = None) -> tuple[Check, ...]:
    """The checks of a built-in plan; ``seeds`` only for ``headline`` (the others fix theirs)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; allowed: {', '.join(PROFILES)}")
    from .verify import DEEP_PLAN, DEFAULT_PLAN

    if profile == "headline":
        from .headline import headline_plan, seeds_override

        return tuple(headline_plan(seeds_override(seeds)))
    if seeds is not None:
        raise ConfigError("seeds go with the headline profile (the default and deep plans fix "
                          "their own)")
    return DEEP_PLAN if profile == "deep" else DEFAULT_PLAN


def verify(profile: str = "default", *, store: str | os.PathLike[str] | None = None,
           seeds: int | dict[int, int] | None = None, jobs: int | None = None,
           executor: str = "process", quiet: bool = True) -> Run:
    """Run a built-in plan (:data:`PROFILES`) and return its :class:`~.verify.Run`
    (``run.verdicts``, ``run.results``).  Without ``store`` the cells go to a temporary store
    deleted afterwards; with one, finished cells are read back and not simulated again."""
    plan = profile_plan(profile, seeds)
    if store is None:
        with tempfile.TemporaryDirectory(prefix="twostep-") as tmp:
            return verify(profile, store=Path(tmp) / "verify.sqlite", seeds=seeds, jobs=jobs,
                          executor=executor, quiet=quiet)
    if profile == "headline":
        from .core_plan import run_core_plan
        from .headline import ANCHORS

        return run_core_plan(plan, store, jobs=jobs, executor=executor, quiet=quiet,
                             anchors=ANCHORS)
    from .verify import run_checks

    return run_checks(plan, store, jobs=jobs, executor=executor, quiet=quiet)
