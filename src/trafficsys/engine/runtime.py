"""The numeric meaning of every builtin, defined once.

Every path that computes a builtin reads it from here: the engine's generated
numpy code (:mod:`~trafficsys.engine.codegen`, one run on Python floats or many
runs on arrays), the analyses that re-evaluate equations on recorded values
(:func:`~trafficsys.engine.expression.evaluate`, used by loop dominance,
systemic blocks and the numeric polarity check), and any compiled kernel.  A
builtin has a scalar implementation (``_s_*``, Python floats) and a vector one
(``_v_*``, arrays along the run axis) that give the same numbers to the last
bit; ``tests/test_builtin_meaning.py`` checks every builtin on every path.

The meanings, where XMILE or Vensim leave a choice:

``ROUND(x)``
    half away from zero (``ROUND(2.5) = 3``, ``ROUND(-2.5) = -3``), as Vensim
    and Stella round; not numpy's half-to-even.
``INT(x)``, ``INTEGER(x)``
    floor (XMILE), and truncation toward zero (Vensim's ``INTEGER``).
``MOD(a, b)``, ``MODULO(a, b)``
    remainder with the sign of ``b`` (XMILE), with the sign of ``a`` (Vensim);
    ``MODULO(a, 0)`` is NaN (the run stops naming the variable).
``STEP``, ``PULSE``
    compare the clock with a tolerance of ``1e-6 * DT``
    (:data:`~trafficsys.engine.codegen.TIME_EPS`), so that a step at 0.3
    fires at the step whose time is ``3 * 0.1 = 0.30000000000000004``;
    ``PULSE(volume, first, interval)`` delivers ``volume / DT`` during one
    step, first at ``first`` (default: the start time), then every
    ``interval`` (0: once).
``RAMP(slope, start, end)``
    ``slope * (min(TIME, end) - start)`` from ``start`` on, 0 before.
``PULSE_TRAIN(start, width, interval, end)``
    Vensim's: 1 while ``h >= start``, ``h < end`` and ``(h - start) mod
    interval < max(width, DT)``, with ``h = TIME + DT / 2`` (half a step of
    tolerance, as Vensim's ``PULSE``); an ``interval`` of 0 or less pulses once.
``LOG(x, base)``
    ``LN(x) / LN(base)``; ``LOG(x)`` is ``LOG10(x)``.
``SIGN(x)``
    -1, 0 or 1 (NaN stays NaN).
``SAFEDIV(a, b, c)``
    ``a / b``, or ``c`` (default 0) where ``b = 0``.
``QUANTUM(x, q)``
    ``q * INTEGER(x / q)``, or ``x`` when ``q <= 0``.
graphical functions
    linear interpolation with :func:`numpy.interp`'s arithmetic; outside the
    x range the end values (``continuous``), the end segments extended
    (``extrapolate``), or a step function (``discrete``).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable

import numpy as np

from ..model.elements import Extrapolation, Lookup

__all__ = ["scalar_lookup", "vector_lookup"]


def _scalar_ufunc(u):
    def f(x):
        return float(u(x))

    return f


def _scalar_pow(a, b):
    return float(np.power(a, b))


def _scalar_lookup(table: Lookup) -> Callable[[float], float]:
    xs = [float(x) for x in table.xs]
    ys = [float(y) for y in table.ys]
    n = len(xs)
    if table.extrapolation is Extrapolation.DISCRETE:

        def discrete(x):
            j = bisect_right(xs, x) - 1
            return ys[j if j >= 0 else 0]

        return discrete
    # the same arithmetic as numpy.interp (slope * (x - x_j) + y_j), for bit-identical results
    slopes = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) if xs[i + 1] != xs[i] else 0.0 for i in range(n - 1)]
    extrap = table.extrapolation is Extrapolation.EXTRAPOLATE and n > 1
    x0, xn, y0, yn = xs[0], xs[-1], ys[0], ys[-1]
    slo = slopes[0] if slopes else 0.0
    shi = slopes[-1] if slopes else 0.0

    def interp(x):
        if x < x0:
            return y0 + (x - x0) * slo if extrap else y0
        if x >= xn:
            return yn + (x - xn) * shi if extrap and x > xn else yn
        j = bisect_right(xs, x) - 1
        if xs[j] == x:
            return ys[j]
        return slopes[j] * (x - xs[j]) + ys[j]

    return interp


def _vector_lookup(table: Lookup) -> Callable[[np.ndarray], np.ndarray]:
    xs = np.asarray(table.xs, dtype=float)
    ys = np.asarray(table.ys, dtype=float)
    n = len(xs)
    if table.extrapolation is Extrapolation.DISCRETE:

        def discrete(x):
            idx = np.searchsorted(xs, x, side="right") - 1
            return ys[np.maximum(idx, 0)]

        return discrete
    extrap = table.extrapolation is Extrapolation.EXTRAPOLATE and n > 1
    if not extrap:

        def interp(x):
            return np.interp(x, xs, ys)

        return interp
    slo = (ys[1] - ys[0]) / (xs[1] - xs[0]) if xs[1] != xs[0] else 0.0
    shi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if xs[-1] != xs[-2] else 0.0
    x0, xn, y0, yn = float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1])

    def extrapolate(x):
        out = np.interp(x, xs, ys)
        out = np.where(x < x0, y0 + (x - x0) * slo, out)
        return np.where(x > xn, yn + (x - xn) * shi, out)

    return extrapolate


def _s_safediv(a, b, c=0.0):
    return a / b if b != 0 else c


def _v_safediv(a, b, c=0.0):
    nz = b != 0
    return np.where(nz, a / np.where(nz, b, 1.0), c)


def _s_step(t, eps, height, start):
    return height if t + eps >= start else 0.0


def _v_step(t, eps, height, start):
    return np.where(t + eps >= start, height, 0.0)


def _s_ramp(t, slope, start, end):
    if t < start:
        return 0.0
    return slope * ((t if t < end else end) - start)


def _v_ramp(t, slope, start, end):
    return np.where(t < start, 0.0, slope * (np.minimum(t, end) - start))


def _s_pulse(t, dt, eps, volume, first, every):
    if t + eps < first:
        return 0.0
    if every > 0:
        on = math.fmod(t - first + eps, every) < dt
    else:
        on = t - first + eps < dt
    return volume / dt if on else 0.0


def _v_pulse(t, dt, eps, volume, first, every):
    every = np.asarray(every, dtype=float)
    pos = every > 0
    phase = np.where(pos, np.fmod(t - first + eps, np.where(pos, every, 1.0)), t - first + eps)
    return np.where((t + eps >= first) & (phase < dt), volume / dt, 0.0)


def _s_pulse_train(t, dt, start, width, every, end):
    h = t + dt * 0.5
    if h < start or not h < end:
        return 0.0
    w = width if width > dt else dt
    phase = math.fmod(h - start, every) if every > 0 else h - start
    return 1.0 if phase < w else 0.0


def _v_pulse_train(t, dt, start, width, every, end):
    h = t + dt * 0.5
    every = np.asarray(every, dtype=float)
    pos = every > 0
    phase = np.where(pos, np.fmod(h - start, np.where(pos, every, 1.0)), h - start)
    w = np.where(width > dt, width, dt)
    return np.where((h >= start) & (h < end) & (phase < w), 1.0, 0.0)


def _s_sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else x * 0.0)


def _v_sign(x):
    return np.sign(x) * 1.0


def _s_pipe(hist, k, delay, dt, first):
    q = delay / dt + 0.5
    if not q < k + 1:  # reaches back before the start (an infinite delay too): the initial value
        return first
    m = math.floor(q)  # halves round up, as Vensim's DELAY FIXED does
    m = m if m >= 1 else 1
    return hist[k - m] if k >= m else first


def _v_pipe(hist, k, delay, dt, first):
    m = np.floor(np.asarray(delay, dtype=float) / dt + 0.5)
    # at most k + 1 steps back (before the start: the initial value), so that huge delays fit an int64
    m = np.where(m >= 1, np.where(m <= k + 1, m, k + 1), 1).astype(np.int64)
    if m.ndim == 0:
        j = k - int(m)
        return hist[j] if j >= 0 else first
    out = None
    for u in np.unique(m):  # runs with different delays read different steps
        j = k - int(u)
        src = hist[j] if j >= 0 else first
        val = np.broadcast_to(np.asarray(src, dtype=float), m.shape)
        out = np.where(m == u, val, 0.0) if out is None else np.where(m == u, val, out)
    return out


def _v_any(b):
    # np.any goes through Python-level dispatch (several microseconds); the method is cheaper,
    # and expressions of literals only are Python bools
    return b if b is True or b is False else b.any()


def _v_pos(x):
    # np.maximum(x, 0.0) costs several times a comparison on large arrays; most flows are never negative
    neg = x < 0.0
    if neg is True or neg is False:
        return 0.0 if neg else x
    return np.maximum(x, 0.0) if neg.any() else x


def _s_round(x):
    return math.copysign(math.floor(abs(x) + 0.5), x)


def _v_round(x):
    return np.copysign(np.floor(np.abs(x) + 0.5), x)


def _s_mod(a, b):
    return a % b


def _s_trunc(x):
    return float(math.trunc(x)) if math.isfinite(x) else x


def _s_fmod(a, b):
    # C's fmod: the remainder takes the sign of a; NaN for b = 0 (the run then stops naming the variable)
    return math.fmod(a, b) if b != 0 and math.isfinite(a) else math.nan


def _v_fmod(a, b):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.fmod(a, b)


def _s_quantum(x, q):
    # Vensim QUANTUM: q * INTEGER(x / q), x itself when q <= 0
    return x if q <= 0 else q * _s_trunc(x / q)


def _v_quantum(x, q):
    pos = q > 0
    return np.where(pos, q * np.trunc(x / np.where(pos, q, 1.0)), x)


#: public names of the graphical-function interpolators
scalar_lookup = _scalar_lookup
vector_lookup = _vector_lookup
