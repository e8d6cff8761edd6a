"""Spec of salespipe.dashboards.stats: the Wilson score interval and the small-sample rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

import salespipe as sp
from salespipe.dashboards import stats

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in
# Medicine 17:857-872, Table I, method 3 (Wilson score, no continuity correction), 95%.
NEWCOMBE = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


def wilson_by_the_quadratic(k: int, n: int, z: float) -> tuple[float, float]:
    """The interval's ends as the roots of (p_hat - p)^2 = z^2 p (1 - p) / n, solved for p."""
    p_hat = k / n
    a = 1 + z * z / n
    b = -(2 * p_hat + z * z / n)
    c = p_hat * p_hat
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


@pytest.mark.parametrize(("won", "deals", "low", "high"), NEWCOMBE)
def test_the_interval_matches_the_published_values(won, deals, low, high):
    got_low, got_high = stats.wilson_interval(won, deals)
    assert (round(float(got_low), 4), round(float(got_high), 4)) == (low, high)


def test_the_interval_equals_the_roots_of_its_defining_equation():
    rng = np.random.default_rng(7)
    deals = rng.integers(1, 500, 300)
    won = rng.integers(0, deals + 1)
    for confidence in (0.8, 0.95, 0.99):
        z = {0.8: 1.2815515655446004, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}[confidence]
        assert stats.z_value(confidence) == pytest.approx(z, rel=1e-12)
        low, high = stats.wilson_interval(won, deals, confidence)
        expected = np.array([wilson_by_the_quadratic(int(k), int(n), z) for k, n in zip(won, deals)])
        np.testing.assert_allclose(low, np.clip(expected[:, 0], 0, 1), atol=1e-12)
        np.testing.assert_allclose(high, np.clip(expected[:, 1], 0, 1), atol=1e-12)


def test_the_interval_holds_the_rate_stays_in_zero_one_and_narrows_with_more_deals():
    won, deals = np.array([0, 3, 5, 30, 300, 10]), np.array([10, 5, 10, 100, 1000, 10])
    low, high = stats.wilson_interval(won, deals)
    assert ((low <= won / deals) & (won / deals <= high)).all()
    assert ((low >= 0) & (high <= 1)).all()
    assert high[0] > 0 and low[-1] < 1, "no zero width at 0% or 100%"
    assert (high[3] - low[3]) > (high[4] - low[4]), "30/100 is less certain than 300/1000"


def test_no_deals_give_no_interval():
    low, high = stats.wilson_interval([0, 2], [0, 4])
    assert math.isnan(low[0]) and math.isnan(high[0]) and not math.isnan(low[1])


def test_the_small_sample_rule_and_how_it_is_stated():
    assert stats.too_small([0, 19, 20, 200]).tolist() == [True, True, False, False]
    assert stats.too_small([4, 5], min_deals=5).tolist() == [True, False]
    assert stats.rule_text() == (
        "Whiskers: 95% Wilson interval. Grey, hatched: fewer than 20 closed deals, too few to judge."
    )


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: stats.wilson_interval(5, 3), "successes <= trials"),
        (lambda: stats.wilson_interval(-1, 3), "successes <= trials"),
        (lambda: stats.z_value(1.5), "between 0 and 1"),
        (lambda: stats.z_value(True), "between 0 and 1"),
        (lambda: stats.too_small([3], min_deals=0), "whole number >= 1"),
    ],
)
def test_bad_arguments_are_validation_errors(call, match):
    with pytest.raises(sp.ValidationError, match=match):
        call()
