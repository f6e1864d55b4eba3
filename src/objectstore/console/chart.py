"""Usage charts as server-rendered SVG (no script and no inline style needed)."""

from __future__ import annotations

from dataclasses import dataclass

from .sampler import Sample

WIDTH, HEIGHT, PAD = 600, 160, 30

PERIODS = {"day": 86400.0, "week": 7 * 86400.0, "month": 30 * 86400.0}


@dataclass(frozen=True)
class Chart:
    period: str
    points_bytes: str       # SVG polyline points
    points_objects: str
    max_bytes: int
    max_objects: int
    samples: int
    start: float
    end: float
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD


def _points(samples: list[Sample], start: float, end: float, values: list[int],
            top: int) -> str:
    span = max(end - start, 1.0)
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    out = []
    for s, v in zip(samples, values, strict=True):
        x = PAD + (s.at - start) / span * inner_w
        y = HEIGHT - PAD - (v / top if top else 0) * inner_h
        out.append(f"{x:.1f},{y:.1f}")
    return " ".join(out)


def build_chart(samples: list[Sample], period: str, end: float) -> Chart:
    start = end - PERIODS[period]
    used = [s.used_bytes for s in samples]
    counts = [s.objects for s in samples]
    max_b, max_o = max(used, default=0), max(counts, default=0)
    return Chart(period, _points(samples, start, end, used, max_b),
                 _points(samples, start, end, counts, max_o), max_b, max_o, len(samples),
                 start, end)
