"""Paired statistics of two sides measured on the same items (Compare: side A and side B over the same prompts and
seeds): per measure, the mean of each side, the mean delta (B − A) and how often B is better, each with a
percentile-bootstrap interval (pairs resampled with replacement, one resample for both), and a paired test.

The test is the Wilcoxon signed-rank test (scipy.stats.wilcoxon, two-sided; zero deltas dropped as Wilcoxon did,
`zero_method="wilcox"`; exact p for small n without ties, the normal approximation otherwise): it asks whether
the deltas are symmetric around 0, using their ranks, so one outlier pair cannot carry it. "B better" counts a
tie as half. For a cost (seconds, FLOPs, USD) lower is better: pass `higher_is_better=False`.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

TEST_NAME = "Wilcoxon signed-rank (two-sided)"
STAT_KEYS = ("n", "mean_a", "mean_b", "mean_delta", "delta_low", "delta_high", "b_better", "better_low",
             "better_high", "p_value")


def paired_stats(a, b, *, higher_is_better: bool = True, bootstrap: int = 2000, level: float = 0.95,
                 seed: int | None = 0) -> dict[str, float]:
    """Statistics of the pairs where both `a` and `b` are numbers (NaN pairs left out). Intervals and the test
    need at least two pairs (else NaN)."""
    if not 0 < level < 1:
        raise ValueError(f"level: {level} is not allowed; between 0 and 1 (e.g. 0.95)")
    if bootstrap < 0:
        raise ValueError(f"bootstrap: {bootstrap} is not allowed; 0 (no intervals) or more samples")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"b: {b.shape[0] if b.ndim else 0} values against {a.shape[0] if a.ndim else 0} in a; "
                         "paired statistics need one b per a")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = len(a)
    nan = float("nan")
    out = dict.fromkeys(STAT_KEYS, nan)
    out["n"] = n
    if n == 0:
        return out
    delta = b - a
    better = np.sign(delta if higher_is_better else -delta) / 2 + 0.5  # 1 better, 0.5 tie, 0 worse
    out.update(mean_a=float(a.mean()), mean_b=float(b.mean()), mean_delta=float(delta.mean()),
               b_better=float(better.mean()))
    if n >= 2 and bootstrap:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(bootstrap, n))
        tail = (1 - level) / 2 * 100
        out["delta_low"], out["delta_high"] = (float(v) for v in np.percentile(delta[idx].mean(1), [tail, 100 - tail]))
        out["better_low"], out["better_high"] = (float(v) for v in
                                                 np.percentile(better[idx].mean(1), [tail, 100 - tail]))
    if n >= 2:
        if not np.any(delta):
            out["p_value"] = 1.0  # every pair equal: no evidence of a difference
        else:
            out["p_value"] = float(stats.wilcoxon(delta, zero_method="wilcox").pvalue)
    return out


def interval_text(low: float, high: float, spec: str = ".3g") -> str:
    """`[low, high]`, or "–" without an interval."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "–"
    return f"[{format(low, spec)}, {format(high, spec)}]"
