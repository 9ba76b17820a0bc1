"""Peak memory of :func:`twostep.simulate.run`, estimated before anything is allocated.

With ``s`` the bytes of the run dtype (8 or 4), ``b`` the block rows and
``m = max(top, 10) + EXTRA``, ``w = m + OVERSAMPLE`` the Lanczos block::

    peak = BASE                                    interpreter, numpy, scipy, sympy
         + s (N d + N d + n d)                     W, the update, the batch X (kept for reuse)
         + 16 n + 32 (N + d)                       y, noise, r, f, a, beta, u
         + max(step, spectra, features, full)      the phases never overlap

    step     = 2 s b N + 8 SUB_BLOCK_BYTES         H_b and M_b; the activation's temporaries
             + 2 DRAW_BYTES                        on sub-blocks; one float64 draw chunk
    spectra  = s min(N,d) w (MAX_ITERATIONS + 1)   Krylov basis (run dtype)
             + 8 (w (MAX_ITERATIONS + 1))^2        projected matrix
             + (8 + s) (N + d) w * 3               block products and Ritz vectors
    features = s n N + spectra(n x N)              the feature matrix sigma(X W^T)/sqrt(n)
    full     = 2 s N d + 8 min(N, d)               np.linalg.svd copies its input (spectrum=True)

The four top terms are all live from the first step on (X of a fresh batch
is released before the next one is drawn). benchmarks/bench_simulate.py
compares this with the measured ru_maxrss.
"""

from __future__ import annotations

import os

from twostep.theory import ConfigError

from . import lanczos, spectra
from .draws import DRAW_BYTES
from .gd import SUB_BLOCK_BYTES

#: Interpreter with numpy, scipy and sympy imported: 90 MiB measured (VmHWM), plus
#: lambdify and LAPACK workspaces during the run.
BASE = 200 * 2**20
GiB = 2**30


def _spectra_bytes(rows: int, cols: int, m: int, itemsize: int) -> int:
    width = m + lanczos.OVERSAMPLE
    dim = width * (lanczos.MAX_ITERATIONS + 1)
    side = min(rows, cols)
    dim = min(dim, side)
    if side <= lanczos.DENSE_LIMIT:
        return 8 * (3 * rows * cols)
    return itemsize * side * dim + 8 * dim * dim + (8 + itemsize) * (rows + cols) * width * 3


def estimate_peak(N: int, d: int, n: int, itemsize: int, *, block_rows: int, top: int,
                  spectrum: bool = False, features: bool = False, terms: int = 0
                  ) -> dict[str, int]:
    """The terms of the peak formula (module docstring) in bytes, and their ``total``.

    With ``terms = K > 0`` the K + 1 exact-term matrices ``D_k`` (N x d each) are live from
    step one to the end, and their pass holds ``2K + 6`` block buffers (``terms.block_rows``)
    plus, on an independent batch, a copy of the step-two batch.
    """
    s = itemsize
    m = spectra.computed_count(top)
    parts = {
        "base": BASE,
        "weights": s * N * d,
        "update": s * N * d,
        "batch": s * n * d,
        "vectors": 16 * n + 32 * (N + d),
    }
    if terms:
        from .terms import block_rows as term_block_rows

        parts["term_matrices"] = s * (terms + 1) * N * d
        parts["term_pass"] = (s * (2 * terms + 6) * term_block_rows(N, n, terms, s) * N
                              + s * n * d)
    phases = {
        "step": 2 * s * block_rows * N + 8 * SUB_BLOCK_BYTES + 2 * DRAW_BYTES,
        "spectra": _spectra_bytes(N, d, m, s),
        "features": (s * n * N + _spectra_bytes(n, N, m, s) + 3 * s * block_rows * N)
        if features else 0,
        "full_spectrum": (2 * s * N * d + 8 * min(N, d)) if spectrum else 0,
    }
    phase = max(phases, key=phases.get)
    parts["phase"] = phases[phase]
    if terms:  # the term pass is a phase of its own: it runs between the two steps
        term_pass = parts.pop("term_pass")
        if term_pass > parts["phase"]:
            parts["phase"], phase = term_pass, "terms"
    parts["total"] = sum(parts.values())
    parts["largest_phase"] = phase  # type: ignore[assignment]
    parts["itemsize"] = s  # not a term: the run dtype's bytes, for the refusal's advice
    return parts


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, else free physical pages (os.sysconf), else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_bytes(count: float) -> str:
    """``count`` bytes for a message: ``1.5 GiB``, ``2.3 TiB``, up to ``EiB``, then a power
    of ten (``2.1e+07 EiB``) rather than a 17-digit number."""
    units = ("GiB", "TiB", "PiB", "EiB")
    value = count / GiB
    for unit in units:
        if value < 1024 or unit == units[-1]:
            break
        value /= 1024
    return f"{value:.1f} {unit}" if value < 1e5 else f"{value:.2g} {unit}"


def check(estimate: dict, *, allow: bool, what: str,
          allow_hint: str | None = "allow_memory=True",
          dtype_hint: str = 'dtype="float32"') -> None:
    """Refuse (ConfigError) when the estimated peak exceeds the available memory.

    The advice names only what would help: ``dtype_hint`` for a float64 run (about half
    the memory; never for a run already in float32), a smaller N, and ``allow_hint``
    (the caller's way to override, None when it has none).  The defaults are the Python
    API's spellings; ``twostep simulate`` passes its flags (``--dtype float32``,
    ``--allow-memory``)."""
    available = available_bytes()
    if allow or available is None:
        return
    total = estimate["total"]
    if total > available:
        advice = []
        if estimate.get("itemsize", 8) > 4:
            advice.append(f"{dtype_hint} (about half the memory)")
        advice.append("a smaller N")
        if allow_hint:
            advice.append(allow_hint)
        text = advice[0] if len(advice) == 1 else ", ".join(advice[:-1]) + " or " + advice[-1]
        raise ConfigError(
            f"{what} needs about {format_bytes(total)} (estimated peak) but only "
            f"{format_bytes(available)} is available; use {text}")
