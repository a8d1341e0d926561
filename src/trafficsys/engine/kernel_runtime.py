"""The builtins of the compiled kernel, as numba functions.

Each reproduces the arithmetic of the scalar flavour of
:mod:`~trafficsys.engine.codegen` (the same comparisons, in the same order,
the same IEEE operations), so a kernel run and a numpy run of a model without
transcendental functions agree to the last bit (``^`` included: both paths take
the C library's ``pow``).  ``EXP``, ``LN``, ``SIN``... go to the C library
here and to numpy's own loops there, which may differ in the last bit:
agreement to 1e-12 relative.

Imported only by generated kernels (it imports numba).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, vectorize

from .kernel import _RUNTIME_NAMES
from .runtime import _NA, _NB, _NC, _ND, _SQRT2, _SQRT2PI

#: the names a generated kernel imports (listed once, in :mod:`~trafficsys.engine.kernel`)
__all__ = list(_RUNTIME_NAMES)

INF = math.inf
_JIT: dict[str, Any] = {"cache": True, "error_model": "numpy"}


@njit(**_JIT)
def _pow(a, b):
    return a**b


@vectorize(["float64(float64, float64)"], cache=True)
def _pow_ufunc(a, b):  # the numpy path's ``^`` (:func:`~trafficsys.engine.runtime._v_pow`): the same C pow
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


# ------------------------------------------------------------------ random numbers (see runtime.py)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO53 = 2.0**-53
# the inverse-normal coefficients are the numpy path's own (numba reads module-level tuples as constants)
_POISSON_NORMAL_ABOVE = 500.0


@njit(**_JIT)
def _mix(z):
    z = z + _GOLDEN
    z = (z ^ (z >> _S30)) * _MUL1
    z = (z ^ (z >> _S27)) * _MUL2
    return z ^ (z >> _S31)


@njit(**_JIT)
def _unif(seed, site, k, s2):
    z = _mix(np.uint64(seed))
    z = _mix(z ^ np.uint64(site))
    z = _mix(z ^ np.uint64(k))
    z = _mix(z ^ np.uint64(np.int64(s2)))
    return (np.float64(z >> _S11) + 0.5) * _TWO53


@njit(**_JIT)
def _ndtri_low(q):
    if q < 0.02425:
        t = np.sqrt(-2.0 * np.log(q))
        x = (((((_NC[0] * t + _NC[1]) * t + _NC[2]) * t + _NC[3]) * t + _NC[4]) * t + _NC[5]) / (
            (((_ND[0] * t + _ND[1]) * t + _ND[2]) * t + _ND[3]) * t + 1.0
        )
    else:
        t = q - 0.5
        r = t * t
        x = (
            (((((_NA[0] * r + _NA[1]) * r + _NA[2]) * r + _NA[3]) * r + _NA[4]) * r + _NA[5])
            * t
            / (((((_NB[0] * r + _NB[1]) * r + _NB[2]) * r + _NB[3]) * r + _NB[4]) * r + 1.0)
        )
    e = 0.5 * math.erfc(-x / _SQRT2) - q
    u = e * _SQRT2PI * np.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


@njit(**_JIT)
def _ndtri(p):
    if not (p > 0.0 and p < 1.0):
        if p == 0.0:
            return -np.inf
        if p == 1.0:
            return np.inf
        return np.nan
    if p > 0.5:
        return -_ndtri_low(1.0 - p)
    return _ndtri_low(p)


@njit(**_JIT)
def _phi(x):
    return 0.5 * math.erfc(-x / _SQRT2)


@njit(**_JIT)
def _r_random(seed, site, k, s2, lo, hi):
    return lo + (hi - lo) * _unif(seed, site, k, s2)


@njit(**_JIT)
def _r_random01(seed, site, k, s2):
    return _unif(seed, site, k, s2)


@njit(**_JIT)
def _r_normal(seed, site, k, s2, mean, sd):
    return mean + sd * _ndtri(_unif(seed, site, k, s2))


@njit(**_JIT)
def _r_lognormal(seed, site, k, s2, mean, sd):
    return np.exp(mean + sd * _ndtri(_unif(seed, site, k, s2)))


@njit(**_JIT)
def _r_exprnd(seed, site, k, s2, mean):
    return -mean * np.log(_unif(seed, site, k, s2))


@njit(**_JIT)
def _r_poisson(seed, site, k, s2, mean):
    u = _unif(seed, site, k, s2)
    if not mean > 0.0:
        if mean == 0.0:
            return 0.0
        return np.nan
    if mean > _POISSON_NORMAL_ABOVE:
        x = np.floor(mean + np.sqrt(mean) * _ndtri(u) + 0.5)
        return x if x > 0.0 else 0.0
    p = np.exp(-mean)
    f = p
    x = 0.0
    while u > f:
        x = x + 1.0
        p = p * mean / x
        f = f + p
        if p == 0.0:
            break
    return x


@njit(**_JIT)
def _r_random_normal(seed, site, k, s2, lo, hi, mean, sd):
    u = _unif(seed, site, k, s2)
    if not sd > 0.0:
        v = mean
    else:
        a = _phi((lo - mean) / sd)
        b = _phi((hi - mean) / sd)
        v = mean + sd * _ndtri(a + u * (b - a))
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


@njit(**_JIT)
def _r_random_exponential(seed, site, k, s2, lo, hi, shift, stretch):
    u = _unif(seed, site, k, s2)
    loc = lo if lo > shift else shift
    top = 1.0 - np.exp(-(hi - loc) / stretch)
    v = loc - stretch * np.log(1.0 - u * top)
    return v if v < hi else hi


# ------------------------------------------------------------------ vector functions (see runtime.py)
@njit(**_JIT)
def _vec(xs):
    a = np.empty(len(xs))
    for i in range(len(xs)):
        a[i] = xs[i]
    return a


@njit(**_JIT)
def _vsort_order(pos, direction, xs):
    order = np.argsort(_vec(xs), kind="mergesort")
    p = int(pos)
    if direction > 0.0:
        return float(order[p])
    return float(order[len(xs) - 1 - p])


@njit(**_JIT)
def _vrank(pos, direction, xs):
    order = np.argsort(_vec(xs), kind="mergesort")
    p = int(pos)
    rank = 0.0
    for j in range(len(xs)):
        if order[j] == p:
            rank = j + 1.0
    if direction > 0.0:
        return rank
    return len(xs) + 1.0 - rank


@njit(**_JIT)
def _vpick(index, xs):
    if index >= 0.0 and index < len(xs) and index == np.floor(index):
        return _vec(xs)[int(index)]
    return np.nan


@njit(**_JIT)
def _vselect_check(missing, action, errors, sel, expr):
    s = _vec(sel)
    e = _vec(expr)
    act = int(action)
    err = int(errors)
    count = 0
    out = 0.0
    if act in (1, 5, 7):
        out = 1.0
    elif act in (2, 8):
        out = np.inf
    elif act in (3, 9):
        out = -np.inf
    for i in range(s.shape[0]):
        if s[i] == 0.0:
            continue
        count += 1
        if act <= 4:
            v = s[i] * e[i]
        elif act == 5:
            v = e[i] ** s[i]
        else:
            v = e[i]
        if act in (0, 4, 6, 10):
            out = out + v
        elif act in (1, 5, 7):
            out = out * v
        elif act in (2, 8):
            out = v if v < out else out
        elif act in (3, 9):
            out = v if v > out else out
        else:
            out = np.nan
    if act in (4, 10) and count > 0:
        out = out / count
    if act < 0 or act > 10:
        out = np.nan
    if (count == 0 and (err == 1 or err == 3)) or (count > 1 and (err == 2 or err == 3)):
        return np.nan
    if count == 0:
        return missing
    return out


@njit(**_JIT)
def _alloc_priority(pos, width, supply, requests, priorities):
    r = _vec(requests)
    p = _vec(priorities)
    n = r.shape[0]
    i = int(pos)
    need = 0.0
    for j in range(n):
        need = need + r[j]
    if supply >= need:
        return r[i]
    if supply <= 0.0:
        return 0.0
    half = width / 2.0
    b = np.sort(np.concatenate((p - half, p + half)))
    total = np.zeros(2 * n)
    for k in range(2 * n):
        t = 0.0
        for j in range(n):
            share = (p[j] + half - b[k]) / width
            share = 0.0 if share < 0.0 else (1.0 if share > 1.0 else share)
            t = t + r[j] * share
        total[k] = t
    k = -1
    for m in range(2 * n):
        if total[m] >= supply:
            k = m
    k = 0 if k < 0 else (2 * n - 2 if k > 2 * n - 2 else k)
    span = total[k] - total[k + 1]
    if span > 0.0:
        x = b[k] + (total[k] - supply) * (b[k + 1] - b[k]) / span
    else:
        x = b[k + 1]
    share = (p[i] + half - x) / width
    share = 0.0 if share < 0.0 else (1.0 if share > 1.0 else share)
    return r[i] * share


# ------------------------------------------------------------------ Vensim's other uses of a graphical function
@njit(**_JIT)
def _lforward(x, xs, ys):
    if np.isnan(x):
        return np.nan
    n = xs.shape[0]
    for j in range(n):
        if xs[j] >= x:
            return ys[j]
    return ys[n - 1]


@njit(**_JIT)
def _lbackward(x, xs, ys):
    if np.isnan(x):
        return np.nan
    j = 0
    for i in range(xs.shape[0]):
        if xs[i] <= x:
            j = i
    return ys[j]


@njit(**_JIT)
def _seg(x, xs):
    n = xs.shape[0]
    j = 0
    for i in range(n):
        if xs[i] <= x:
            j = i
    if j > n - 2:
        j = n - 2
    return j if j > 0 else 0


@njit(**_JIT)
def _lslope(x, xs, ys):
    if np.isnan(x):
        return np.nan
    n = xs.shape[0]
    if n < 2 or x < xs[0] or x > xs[n - 1]:
        return 0.0
    j = _seg(x, xs)
    dx = xs[j + 1] - xs[j]
    return (ys[j + 1] - ys[j]) / dx if dx != 0.0 else 0.0


@njit(**_JIT)
def _lextrapolate(x, xs, ys):
    if xs.shape[0] < 2:
        return ys[0] if not np.isnan(x) else np.nan
    j = _seg(x, xs)
    dx = xs[j + 1] - xs[j]
    slope = (ys[j + 1] - ys[j]) / dx if dx != 0.0 else 0.0
    return slope * (x - xs[j]) + ys[j]


@njit(**_JIT)
def _linvert(y, xs, ys):
    if np.isnan(y):
        return np.nan
    n = xs.shape[0]
    for j in range(n - 1):
        y0 = ys[j]
        y1 = ys[j + 1]
        lo = y0 if y0 < y1 else y1
        hi = y1 if y0 < y1 else y0
        if y >= lo and y <= hi:
            if y1 == y0:
                return xs[j]
            return xs[j] + (y - y0) * (xs[j + 1] - xs[j]) / (y1 - y0)
    best = 0
    for j in range(n):
        if abs(ys[j] - y) < abs(ys[best] - y):
            best = j
    return xs[best]


@njit(**_JIT)
def _area_to(x, xs, ys):
    n = xs.shape[0]
    if n < 2:
        return (x - xs[0]) * ys[0]
    j = _seg(x, xs)
    total = 0.0
    for i in range(j):
        total = total + (ys[i + 1] + ys[i]) / 2.0 * (xs[i + 1] - xs[i])
    xc = x if x > xs[0] else xs[0]
    xc = xc if xc < xs[n - 1] else xs[n - 1]
    dx = xs[j + 1] - xs[j]
    fx = ys[j] + (ys[j + 1] - ys[j]) * (xc - xs[j]) / dx if dx != 0.0 else ys[j]
    out = total + (xc - xs[j]) * (ys[j] + fx) / 2.0
    if x < xs[0]:
        out = out + (x - xs[0]) * ys[0]
    if x > xs[n - 1]:
        out = out + (x - xs[n - 1]) * ys[n - 1]
    return out


@njit(**_JIT)
def _larea(x1, x2, xs, ys):
    return _area_to(x2, xs, ys) - _area_to(x1, xs, ys)


@njit(**_JIT)
def _gammaln(x):
    if x <= 0.0 and x == np.floor(x):
        return np.inf
    return math.lgamma(x)


@njit(**_JIT)
def _invert(row, col, size, cells):
    n = int(size)
    a = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            a[i, j] = cells[i * n + j]
    try:  # singular (LAPACK finds a zero pivot, as for numpy): NaN, and the run stops naming the variable
        inv = np.linalg.inv(a)
    except Exception:  # noqa: BLE001 - numba catches exceptions by class Exception only
        return np.nan
    return inv[int(row), int(col)]


@njit(**_JIT)
def _tri_cdf(y, a, c, b):
    if y <= a:
        return 0.0
    if y >= b:
        return 1.0
    if y <= c:
        return (y - a) ** 2 / ((b - a) * (c - a)) if c > a else 1.0
    return 1.0 - (b - y) ** 2 / ((b - a) * (b - c)) if b > c else 1.0


@njit(**_JIT)
def _r_random_triangular(seed, site, k, s2, lo, hi, a, c, b):
    u = _unif(seed, site, k, s2)
    if not b > a:
        return a
    low = lo if lo > a else a
    high = hi if hi < b else b
    fl = _tri_cdf(low, a, c, b)
    fh = _tri_cdf(high, a, c, b)
    q = fl + u * (fh - fl)
    if q < (c - a) / (b - a):
        v = a + np.sqrt(q * (b - a) * (c - a))
    else:
        v = b - np.sqrt((1.0 - q) * (b - a) * (b - c))
    if v < low:
        return low
    if v > high:
        return high
    return v


@njit(**_JIT)
def _r_random_poisson(seed, site, k, s2, lo, hi, mean, shift, stretch):
    u = _unif(seed, site, k, s2)
    if np.isnan(mean):
        return np.nan
    if stretch > 0.0:
        kmin = max(np.ceil((lo - shift) / stretch), 0.0)
        kmax = np.floor((hi - shift) / stretch)
    else:
        kmin = 0.0
        kmax = np.inf
    if mean > _POISSON_NORMAL_ABOVE:
        count = np.floor(mean + np.sqrt(mean) * _ndtri(u) + 0.5)
        count = count if count > 0.0 else 0.0
    elif mean > 0.0:
        cap = mean + 40 * np.sqrt(mean) + 40
        fa = 1.0 if (kmin >= 1 and kmin - 1 > cap) else 0.0
        fb = 1.0 if kmax >= 0 else 0.0
        p = np.exp(-mean)
        f = p
        if kmin - 1 == 0.0:
            fa = f
        if kmax == 0.0:
            fb = f
        top = max(kmin - 1, kmax if np.isfinite(kmax) else 0.0)
        top = top if top < cap else cap
        j = 0.0
        while j < top:
            j = j + 1.0
            p = p * mean / j
            f = f + p
            if kmin - 1 == j:
                fa = f
            if kmax == j:
                fb = f
        q = fa + u * (fb - fa)
        p = np.exp(-mean)
        f = p
        count = 0.0
        while q > f:
            count = count + 1.0
            p = p * mean / count
            f = f + p
            if p == 0.0:
                break
    else:
        count = 0.0
    if count < kmin:
        count = kmin
    if count > kmax:
        count = kmax
    v = shift + stretch * count
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v
