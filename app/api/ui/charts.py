"""Charts as SVG drawn on the server: coordinates computed here, markup in a template (so
every label goes through autoescape). No script, no style attribute: CSP stays strict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

WIDTH: Final = 640
HEIGHT: Final = 220
PAD_LEFT: Final = 48
PAD_RIGHT: Final = 12
PAD_TOP: Final = 12
PAD_BOTTOM: Final = 32
SCALES: Final = (0.1, 0.25, 0.5, 1.0)  # the y axis' top: the smallest that fits the data


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str  # what a tooltip (<title>) says about it


@dataclass(frozen=True)
class Tick:
    at: float
    label: str
    anchor: str = "middle"  # text-anchor: the last time label ends at the right edge


@dataclass(frozen=True)
class LineChart:
    title: str
    points: list[Point]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = PAD_LEFT
    bottom: float = HEIGHT - PAD_BOTTOM

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def empty(self) -> bool:
        return not self.points


def _clock(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M:%S")


def share_chart(title: str, samples: Sequence[tuple[float, float]]) -> LineChart:
    """(unix time, share 0..1) samples as a line; the y axis spans 0 to the largest share
    (at least 10 %), the x axis the samples' time range."""
    highest = max([0.0, *(share for _, share in samples)])
    top = next(scale for scale in SCALES if scale >= highest)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    start = samples[0][0] if samples else 0.0
    span = (samples[-1][0] - start) if len(samples) > 1 else 1.0
    span = span or 1.0  # two readings in the same instant

    def x(moment: float) -> float:
        return PAD_LEFT + (plot_w * (moment - start) / span if len(samples) > 1 else plot_w / 2)

    def y(share: float) -> float:
        return PAD_TOP + plot_h * (1 - share / top)

    points = [Point(x(t), y(s), f"{_clock(t)}: {s * 100:.1f} %") for t, s in samples]
    y_ticks = [Tick(y(top * i / 4), f"{top * i / 4 * 100:g} %") for i in range(5)]
    x_ticks = []
    if samples:
        x_ticks.append(Tick(x(start), _clock(start), "start" if len(samples) > 1 else "middle"))
    if len(samples) > 1:
        x_ticks.append(Tick(x(samples[-1][0]), _clock(samples[-1][0]), "end"))
    return LineChart(title, points, y_ticks, x_ticks)
