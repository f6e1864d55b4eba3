"""The soak's RSS verdict: a least-squares slope over the last 30 minutes of samples."""

from __future__ import annotations

import pytest

from tests.support.soak import slope_mib_per_min, window


def test_slope_is_mib_per_minute_and_ignores_one_noisy_end() -> None:
    rising = [(t * 10.0, 100 + t * 0.5) for t in range(60)]  # +0.5 MiB per 10 s
    assert slope_mib_per_min(rising) == pytest.approx(3.0)
    flat = [(t * 10.0, 200.0) for t in range(60)]
    flat[-1] = (590.0, 230.0)  # one in-flight burst at the last sample
    assert abs(slope_mib_per_min(flat)) < 0.5  # the end-to-end difference says +3 MiB/min
    assert slope_mib_per_min(flat[:1]) == 0.0


def test_window_keeps_the_last_30_minutes() -> None:
    samples = [(t * 60.0, float(t)) for t in range(61)]  # one a minute for an hour
    last = window(samples, 30 * 60)
    assert last[0] == (1800.0, 30.0) and last[-1] == (3600.0, 60.0)
    growth_then_flat = [(t, 100.0 + min(t, 1800.0) / 60) for t, _ in samples]
    assert slope_mib_per_min(window(growth_then_flat, 30 * 60)) == pytest.approx(0.0)
    assert slope_mib_per_min(growth_then_flat) > 0.4  # the whole run: still rising
