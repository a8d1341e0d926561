"""The builtins of the compiled kernel, as numba functions.

Each reproduces the arithmetic of the scalar flavour of
:mod:`~trafficsys.engine.codegen` (the same comparisons, in the same order,
the same IEEE operations), so a kernel run and a numpy run of a model without
transcendental functions agree to the last bit.  ``EXP``, ``LN``, ``SIN``...
and ``^`` go to the C library here and to numpy's own loops there, which may
differ in the last bit: agreement to 1e-12 relative.

Imported only by generated kernels (it imports numba).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .kernel import _RUNTIME_NAMES

#: the names a generated kernel imports (listed once, in :mod:`~trafficsys.engine.kernel`)
__all__ = list(_RUNTIME_NAMES)

INF = math.inf
_JIT = {"cache": True, "error_model": "numpy"}


@njit(**_JIT)
def _pow(a, b):
    return a**b


@njit(**_JIT)
def _mod(a, b):
    return a % b


@njit(**_JIT)
def _abs(x):
    return abs(x)


@njit(**_JIT)
def _floor(x):
    return np.floor(x)


@njit(**_JIT)
def _round(x):
    return np.copysign(np.floor(abs(x) + 0.5), x)


@njit(**_JIT)
def _trunc(x):
    return np.trunc(x)


@njit(**_JIT)
def _fmod(a, b):
    if b != 0.0 and np.isfinite(a):
        return np.fmod(a, b)
    return np.nan


@njit(**_JIT)
def _quantum(x, q):
    if q <= 0.0:
        return x
    return q * np.trunc(x / q)


@njit(**_JIT)
def _safediv(a, b, c):
    if b != 0.0:
        return a / b
    return c


@njit(**_JIT)
def _stepf(t, eps, height, start):
    if t + eps >= start:
        return height
    return 0.0


@njit(**_JIT)
def _ramp(t, slope, start, end):
    if t < start:
        return 0.0
    return slope * ((t if t < end else end) - start)


@njit(**_JIT)
def _pulse(t, dt, eps, volume, first, every):
    if t + eps < first:
        return 0.0
    if every > 0.0:
        on = np.fmod(t - first + eps, every) < dt
    else:
        on = t - first + eps < dt
    return volume / dt if on else 0.0


@njit(**_JIT)
def _pulse_train(t, dt, start, width, every, end):
    h = t + dt * 0.5
    if h < start or not h < end:
        return 0.0
    w = width if width > dt else dt
    phase = np.fmod(h - start, every) if every > 0.0 else h - start
    return 1.0 if phase < w else 0.0


@njit(**_JIT)
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x * 0.0


@njit(**_JIT)
def _sinh(x):
    return np.sinh(x)


@njit(**_JIT)
def _cosh(x):
    return np.cosh(x)


@njit(**_JIT)
def _tanh(x):
    return np.tanh(x)


@njit(**_JIT)
def _min2(a, b):
    return b if b < a else a


@njit(**_JIT)
def _max2(a, b):
    return b if b > a else a


@njit(**_JIT)
def _clampneg(x):
    return 0.0 if x < 0.0 else x


@njit(**_JIT)
def _ite(c, a, b):
    return a if c else b


@njit(**_JIT)
def _posv(x):
    return x if x > 0.0 else 0.0


@njit(**_JIT)
def _negv(x):
    return -x if x < 0.0 else 0.0


@njit(**_JIT)
def _gabs(x):
    return x if x >= 0.0 else -x


@njit(**_JIT)
def _limit(need, available):
    """Return the factor scaling a stock's drains down to what it holds: exactly 1.0 when they fit."""
    return available / need if need > available else 1.0


@njit(**_JIT)
def _scalepos(x, sc):
    return x * sc if x > 0.0 else x


@njit(**_JIT)
def _scaleneg(x, sc):
    return x * sc if x < 0.0 else x


@njit(**_JIT)
def _exp(x):
    return np.exp(x)


@njit(**_JIT)
def _log(x):
    return np.log(x)


@njit(**_JIT)
def _log10(x):
    return np.log10(x)


@njit(**_JIT)
def _sqrt(x):
    return np.sqrt(x)


@njit(**_JIT)
def _sin(x):
    return np.sin(x)


@njit(**_JIT)
def _cos(x):
    return np.cos(x)


@njit(**_JIT)
def _tan(x):
    return np.tan(x)


@njit(**_JIT)
def _arcsin(x):
    return np.arcsin(x)


@njit(**_JIT)
def _arccos(x):
    return np.arccos(x)


@njit(**_JIT)
def _arctan(x):
    return np.arctan(x)


@njit(cache=True, error_model="numpy")
def _interp(x, xs, ys, slopes, kind):
    """Evaluate a graphical function: ``kind`` 0 discrete, 1 interpolated (held at the ends), 2 extrapolated.

    The scalar flavour's arithmetic (``slope * (x - x_j) + y_j``, numpy.interp's own).
    """
    n = xs.shape[0]
    # bisect_right: the first index whose point is greater than x
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if x < xs[mid]:
            hi = mid
        else:
            lo = mid + 1
    j = lo - 1
    if kind == 0:
        return ys[j if j >= 0 else 0]
    x0 = xs[0]
    xn = xs[n - 1]
    extrap = kind == 2 and n > 1
    if x < x0:
        if extrap:
            return ys[0] + (x - x0) * slopes[0]
        return ys[0]
    if x >= xn:
        if extrap and x > xn:
            return ys[n - 1] + (x - xn) * slopes[n - 2]
        return ys[n - 1]
    if j < 0 or j >= n - 1:  # x is NaN
        return np.nan
    if xs[j] == x:
        return ys[j]
    return slopes[j] * (x - xs[j]) + ys[j]
