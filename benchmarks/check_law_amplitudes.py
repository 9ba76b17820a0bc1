"""The amplitude model's coherent strengths against the exact terms', for the Gaussian and the
uniform second layer (issue 26, "Done when"; docs/model.md, "The second layer's law").

For each law, width N and seed it builds the step-size-free core (``simulate.core.build``, the
exact terms ``D_k``) and measures, for k = 0..K:

- the pair statistic ``U_k`` of ``D_k`` along ``q_{k+1}`` (``directions.coherent_part``: the
  squared coherent strength without the neurons' own fluctuations) and the left weight ``L_k``
  (``directions.left_weight``), hence ``||vbar_k||^2 = N^k U_k / L_k``.

The prediction is ``predict(cfg).at(N).terms[k].coherent_sq`` (the squared BBP strength
``theta_k^2 = eta^2 Pi_k(N) E||vbar_k||^2``) over ``eta^2 = (etabar2 N^alpha2 (etabar1
N^alpha1)^k)^2``, so that both sides are about ``D_k``.  The pair statistic leaves out the
diagonal ``i = j`` of the rank-one part as well, so its expectation is
``(Pi_k - Sigma_k) E||vbar_k||^2``: the column ``pair`` is the model's prediction of ``U_k``,
``theta^2 (1 - Sigma_k / Pi_k)`` with the law's overlap constants.  The ``vbar^2`` columns
compare ``N^k U / L`` with ``E||vbar_k||^2`` at N, the part of the model free of the law.

Verdict per row: ``|mean - pair| <= 4 se + slack``, the Gaussian law's tolerance in
tests/test_amplitudes.py: 4 standard errors of the seed mean plus 3% for the dropped O(1/N)
pieces at k = 0, 1, and 15% at k = 2 (``test_amplitudes_against_exact_terms_table``).

Usage: ``python benchmarks/check_law_amplitudes.py [--activation A] [--batch B] [--seeds
N=S,...] [--K K]``; defaults: ``tanh(z + 1)`` (in no test fixture), He1, independent batch,
seeds 1000=16,2000=10,4000=6, K = 2, float32.  About 5 minutes on one core.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np

from twostep.simulate import core, directions
from twostep.theory import ModelConfig
from twostep.theory.predict import predict
from twostep.theory.term_moments import overlap_constants

LAWS = ("gaussian", "uniform")
#: The Gaussian law's tolerance (tests/test_amplitudes.py): 4 standard errors of the seed mean
#: plus 3% for the dropped O(1/N) pieces at k = 0, 1, and 15% at k >= 2.
SE_UNITS = 4.0


def slack(k: int) -> float:
    return 0.03 if k < 2 else 0.15


def _seeds(text: str) -> dict[int, int]:
    out = {}
    for part in text.split(","):
        N, S = part.split("=")
        out[int(N)] = int(S)
    return out


def measure(cfg: ModelConfig, N: int, seeds: int, K: int) -> np.ndarray:
    """``(seeds, K+1, 2)``: ``U_k`` and ``L_k`` of the exact terms per seed."""
    out = np.empty((seeds, K + 1, 2))
    for seed in range(seeds):
        c = core.build(cfg, N, seed, K, dtype="float32")
        a = np.asarray(c.a, dtype=np.float64)
        Q = directions.power_basis(a, K + 1)
        for k in range(K + 1):
            U, _ = directions.coherent_part(c.D[k], Q[:, k])
            out[seed, k] = U, directions.left_weight(a, Q[:, k], k + 1)
    return out


def predicted(cfg: ModelConfig, N: int, K: int) -> list[tuple[float, float, float]]:
    """Per k: ``theta^2 / eta^2`` (the BBP strength of D_k), the pair expectation, and
    ``E||vbar_k||^2`` at N."""
    obs = predict(cfg).at(N, ks=tuple(range(K + 1)))
    out = []
    for t in obs.terms:
        k = t.k
        eta = cfg.etabar2 * N**cfg.alpha2 * (cfg.etabar1 * N**cfg.alpha1) ** k
        theta2 = t.coherent_sq / eta**2
        oc = overlap_constants(k, cfg.second_layer)
        pi_k = N * float(oc["rho"]) - float(oc["loss"])
        out.append((theta2, theta2 * (1 - float(oc["sigma"]) / pi_k), theta2 * N ** (k + 1) / pi_k))
    return out


def _row(law: str, N: int, k: int, data: np.ndarray, pred: tuple[float, float, float]
         ) -> tuple[str, bool]:
    U, L = data[:, k, 0], data[:, k, 1]
    S = len(U)
    m, se = U.mean(), U.std(ddof=1) / math.sqrt(S)
    vb = N**k * U / L
    vm, vse = vb.mean(), vb.std(ddof=1) / math.sqrt(S)
    theta2, pair, vbar = pred
    ok = abs(m - pair) <= SE_UNITS * se + slack(k) * abs(pair)
    text = (f"| {law} | {k} | {N} | {S} | {m:.4g} +- {se:.2g} | {pair:.4g} | {m / pair:.3f} "
            f"+- {se / pair:.3f} | {theta2:.4g} | {vm:.4g} +- {vse:.2g} | {vbar:.4g} | "
            f"{'yes' if ok else 'NO'} |")
    return text, ok


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--activation", default="tanh(z + 1)")
    p.add_argument("--target", default="He1")
    p.add_argument("--batch", default="independent")
    p.add_argument("--seeds", type=_seeds, default=_seeds("1000=16,2000=10,4000=6"))
    p.add_argument("--K", type=int, default=2)
    args = p.parse_args(argv)
    base = ModelConfig(activation=args.activation, target=args.target, batch=args.batch,
                       alpha1=0.3, alpha2=0.45, etabar1=0.2)
    print(f"activation {base.activation}, target {base.target}, {base.batch} batch, "
          f"psi_d = psi_n = 1; D_k of the exact terms, float32; U = pair statistic of D_k "
          f"along q_(k+1), L its left weight")
    print("| law | k | N | seeds | U mean +- se | pair pred. | U / pair | theta^2 pred. | "
          "N^k U/L +- se | E vbar^2 pred. | within 4 se + slack |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = 0
    clock = time.perf_counter()
    for law in LAWS:
        cfg = base.replace(second_layer=law)
        for N, S in sorted(args.seeds.items()):
            data = measure(cfg, N, S, args.K)
            pred = predicted(cfg, N, args.K)
            for k in range(args.K + 1):
                text, ok = _row(law, N, k, data, pred[k])
                failed += not ok
                print(text, flush=True)
    print(f"{failed} row(s) outside the tolerance; {time.perf_counter() - clock:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
