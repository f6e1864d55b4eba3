"""Usage charts as server-rendered SVG (no script and no inline style needed).

One chart, two scales: bytes stored on the left axis, objects on the right, time along the
bottom (UTC). Every sample is a dot with a ``<title>`` tooltip (so one sample is a visible
mark, not an empty box); long histories show at most ``MAX_DOTS`` dots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .sampler import Sample
from .templating import human_bytes, when

WIDTH, HEIGHT = 640, 250
LEFT, RIGHT, TOP, BOTTOM = 78, 62, 16, 46   # room for the axes' labels and titles
PAD = TOP
MAX_DOTS = 120
TICKS = 5

PERIODS = {"day": 86400.0, "week": 7 * 86400.0, "month": 30 * 86400.0}


@dataclass(frozen=True)
class Dot:
    x: float
    y_bytes: float
    y_objects: float
    title: str


@dataclass(frozen=True)
class Tick:
    pos: float      # x for time ticks, y for value ticks
    label: str
    right: str = ""  # the objects scale's label at the same height


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
    dots: list[Dot] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    pad: int = PAD


def _scale_top(value: int) -> int:
    """A round number at or above ``value`` (1, 2 or 5 times a power of ten, or of 1024 for
    bytes above a KiB), so the axis labels read well."""
    if value <= 0:
        return 1
    mag = 1
    while mag * 10 <= value:
        mag *= 10
    for step in (1, 2, 5, 10):
        if value <= step * mag:
            return step * mag
    return 10 * mag  # pragma: no cover


def _byte_top(value: int) -> int:
    if value <= 1024:
        return _scale_top(value)
    unit = 1024
    while value > unit * 1024:
        unit *= 1024
    return _scale_top(-(-value // unit)) * unit


def build_chart(samples: list[Sample], period: str, end: float) -> Chart:
    start = end - PERIODS[period]
    used = [s.used_bytes for s in samples]
    counts = [s.objects for s in samples]
    max_b, max_o = max(used, default=0), max(counts, default=0)
    top_b, top_o = _byte_top(max_b), _scale_top(max_o)
    span = max(end - start, 1.0)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(at: float) -> float:
        return LEFT + (at - start) / span * inner_w

    def y_of(v: int, top: int) -> float:
        return HEIGHT - BOTTOM - v / top * inner_h

    pts_b, pts_o, dots = [], [], []
    every = max(1, -(-len(samples) // MAX_DOTS))
    for i, s in enumerate(samples):
        x, yb, yo = x_of(s.at), y_of(s.used_bytes, top_b), y_of(s.objects, top_o)
        pts_b.append(f"{x:.1f},{yb:.1f}")
        pts_o.append(f"{x:.1f},{yo:.1f}")
        if i % every == 0 or i == len(samples) - 1:
            dots.append(Dot(x, yb, yo, f"{when(s.at)}: {human_bytes(s.used_bytes)}, "
                                       f"{s.objects} object{'' if s.objects == 1 else 's'}"))
    y_ticks = [Tick(HEIGHT - BOTTOM - i / TICKS * inner_h, _label(top_b * i / TICKS, True),
                    _label(top_o * i / TICKS, False)) for i in range(TICKS + 1)]
    x_ticks = [Tick(x_of(start + span * i / 2), when(start + span * i / 2)) for i in range(3)]
    return Chart(period, " ".join(pts_b), " ".join(pts_o), max_b, max_o, len(samples),
                 start, end, dots, y_ticks, x_ticks)


def _label(v: float, as_bytes: bool) -> str:
    """A tick's label; none where the value is not a whole number (a fraction of a byte or
    of an object)."""
    if v != int(v):
        return ""
    return human_bytes(int(v)) if as_bytes else str(int(v))
