"""Small plane geometry for the diagrams: curved links clipped at label boxes, free spots for marks.

Everything is in the diagram's own units (inches); nothing here draws.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.figure import Figure

__all__ = ["Rect", "Curve", "Point", "free_spot", "measuring_renderer", "wrap_to_width"]

#: a point on the plane: an ``(x, y)`` pair or a length-2 array
Point = Sequence[float] | np.ndarray


class Rect:
    """An axis-aligned box: centre ``(x, y)``, width ``w``, height ``h``."""

    __slots__ = ("x", "y", "w", "h")

    def __init__(self, x: float, y: float, w: float, h: float):
        self.x, self.y, self.w, self.h = float(x), float(y), float(w), float(h)

    def grown(self, by: float) -> Rect:
        return Rect(self.x, self.y, self.w + 2 * by, self.h + 2 * by)

    def contains(self, pts: np.ndarray) -> np.ndarray:
        pts = np.atleast_2d(pts)
        return (np.abs(pts[:, 0] - self.x) <= self.w / 2) & (np.abs(pts[:, 1] - self.y) <= self.h / 2)

    def overlaps(self, other: Rect) -> bool:
        return (
            abs(self.x - other.x) < (self.w + other.w) / 2 and abs(self.y - other.y) < (self.h + other.h) / 2
        )

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return self.x - self.w / 2, self.y - self.h / 2, self.x + self.w / 2, self.y + self.h / 2


class Curve:
    """A quadratic Bezier link from ``a`` to ``b`` bulging by ``rad`` (share of its length) to the left.

    ``rad > 0`` bends the link to the left of its direction of travel, ``< 0``
    to the right; the curve is then clipped where it leaves the source's box
    and enters the target's, so arrows start and end at the labels' edges.
    """

    def __init__(
        self,
        a: Point,
        b: Point,
        rad: float,
        box_a: Rect | None = None,
        box_b: Rect | None = None,
        samples: int = 240,
    ):
        self.p0, self.p2 = np.asarray(a, float), np.asarray(b, float)
        d = self.p2 - self.p0
        normal = np.array([-d[1], d[0]])
        self.p1 = (self.p0 + self.p2) / 2 + rad * normal
        self.rad = rad
        t = np.linspace(0.0, 1.0, samples)
        pts = self.at(t)
        t0, t1 = 0.0, 1.0
        if box_a is not None:
            inside = box_a.contains(pts)
            out = np.nonzero(~inside)[0]
            if len(out):
                t0 = t[out[0]]
        if box_b is not None:
            inside = box_b.contains(pts)
            after = np.nonzero(inside & (t > t0))[0]
            if len(after):
                t1 = t[after[0]]
        self.t0, self.t1 = t0, max(t1, t0 + 1e-6)

    def at(self, t) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, float))[:, None]
        return (1 - t) ** 2 * self.p0 + 2 * (1 - t) * t * self.p1 + t**2 * self.p2

    def tangent(self, t: float) -> np.ndarray:
        v = 2 * (1 - t) * (self.p1 - self.p0) + 2 * t * (self.p2 - self.p1)
        n = np.linalg.norm(v)
        return v / n if n > 0 else np.array([1.0, 0.0])

    def clipped(self) -> np.ndarray:
        """Return the control points of the visible part (a quadratic Bezier: start, control, end)."""
        t0, t1 = self.t0, self.t1
        q0, q2 = self.at(t0)[0], self.at(t1)[0]
        # the control point of the sub-curve: on both end tangents (blossom of the quadratic)
        q1 = (1 - t0) * (1 - t1) * self.p0 + ((1 - t0) * t1 + t0 * (1 - t1)) * self.p1 + t0 * t1 * self.p2
        return np.array([q0, q1, q2])

    def visible_points(self, n: int = 60) -> np.ndarray:
        return self.at(np.linspace(self.t0, self.t1, n))

    @property
    def visible_length(self) -> float:
        pts = self.visible_points(40)
        return float(np.linalg.norm(np.diff(pts, axis=0), axis=1).sum())

    def t_before_end(self, distance: float) -> float:
        """Return the parameter ``distance`` inches (along the curve) before the visible end."""
        ts = np.linspace(self.t1, self.t0, 80)
        pts = self.at(ts)
        run = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        i = int(np.searchsorted(run, distance))
        return float(ts[min(i, len(ts) - 1)])

    def t_middle(self) -> float:
        ts = np.linspace(self.t0, self.t1, 80)
        pts = self.at(ts)
        run = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
        return float(ts[int(np.searchsorted(run, run[-1] / 2))])


def free_spot(
    centre: Sequence[float],
    size: tuple[float, float],
    obstacles: Iterable[Rect],
    points: np.ndarray | None = None,
    *,
    reach: float = 1.6,
    step: float = 0.07,
    inside=None,
) -> tuple[float, float] | None:
    """Return the nearest place to ``centre`` where a box of ``size`` touches no obstacle and covers no point.

    ``inside``, when given, is a predicate a spot must also satisfy (e.g. lie
    within a loop's outline).  Returns None when no spot within ``reach`` fits.
    """
    obstacles = list(obstacles)
    w, h = size
    cx, cy = float(centre[0]), float(centre[1])
    for r in np.arange(0.0, reach + 1e-9, step):
        k = max(1, int(2 * np.pi * r / step))
        for ang in np.linspace(0, 2 * np.pi, k, endpoint=False):
            x, y = cx + r * np.cos(ang), cy + r * np.sin(ang)
            box = Rect(x, y, w, h)
            if any(box.overlaps(o) for o in obstacles):
                continue
            if points is not None and len(points) and box.contains(points).any():
                continue
            if inside is not None and not inside(x, y):
                continue
            return x, y
    return None


def measuring_renderer(fig: Figure) -> RendererAgg:
    """Return a renderer that measures text as ``fig`` will draw it.

    The usual raster and interactive matplotlib backends (Agg, QtAgg, TkAgg,
    macosx, inline...) give the figure an Agg canvas, whose renderer is used
    as is; a figure made under a vector-only backend (``svg``, ``pdf``,
    ``cairo``...) is given an Agg canvas for the measuring, since its own
    canvas has no renderer before it is saved.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    return canvas.get_renderer()


def wrap_to_width(text: str, width: float, font, renderer, dpi: float) -> list[str]:
    """Break ``text`` at spaces into lines at most ``width`` inches wide in ``font`` (measured)."""

    def wide(s: str) -> float:
        w, _, _ = renderer.get_text_width_height_descent(s, font, ismath=False)
        return w / dpi

    lines: list[str] = []
    for word in text.split(" "):
        if lines and wide(lines[-1] + " " + word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def frame_text(fig, fig_w: float, fig_h: float, title: list[str], key: list[str], fontsize: float) -> None:
    """Put a diagram's title (top, centred) and key (bottom left) on its figure, in inches from the edges."""
    if title:
        fig.text(
            0.5,
            1 - 0.08 / fig_h,
            "\n".join(title),
            ha="center",
            va="top",
            fontsize=fontsize + 2,
            fontweight="bold",
            gid="title",
        )
    if key:
        fig.text(
            0.12 / fig_w,
            0.08 / fig_h,
            "\n".join(key),
            ha="left",
            va="bottom",
            fontsize=fontsize - 0.5,
            color="#333333",
            gid="key",
            linespacing=1.3,
        )
