"""The Chernoff bounds are true upper bounds of the exact tails, and tight enough."""

from __future__ import annotations

import math

import pytest

from detector.stats import binomial_upper_log_p, poisson_upper_log_p


def exact_binomial_upper(k: int, n: int, q: float) -> float:
    return sum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k, n + 1))


def exact_poisson(k: int, lam: float, upper: bool) -> float:
    terms = range(k, k + 400) if upper else range(k + 1)
    return sum(math.exp(-lam + i * math.log(lam) - math.lgamma(i + 1)) for i in terms)


@pytest.mark.parametrize(
    ("k", "n", "q"), [(5, 20, 0.05), (30, 100, 0.1), (3, 10, 0.01), (10, 10, 0.3)]
)
def test_binomial_bound_is_above_the_exact_tail(k: int, n: int, q: float) -> None:
    exact = exact_binomial_upper(k, n, q)
    bound = math.exp(binomial_upper_log_p(k, n, q))
    assert exact <= bound * (1 + 1e-9)
    assert bound < 20 * exact + 1e-12  # and not uselessly loose


def test_binomial_bound_is_one_below_the_mean() -> None:
    assert binomial_upper_log_p(1, 100, 0.05) == 0.0


@pytest.mark.parametrize(("k", "lam"), [(20, 5.0), (50, 30.0), (3, 0.2)])
def test_poisson_upper_bound(k: int, lam: float) -> None:
    exact = exact_poisson(k, lam, upper=True)
    assert exact <= math.exp(poisson_upper_log_p(k, lam)) * (1 + 1e-9)
