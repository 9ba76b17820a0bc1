"""Rank-one spike of W_0 + theta a u^T: the BBP transition (docs/theory.md, section 3).

For ``alpha1 = 0`` the first GD step adds a finite rank-one perturbation
``eta_1 c_1(sigma) a u^T`` to ``W_0`` (N x d, entries of variance 1/d, aspect
ratio ``c = N/d``).  With ``theta = etabar_1 |c_1(sigma)| ||u||``
(Benaych-Georges & Nadakuditi 2012, rectangular case):

- an outlier exists iff ``theta > c^{1/4}``, at
  ``sqrt((1 + theta^2)(c + theta^2)) / theta``;
- the bulk edge is ``1 + sqrt(c)``;
- the squared overlap of the right singular vector with ``u`` is
  ``1 - (c + theta^2) / (theta^2 (theta^2 + 1))``;
- the squared overlap of the left singular vector with ``a`` is
  ``1 - c (1 + theta^2) / (theta^2 (theta^2 + c))``.

Below the threshold the outlier sticks to the edge and both overlaps are 0.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Spike:
    """The BBP prediction for a rank-one spike of strength ``theta``.

    All overlaps are squared cosines in [0, 1].
    """

    theta: float
    aspect: float          # c = N/d
    exists: bool           # theta > c^{1/4}
    threshold: float       # c^{1/4}
    outlier: float         # the outlier location (the edge when it does not exist)
    bulk_edge: float       # 1 + sqrt(c)
    overlap_right: float   # <v, u/||u||>^2
    overlap_left: float    # <w, a/||a||>^2

    def to_dict(self) -> dict:
        return asdict(self)


def spike(theta: float, aspect: float) -> Spike:
    """BBP location and overlaps of ``W_0 + theta a_hat u_hat^T`` (see module doc)."""
    if not (math.isfinite(theta) and theta >= 0):
        raise ValueError(f"theta must be finite and >= 0, got {theta!r}")
    if not (math.isfinite(aspect) and aspect > 0):
        raise ValueError(f"aspect ratio N/d must be > 0, got {aspect!r}")
    c = aspect
    edge = 1.0 + math.sqrt(c)
    threshold = c ** 0.25
    if theta <= threshold:
        return Spike(theta, c, False, threshold, edge, edge, 0.0, 0.0)
    t2 = theta * theta
    location = math.sqrt((1.0 + t2) * (c + t2)) / theta
    right = 1.0 - (c + t2) / (t2 * (t2 + 1.0))
    left = 1.0 - c * (1.0 + t2) / (t2 * (t2 + c))
    return Spike(theta, c, True, threshold, location, edge, right, left)
