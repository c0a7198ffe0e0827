"""Tail probabilities for the rules, in log space and without scipy.

Chernoff bounds: P(X >= k) <= exp(-n KL(k/n || q)) for a binomial, and the Poisson
analogue for counts. They are upper bounds on the p-value, so a rule that fires on them
fires on at least as much evidence as the exact test would ask for: conservative, cheap
(one logarithm), and accurate in the tails that matter here (docs/detection.md)."""

from __future__ import annotations

import math


def binomial_upper_log_p(k: float, n: float, q: float) -> float:
    """log P(X >= k) bound for X ~ Binomial(n, q); 0.0 when k/n <= q."""
    if n <= 0 or k <= n * q:
        return 0.0
    q = min(max(q, 1e-9), 1 - 1e-9)
    r = k / n
    if r >= 1.0:
        return n * math.log(q)
    kl = r * math.log(r / q) + (1 - r) * math.log((1 - r) / (1 - q))
    return -n * kl


def poisson_upper_log_p(k: float, lam: float) -> float:
    """log P(X >= k) bound for X ~ Poisson(lam); 0.0 when k <= lam."""
    if lam <= 0:
        return -math.inf if k > 0 else 0.0
    if k <= lam:
        return 0.0
    return -(lam - k + k * math.log(k / lam))
