"""Uncertainty of a win rate: the Wilson score interval, and when a group is too small to judge.

A win rate of 3 won out of 5 closed reads as 60%, but with five deals the true rate could be
anywhere from about 23% to 88%. Every win-rate bar and point on the dashboards carries this
interval, and groups with fewer than `MIN_DEALS` deals behind the rate are flagged, so that
nobody ranks salespeople on a handful of deals. Plain functions (numpy only, no scipy).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from ..errors import ValidationError

CONFIDENCE = 0.95
MIN_DEALS = 20


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile for `confidence` (0.95 -> 1.959964)."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ValidationError(f"confidence must be a number between 0 and 1, e.g. 0.95, got {confidence!r}")
    return NormalDist().inv_cdf(1 - (1 - float(confidence)) / 2)


def wilson_interval(
    successes: npt.ArrayLike, trials: npt.ArrayLike, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval (low, high) of successes / trials, element-wise.

    Unlike the textbook p ± z·sqrt(p(1-p)/n), it stays inside [0, 1] and does not collapse to
    zero width at 0% or 100%, which is where small groups sit. NaN where trials is 0.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(k < 0) or np.any(n < 0) or np.any(k > n):
        raise ValidationError("wilson_interval needs 0 <= successes <= trials")
    z = z_value(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z * z / n
        center = (p + z * z / (2 * n)) / denominator
        half = z / denominator * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        # exactly 0 at 0 won and 1 at all won (the formula gives them up to rounding)
        low = np.where(n > 0, np.where(k == 0, 0.0, np.clip(center - half, 0.0, 1.0)), math.nan)
        high = np.where(n > 0, np.where(k == n, 1.0, np.clip(center + half, 0.0, 1.0)), math.nan)
    return low, high


def too_small(trials: npt.ArrayLike, min_deals: int = MIN_DEALS) -> np.ndarray:
    """True where a rate rests on fewer than `min_deals` deals: too few to judge."""
    if isinstance(min_deals, bool) or not isinstance(min_deals, int) or min_deals < 1:
        raise ValidationError(f"min_deals must be a whole number >= 1, got {min_deals!r}")
    return np.asarray(trials, dtype=float) < min_deals


def rule_text(min_deals: int = MIN_DEALS, confidence: float = CONFIDENCE, denominator: str = "closed deals") -> str:
    """The rule as the charts state it."""
    return (
        f"Whiskers: {confidence:.0%} Wilson interval. Grey, hatched: fewer than {min_deals} "
        f"{denominator}, too few to judge."
    )


__all__ = ["CONFIDENCE", "MIN_DEALS", "rule_text", "too_small", "wilson_interval", "z_value"]
