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
``a ^ b``, ``POWER(a, b)``
    the C library's ``pow`` on every path (Python's ``math.pow``, numba's
    ``**``), element by element: numpy's own power loop is vectorised on some
    processors and differs from it in the last bit in about one case in
    twenty, and takes a square root for an exponent of 0.5 given once but not
    when it comes per run; either would make an ensemble's run differ from
    the same run alone.
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
    try:
        return math.pow(a, b)
    except (ValueError, OverflowError):  # where C's pow returns NaN or an infinity, Python raises
        with np.errstate(all="ignore"):
            return float(np.power(a, b))


_POW_UFUNC: list[Callable] = []


def _libm_pow_ufunc() -> Callable:
    """Return the C library's ``pow`` as a ufunc: numba's when it can be imported, else one element at a time."""
    if not _POW_UFUNC:
        try:
            from .kernel_runtime import _pow_ufunc as f
        except ImportError:  # no numba: the same function, slower
            pyfunc = np.frompyfunc(_scalar_pow, 2, 1)

            def f(a, b):
                return np.asarray(pyfunc(a, b), dtype=float)

        _POW_UFUNC.append(f)
    return _POW_UFUNC[0]


def _v_pow(a, b):
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return _scalar_pow(float(a), float(b))
    with np.errstate(all="ignore"):
        return _libm_pow_ufunc()(a, b)


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


# ------------------------------------------------------------------ random numbers
# A draw is a function of (the run's seed, the call site, the step number, the call's own seed
# argument): a counter-based generator, with no state to carry between steps, chunks, threads or
# backends.  So a run is reproducible from its seed; the same run of two scenarios draws the same
# numbers at the same call sites (common random numbers); and the numpy, scalar and compiled paths
# draw the same numbers.  Each draw is one uniform number in (0, 1) turned into the distribution by
# its inverse cumulative distribution function.
_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_TWO53 = 2.0**-53
#: POISSON with a larger mean uses the normal approximation (e^-mean underflows near 745)
POISSON_NORMAL_ABOVE = 500.0


def _mix(z: int) -> int:
    """splitmix64's output function (Steele, Lea and Flood 2014), on Python ints modulo 2^64."""
    z = (z + _GOLDEN) & _M64
    z = ((z ^ (z >> 30)) * _MUL1) & _M64
    z = ((z ^ (z >> 27)) * _MUL2) & _M64
    return z ^ (z >> 31)


def _s_unif(seed, site, k, s2):
    h = _mix(_mix(_mix(_mix(int(seed)) ^ int(site)) ^ int(k)) ^ (int(s2) & _M64))
    return ((h >> 11) + 0.5) * _TWO53


def _v_mix(z):
    z = z + np.uint64(_GOLDEN)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MUL1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MUL2)
    return z ^ (z >> np.uint64(31))


def _v_unif(seed, site, k, s2):
    seed = np.asarray(seed, dtype=float)
    s2 = np.asarray(s2, dtype=float)
    shape = np.broadcast_shapes(seed.shape, s2.shape)
    with np.errstate(over="ignore"):
        z = _v_mix(np.atleast_1d(seed).astype(np.uint64))
        z = _v_mix(z ^ np.uint64(int(site)))
        z = _v_mix(z ^ np.uint64(int(k)))
        z = _v_mix(z ^ np.atleast_1d(s2).astype(np.int64).astype(np.uint64))
    u = ((z >> np.uint64(11)).astype(float) + 0.5) * _TWO53
    return u.reshape(shape) if shape else float(u[0])


# the inverse of the standard normal distribution function: Acklam's rational approximation
# (relative error below 1.2e-9) and one Halley step on erfc, which brings it to about 1e-16
_NA = (
    -3.969683028665376e01,
    2.209460984245205e02,
    -2.759285104469687e02,
    1.383577518672690e02,
    -3.066479806614716e01,
    2.506628277459239e00,
)
_NB = (
    -5.447609879822406e01,
    1.615858368580409e02,
    -1.556989798598866e02,
    6.680131188771972e01,
    -1.328068155288572e01,
)
_NC = (
    -7.784894002430293e-03,
    -3.223964580411365e-01,
    -2.400758277161838e00,
    -2.549732539343734e00,
    4.374664141464968e00,
    2.938163982698783e00,
)
_ND = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def _s_ndtri_low(q):
    """Inverse normal distribution function for 0 < q <= 0.5."""
    if q < 0.02425:
        t = float(np.sqrt(-2.0 * float(np.log(q))))
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
    u = e * _SQRT2PI * float(np.exp(x * x / 2.0))
    return x - u / (1.0 + x * u / 2.0)


def _s_ndtri(p):
    if not 0.0 < p < 1.0:
        return -math.inf if p == 0.0 else (math.inf if p == 1.0 else math.nan)
    return -_s_ndtri_low(1.0 - p) if p > 0.5 else _s_ndtri_low(p)


def _v_ndtri_low(q):
    with np.errstate(all="ignore"):
        t = np.sqrt(-2.0 * np.log(q))
        tail = (((((_NC[0] * t + _NC[1]) * t + _NC[2]) * t + _NC[3]) * t + _NC[4]) * t + _NC[5]) / (
            (((_ND[0] * t + _ND[1]) * t + _ND[2]) * t + _ND[3]) * t + 1.0
        )
        t = q - 0.5
        r = t * t
        body = (
            (((((_NA[0] * r + _NA[1]) * r + _NA[2]) * r + _NA[3]) * r + _NA[4]) * r + _NA[5])
            * t
            / (((((_NB[0] * r + _NB[1]) * r + _NB[2]) * r + _NB[3]) * r + _NB[4]) * r + 1.0)
        )
        x = np.where(q < 0.02425, tail, body)
        e = 0.5 * np.asarray(_erfc(-x / _SQRT2), dtype=float) - q
        u = e * _SQRT2PI * np.exp(x * x / 2.0)
        return x - u / (1.0 + x * u / 2.0)


def _v_ndtri(p):
    p = np.asarray(p, dtype=float)
    hi = p > 0.5
    q = np.where(hi, 1.0 - p, p)
    inside = (q > 0.0) & (q <= 0.5)
    x = _v_ndtri_low(np.where(inside, q, 0.25))
    x = np.where(hi, -x, x)
    edge = np.where(p == 0.0, -np.inf, np.where(p == 1.0, np.inf, np.nan))
    out = np.where(inside, x, edge)
    return out if out.ndim else float(out)


def _s_phi(x):
    """Return the standard normal distribution function at ``x``."""
    return 0.5 * math.erfc(-x / _SQRT2)


def _v_phi(x):
    x = np.asarray(x, dtype=float)
    out = 0.5 * np.asarray(_erfc(-x / _SQRT2), dtype=float)
    return out if out.ndim else float(out)


def _s_r_random(seed, site, k, s2, lo, hi):
    return lo + (hi - lo) * _s_unif(seed, site, k, s2)


def _v_r_random(seed, site, k, s2, lo, hi):
    return lo + (hi - lo) * _v_unif(seed, site, k, s2)


def _s_r_random01(seed, site, k, s2):
    return _s_unif(seed, site, k, s2)


_v_r_random01 = _v_unif


def _s_r_normal(seed, site, k, s2, mean, sd):
    return mean + sd * _s_ndtri(_s_unif(seed, site, k, s2))


def _v_r_normal(seed, site, k, s2, mean, sd):
    return mean + sd * _v_ndtri(_v_unif(seed, site, k, s2))


def _s_r_lognormal(seed, site, k, s2, mean, sd):
    return float(np.exp(mean + sd * _s_ndtri(_s_unif(seed, site, k, s2))))


def _v_r_lognormal(seed, site, k, s2, mean, sd):
    return np.exp(mean + sd * _v_ndtri(_v_unif(seed, site, k, s2)))


def _s_r_exprnd(seed, site, k, s2, mean):
    return -mean * float(np.log(_s_unif(seed, site, k, s2)))


def _v_r_exprnd(seed, site, k, s2, mean):
    return -mean * np.log(_v_unif(seed, site, k, s2))


def _s_r_poisson(seed, site, k, s2, mean):
    u = _s_unif(seed, site, k, s2)
    if not mean > 0.0:
        return 0.0 if mean == 0.0 else math.nan
    if mean > POISSON_NORMAL_ABOVE:
        x = math.floor(mean + float(np.sqrt(mean)) * _s_ndtri(u) + 0.5)
        return x if x > 0.0 else 0.0
    p = float(np.exp(-mean))
    f = p
    x = 0.0
    while u > f:
        x = x + 1.0
        p = p * mean / x
        f = f + p
        if p == 0.0:
            break
    return x


def _v_r_poisson(seed, site, k, s2, mean):
    u = np.asarray(_v_unif(seed, site, k, s2), dtype=float)
    mean = np.asarray(mean, dtype=float)
    shape = np.broadcast_shapes(u.shape, mean.shape)
    u = np.broadcast_to(u, shape).astype(float)
    lam = np.broadcast_to(mean, shape).astype(float)
    with np.errstate(all="ignore"):
        big = lam > POISSON_NORMAL_ABOVE
        p = np.exp(-np.where(big, 0.0, lam))
        f = p.copy()
        x = np.zeros(shape)
        go = (u > f) & ~big & (lam > 0.0)
        while go.any():
            x = np.where(go, x + 1.0, x)
            p = np.where(go, p * lam / np.where(go, x, 1.0), p)
            f = np.where(go, f + p, f)
            go = go & (u > f) & (p != 0.0)
        approx = np.floor(lam + np.sqrt(lam) * _v_ndtri(u) + 0.5)
        x = np.where(big, np.where(approx > 0.0, approx, 0.0), x)
        x = np.where(lam > 0.0, x, np.where(lam == 0.0, 0.0, np.nan))
    return x if x.ndim else float(x)


def _s_r_random_normal(seed, site, k, s2, lo, hi, mean, sd):
    u = _s_unif(seed, site, k, s2)
    if not sd > 0.0:
        v = mean
    else:
        a = _s_phi((lo - mean) / sd)
        b = _s_phi((hi - mean) / sd)
        v = mean + sd * _s_ndtri(a + u * (b - a))
    return lo if v < lo else (hi if v > hi else v)


def _v_r_random_normal(seed, site, k, s2, lo, hi, mean, sd):
    u = _v_unif(seed, site, k, s2)
    with np.errstate(all="ignore"):
        pos = sd > 0.0
        s = np.where(pos, sd, 1.0)
        a = _v_phi((lo - mean) / s)
        b = _v_phi((hi - mean) / s)
        v = np.where(pos, mean + s * _v_ndtri(a + u * (b - a)), mean)
    v = np.where(v < lo, lo, np.where(v > hi, hi, v))
    return v if v.ndim else float(v)


def _s_r_random_exponential(seed, site, k, s2, lo, hi, shift, stretch):
    u = _s_unif(seed, site, k, s2)
    loc = lo if lo > shift else shift
    top = 1.0 - float(np.exp(-(hi - loc) / stretch))
    v = loc - stretch * float(np.log(1.0 - u * top))
    return v if v < hi else hi


def _v_r_random_exponential(seed, site, k, s2, lo, hi, shift, stretch):
    u = _v_unif(seed, site, k, s2)
    with np.errstate(all="ignore"):
        loc = np.where(lo > shift, lo, shift)
        top = 1.0 - np.exp(-(hi - loc) / stretch)
        v = loc - stretch * np.log(1.0 - u * top)
    v = np.where(v < hi, v, hi)
    return v if v.ndim else float(v)


#: the random builtins: name -> (runtime suffix, number of distribution arguments before the seed)
RANDOM_BUILTINS = {
    "RANDOM": ("random", 2),
    "NORMAL": ("normal", 2),
    "LOGNORMAL": ("lognormal", 2),
    "EXPRND": ("exprnd", 1),
    "POISSON": ("poisson", 1),
    "RANDOM_0_1": ("random01", 0),
    "RANDOM_UNIFORM": ("random", 2),
    "RANDOM_NORMAL": ("random_normal", 4),
    "RANDOM_EXPONENTIAL": ("random_exponential", 4),
    "RANDOM_TRIANGULAR": ("random_triangular", 5),
    "RANDOM_POISSON": ("random_poisson", 5),
    "RANDOM_GAMMA": ("random_gamma", 5),
    "RANDOM_BETA": ("random_beta", 6),
    "RANDOM_BINOMIAL": ("random_binomial", 6),
    "RANDOM_NEGATIVE_BINOMIAL": ("random_negative_binomial", 6),
}


# ------------------------------------------------------------------ vector functions over flattened arrays
# Arrays are flattened to scalars before simulation (model/arrays.py); a vector function's call for
# one element gets that element's position and the whole vector as a tuple.  Each works on a stack of
# the vector's elements along axis 0 (each element a number, or an array along the run axis); the
# scalar flavour runs the same code on numbers, so both give the same bits.
def _stack(xs):
    return np.stack(np.broadcast_arrays(*[np.asarray(x, dtype=float) for x in xs]))


def _lift(a, runs):
    """Return the stack ``a`` (elements along axis 0) broadcast to ``(elements,) + runs``."""
    a = a.reshape(a.shape + (1,) * (len(runs) - (a.ndim - 1)))
    return np.broadcast_to(a, a.shape[:1] + tuple(runs))


def _one(x):
    return x if x.ndim else float(x)


def _v_vsort_order(pos, direction, xs):
    """Vensim VECTOR SORT ORDER: the 0-based index of the element that comes ``pos``-th in sorted order."""
    a = _stack(xs)
    order = np.argsort(a, axis=0, kind="stable")
    up = np.asarray(direction) > 0
    asc = order[int(pos)]
    desc = order[a.shape[0] - 1 - int(pos)]
    return _one(np.where(up, asc, desc).astype(float))


def _v_vrank(pos, direction, xs):
    """Vensim VECTOR RANK: the 1-based rank of element ``pos`` in sorted order."""
    a = _stack(xs)
    order = np.argsort(a, axis=0, kind="stable")
    n = a.shape[0]
    ranks = np.argsort(order, axis=0, kind="stable")[int(pos)] + 1.0
    return _one(np.where(np.asarray(direction) > 0, ranks, n + 1.0 - ranks))


def _v_vpick(index, xs):
    """Element ``index`` (0-based, NaN outside the vector) of ``xs``: VECTOR REORDER, VECTOR ELM MAP."""
    a = _stack(xs)
    i = np.asarray(index, dtype=float)
    runs = np.broadcast_shapes(a.shape[1:], i.shape)
    a = _lift(a, runs)
    i = np.broadcast_to(i, runs)
    ok = (i >= 0) & (i < a.shape[0]) & (i == np.floor(i))
    j = np.where(ok, i, 0).astype(np.int64)
    got = np.take_along_axis(a, j[None, ...], axis=0)[0]
    return _one(np.where(ok, got, np.nan))


def _v_vselect(missing, action, sel, expr):
    """Vensim VECTOR SELECT(selection, expression, missing, numerical action, error action)."""
    s = _stack(sel)
    e = _stack(expr)
    runs = np.broadcast_shapes(s.shape[1:], e.shape[1:])
    s, e = _lift(s, runs), _lift(e, runs)
    on = s != 0
    act = int(action)
    with np.errstate(all="ignore"):
        if act in (0, 1, 2, 3, 4):
            val = s * e
        elif act == 5:
            val = e**s
        else:
            val = e
        if act in (0, 6):
            out = np.where(on, val, 0.0).sum(axis=0)
        elif act in (1, 5, 7):
            out = np.where(on, val, 1.0).prod(axis=0)
        elif act in (2, 8):
            out = np.where(on, val, np.inf).min(axis=0)
        elif act in (3, 9):
            out = np.where(on, val, -np.inf).max(axis=0)
        elif act in (4, 10):
            out = np.where(on, val, 0.0).sum(axis=0) / np.maximum(on.sum(axis=0), 1)
        else:
            out = np.full(s.shape[1:], np.nan)
    any_on = on.any(axis=0)
    return _one(np.where(any_on, out, missing))


def _v_vselect_check(missing, action, errors, sel, expr):
    """VECTOR SELECT with its error action: NaN (the run stops, naming the variable) where it objects."""
    out = np.asarray(_v_vselect(missing, action, sel, expr), dtype=float)
    on = (_stack(sel) != 0).sum(axis=0)
    err = int(errors)
    bad = ((on == 0) & (err in (1, 3))) | ((on > 1) & (err in (2, 3)))
    return _one(np.where(bad, np.nan, out))


def _v_alloc_priority(pos, width, supply, requests, priorities):
    """Vensim ALLOCATE BY PRIORITY for element ``pos``.

    Each requester's priority is spread evenly over ``[p - width/2, p +
    width/2]``; the supply fills requests from the top down to the level
    ``x`` where the allocations ``r * clip((p + width/2 - x) / width, 0, 1)``
    add up to the supply (found exactly: the total is piecewise linear in
    ``x``).  So the highest priority is served first, the next one starts
    when the gap to it is within the width, and the requests all filled when
    the supply covers them.
    """
    r = _stack(requests)
    p = _stack(priorities)
    w = np.asarray(width, dtype=float)
    s = np.asarray(supply, dtype=float)
    runs = np.broadcast_shapes(r.shape[1:], p.shape[1:], w.shape, s.shape)
    r = _lift(r, runs)
    p = _lift(p, runs)
    w = np.broadcast_to(w, runs)
    s = np.broadcast_to(s, runs)
    half = w / 2.0
    with np.errstate(all="ignore"):
        # the breakpoints of the total, ascending: where a requester starts or stops receiving
        b = np.sort(np.concatenate([p - half, p + half]), axis=0)
        share = np.clip((p[:, None] + half - b[None]) / w, 0.0, 1.0)  # (requester, breakpoint, ...)
        total = (r[:, None] * share).sum(axis=0)  # non-increasing along the breakpoints
        above = total >= s  # the breakpoints at or below the level
        k = np.clip(above.sum(axis=0) - 1, 0, b.shape[0] - 2)
        k = np.asarray(k)[None]
        b0 = np.take_along_axis(b, k, axis=0)[0]
        b1 = np.take_along_axis(b, k + 1, axis=0)[0]
        t0 = np.take_along_axis(total, k, axis=0)[0]
        t1 = np.take_along_axis(total, k + 1, axis=0)[0]
        span = t0 - t1
        x = np.where(span > 0, b0 + (t0 - s) * (b1 - b0) / np.where(span > 0, span, 1.0), b1)
        got = r[int(pos)] * np.clip((p[int(pos)] + half - x) / w, 0.0, 1.0)
    need = r.sum(axis=0)
    got = np.where(s >= need, r[int(pos)], np.where(s <= 0, 0.0, got))
    return _one(got)


def _scalar_of(fn):
    """Return the scalar flavour of a vector function: the same code on numbers (the same bits)."""

    def f(*args):
        return float(fn(*args))

    return f


_s_vsort_order = _scalar_of(_v_vsort_order)
_s_vrank = _scalar_of(_v_vrank)
_s_vpick = _scalar_of(_v_vpick)
_s_vselect_check = _scalar_of(_v_vselect_check)
_s_alloc_priority = _scalar_of(_v_alloc_priority)


# ------------------------------------------------------------------ Vensim's other uses of a graphical function
# Each takes the table's points (xs increasing, ys); the vector flavour works on arrays of x along the run
# axis, the scalar one is the same code on a number.
def _v_lforward(x, xs, ys):
    """LOOKUP FORWARD: the value at the first point at or after ``x`` (the last beyond the points)."""
    x = np.asarray(x, dtype=float)
    j = np.minimum(np.searchsorted(xs, x, side="left"), len(xs) - 1)
    return _one(np.where(np.isnan(x), np.nan, ys[j]))


def _v_lbackward(x, xs, ys):
    """LOOKUP BACKWARD: the value at the last point at or before ``x`` (the first before the points)."""
    x = np.asarray(x, dtype=float)
    j = np.maximum(np.searchsorted(xs, x, side="right") - 1, 0)
    return _one(np.where(np.isnan(x), np.nan, ys[j]))


def _segment(x, xs):
    """Index of the segment ``[xs[j], xs[j + 1]]`` holding ``x`` (the end segments beyond the points)."""
    return np.clip(np.searchsorted(xs, x, side="right") - 1, 0, max(len(xs) - 2, 0))


def _v_lslope(x, xs, ys):
    """LOOKUP SLOPE: the slope of the segment holding ``x``; 0 beyond the points."""
    x = np.asarray(x, dtype=float)
    if len(xs) < 2:
        return _one(np.where(np.isnan(x), np.nan, 0.0))
    j = _segment(x, xs)
    dx = xs[j + 1] - xs[j]
    slope = np.where(dx != 0, (ys[j + 1] - ys[j]) / np.where(dx != 0, dx, 1.0), 0.0)
    inside = (x >= xs[0]) & (x <= xs[-1])
    return _one(np.where(np.isnan(x), np.nan, np.where(inside, slope, 0.0)))


def _v_lextrapolate(x, xs, ys):
    """LOOKUP EXTRAPOLATE: interpolated, the end segments extended beyond the points."""
    x = np.asarray(x, dtype=float)
    if len(xs) < 2:
        return _one(np.where(np.isnan(x), np.nan, ys[0]))
    j = _segment(x, xs)
    dx = xs[j + 1] - xs[j]
    slope = np.where(dx != 0, (ys[j + 1] - ys[j]) / np.where(dx != 0, dx, 1.0), 0.0)
    return _one(slope * (x - xs[j]) + ys[j])


def _v_linvert(y, xs, ys):
    """LOOKUP INVERT: the first x (in the order of the points) where the table equals ``y``.

    Where no segment reaches ``y``, the x of the point whose value is nearest.
    """
    y = np.asarray(y, dtype=float)
    out = np.full(y.shape, np.nan)
    found = np.zeros(y.shape, dtype=bool)
    for j in range(len(xs) - 1):
        y0, y1 = ys[j], ys[j + 1]
        lo, hi = min(y0, y1), max(y0, y1)
        hit = ~found & (y >= lo) & (y <= hi)
        x = xs[j] if y1 == y0 else xs[j] + (y - y0) * (xs[j + 1] - xs[j]) / (y1 - y0)
        out = np.where(hit, x, out)
        found = found | hit
    near = xs[np.argmin(np.abs(ys[:, None] - y.reshape(-1)[None, :]), axis=0)].reshape(y.shape)
    out = np.where(found, out, np.where(np.isnan(y), np.nan, near))
    return _one(out)


def _area_to(x, xs, ys):
    """Area under the table from its first point to ``x`` (held flat beyond the points)."""
    n = len(xs)
    if n < 2:
        return (x - xs[0]) * ys[0]
    cum = np.concatenate([[0.0], np.cumsum((ys[1:] + ys[:-1]) / 2.0 * np.diff(xs))])
    j = _segment(x, xs)
    xc = np.clip(x, xs[0], xs[-1])
    dx = xs[j + 1] - xs[j]
    fx = np.where(dx != 0, ys[j] + (ys[j + 1] - ys[j]) * (xc - xs[j]) / np.where(dx != 0, dx, 1.0), ys[j])
    inside = cum[j] + (xc - xs[j]) * (ys[j] + fx) / 2.0
    return (
        inside
        + np.where(x < xs[0], (x - xs[0]) * ys[0], 0.0)
        + np.where(x > xs[-1], (x - xs[-1]) * ys[-1], 0.0)
    )


def _v_larea(x1, x2, xs, ys):
    """LOOKUP AREA: the area under the table from ``x1`` to ``x2``."""
    x1 = np.asarray(x1, dtype=float)
    x2 = np.asarray(x2, dtype=float)
    return _one(np.asarray(_area_to(x2, xs, ys) - _area_to(x1, xs, ys), dtype=float))


_s_lforward = _scalar_of(_v_lforward)
_s_lbackward = _scalar_of(_v_lbackward)
_s_lslope = _scalar_of(_v_lslope)
_s_lextrapolate = _scalar_of(_v_lextrapolate)
_s_linvert = _scalar_of(_v_linvert)
_s_larea = _scalar_of(_v_larea)


def _lgamma(x):
    try:
        return math.lgamma(x)
    except (ValueError, OverflowError):  # the poles 0, -1, -2...
        return math.inf


_lgamma_u = np.frompyfunc(_lgamma, 1, 1)


def _v_gammaln(x):
    """Vensim GAMMA LN: the logarithm of the gamma function (infinite at its poles)."""
    return _one(np.asarray(_lgamma_u(np.asarray(x, dtype=float)), dtype=float))


def _v_invert(row, col, size, cells):
    """Vensim INVERT MATRIX: element (row, col) of the inverse of the ``size`` x ``size`` matrix ``cells``.

    A singular matrix gives NaN (the run stops, naming the variable).
    """
    n = int(size)
    a = _stack(cells)  # (n * n, runs...)
    runs = a.shape[1:]
    mats = np.moveaxis(a.reshape((n, n) + runs), (0, 1), (-2, -1))  # (runs..., n, n)
    try:
        inv = np.linalg.inv(mats)
    except np.linalg.LinAlgError:
        inv = np.full(mats.shape, np.nan)
        flat = mats.reshape((-1, n, n))
        out = inv.reshape((-1, n, n))
        for i in range(flat.shape[0]):
            try:
                out[i] = np.linalg.inv(flat[i])
            except np.linalg.LinAlgError:
                pass
    return _one(np.asarray(inv[..., int(row), int(col)], dtype=float))


_s_gammaln = _scalar_of(_v_gammaln)
_s_invert = _scalar_of(_v_invert)


# ------------------------------------------------------------------ more of Vensim's random functions
def _tri_cdf(y, a, c, b):
    """Return the triangular distribution function on [a, b] with its peak at c, at y."""
    with np.errstate(all="ignore"):
        left = np.where(c > a, (y - a) ** 2 / ((b - a) * (c - a)), 1.0)
        right = np.where(b > c, 1.0 - (b - y) ** 2 / ((b - a) * (b - c)), 1.0)
        return np.where(y <= a, 0.0, np.where(y >= b, 1.0, np.where(y <= c, left, right)))


def _v_r_random_triangular(seed, site, k, s2, lo, hi, a, c, b):
    """Vensim RANDOM TRIANGULAR(min, max, start, peak, end, seed): truncated to [min, max]."""
    u = np.asarray(_v_unif(seed, site, k, s2), dtype=float)
    lo, hi, a, c, b = (np.asarray(v, dtype=float) for v in (lo, hi, a, c, b))
    low = np.maximum(lo, a)
    high = np.minimum(hi, b)
    fl = _tri_cdf(low, a, c, b)
    fh = _tri_cdf(high, a, c, b)
    q = fl + u * (fh - fl)
    with np.errstate(all="ignore"):
        share = np.where(b > a, (c - a) / (b - a), 0.0)
        up = a + np.sqrt(q * (b - a) * (c - a))
        down = b - np.sqrt((1.0 - q) * (b - a) * (b - c))
        v = np.where(q < share, up, down)
    v = np.where(v < low, low, np.where(v > high, high, v))
    return _one(np.where(b > a, v, a))


def _v_r_random_poisson(seed, site, k, s2, lo, hi, mean, shift, stretch):
    """Vensim RANDOM POISSON(min, max, mean, shift, stretch, seed): shift + stretch * a Poisson count.

    Truncated to [min, max] by drawing the count from the Poisson distribution
    conditioned on landing there (the inverse distribution function between the
    bounds), as the other truncated draws are.  Means above
    :data:`POISSON_NORMAL_ABOVE` use the normal approximation.
    """
    u = np.asarray(_v_unif(seed, site, k, s2), dtype=float)
    lam, lo, hi, h, r = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (mean, lo, hi, shift, stretch))
    )
    shape = np.broadcast_shapes(u.shape, lam.shape)
    u, lam, lo, hi, h, r = (np.broadcast_to(v, shape).astype(float) for v in (u, lam, lo, hi, h, r))
    with np.errstate(all="ignore"):
        pos = r > 0
        kmin = np.where(pos, np.maximum(np.ceil((lo - h) / np.where(pos, r, 1.0)), 0.0), 0.0)
        kmax = np.where(pos, np.floor((hi - h) / np.where(pos, r, 1.0)), np.inf)
        big = lam > POISSON_NORMAL_ABOVE
        small = ~big & (lam > 0)
        # the distribution function at kmin - 1 and kmax, then the count where it reaches q
        p = np.exp(-np.where(small, lam, 0.0))
        f = p.copy()
        j = np.zeros(shape)
        cap = lam + 40 * np.sqrt(lam) + 40  # beyond, the distribution function is 1 to rounding
        fa = np.where((kmin >= 1) & (kmin - 1 > cap), 1.0, 0.0)  # P(count <= kmin - 1), set below when nearer
        fb = np.where(kmax >= 0, 1.0, 0.0)  # P(count <= kmax), set below when kmax is finite and nearer
        top = float(
            np.max(
                np.where(
                    small,
                    np.minimum(
                        np.maximum(kmin - 1, np.where(np.isfinite(kmax), kmax, 0)),
                        lam + 40 * np.sqrt(lam) + 40,
                    ),
                    0.0,
                ),
                initial=0.0,
            )
        )
        fa = np.where(small & (kmin - 1 == 0), f, fa)
        fb = np.where(small & (kmax == 0), f, fb)
        while j.max(initial=0.0) < top:
            j = j + 1.0
            p = p * lam / j
            f = f + p
            fa = np.where(small & (kmin - 1 == j), f, fa)
            fb = np.where(small & (kmax == j), f, fb)
        q = fa + u * (fb - fa)
        p = np.exp(-np.where(small, lam, 0.0))
        f = p.copy()
        count = np.zeros(shape)
        go = small & (q > f)
        while go.any():
            count = np.where(go, count + 1.0, count)
            p = np.where(go, p * lam / np.where(go, count, 1.0), p)
            f = np.where(go, f + p, f)
            go = go & (q > f) & (p != 0.0)
        approx = np.floor(lam + np.sqrt(lam) * _v_ndtri(u) + 0.5)
        count = np.where(big, np.maximum(approx, 0.0), np.where(small, count, 0.0))
        count = np.where(count < kmin, kmin, np.where(count > kmax, kmax, count))
        v = h + r * count
        v = np.where(v < lo, lo, np.where(v > hi, hi, v))
    return _one(np.where(np.isnan(lam), np.nan, v))


_s_r_random_triangular = _scalar_of(_v_r_random_triangular)
_s_r_random_poisson = _scalar_of(_v_r_random_poisson)


def _truncated_draw(u, lo, hi, shift, stretch, dist, discrete):
    """``shift + stretch * X`` for X of the frozen scipy distribution ``dist``, kept in [lo, hi].

    The draw is the inverse distribution function of X conditioned on landing
    in ``[lo, hi]`` once stretched and shifted (for a count, between the whole
    numbers that do), so a truncated draw is still one uniform number.
    """
    with np.errstate(all="ignore"):
        pos = stretch > 0
        s = np.where(pos, stretch, 1.0)
        blo = np.where(pos, (lo - shift) / s, -np.inf)
        bhi = np.where(pos, (hi - shift) / s, np.inf)
        if discrete:
            fa = dist.cdf(np.ceil(blo) - 1)
            fb = dist.cdf(np.floor(bhi))
        else:
            fa = dist.cdf(blo)
            fb = dist.cdf(bhi)
        q = fa + u * (fb - fa)
        x = dist.ppf(np.clip(q, 0.0, 1.0))
        v = shift + stretch * x
        return np.where(v < lo, lo, np.where(v > hi, hi, v))


def _v_r_scipy(kind):
    def draw(seed, site, k, s2, lo, hi, *args):
        from scipy import stats

        u = np.asarray(_v_unif(seed, site, k, s2), dtype=float)
        lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        if kind == "gamma":  # (order, shift, stretch): a gamma of that shape and scale 1
            order, shift, stretch = args
            dist, discrete = stats.gamma(np.asarray(order, dtype=float)), False
        elif kind == "beta":  # (alpha, beta, shift, stretch)
            a, b, shift, stretch = args
            dist, discrete = stats.beta(np.asarray(a, dtype=float), np.asarray(b, dtype=float)), False
        elif kind == "binomial":  # (probability, trials, shift, stretch): successes in the trials
            p, n, shift, stretch = args
            dist, discrete = stats.binom(np.asarray(n, dtype=float), np.asarray(p, dtype=float)), True
        else:  # negative binomial (probability, successes, shift, stretch): trials until that many successes
            p, n, shift, stretch = args
            dist, discrete = stats.nbinom(np.asarray(n, dtype=float), np.asarray(p, dtype=float), loc=n), True
        out = _truncated_draw(
            u, lo, hi, np.asarray(shift, dtype=float), np.asarray(stretch, dtype=float), dist, discrete
        )
        return _one(np.asarray(out, dtype=float))

    return draw


_v_r_random_gamma = _v_r_scipy("gamma")
_v_r_random_beta = _v_r_scipy("beta")
_v_r_random_binomial = _v_r_scipy("binomial")
_v_r_random_negative_binomial = _v_r_scipy("negative_binomial")
_s_r_random_gamma = _scalar_of(_v_r_random_gamma)
_s_r_random_beta = _scalar_of(_v_r_random_beta)
_s_r_random_binomial = _scalar_of(_v_r_random_binomial)
_s_r_random_negative_binomial = _scalar_of(_v_r_random_negative_binomial)
#: random builtins drawn through scipy's distributions: the compiled kernel leaves them to numpy
SCIPY_DRAWS = frozenset({"RANDOM_GAMMA", "RANDOM_BETA", "RANDOM_BINOMIAL", "RANDOM_NEGATIVE_BINOMIAL"})


# ------------------------------------------------------------------ VECTOR LOOKUP: a vector as a graphical function
def _extrapolated_area(x, xs, ys):
    """Area from the first point to ``x`` under the table with its end segments extended."""
    n = len(xs)
    if n < 2:
        return (x - xs[0]) * ys[0]
    inside = _area_to(np.clip(x, xs[0], xs[-1]), xs, ys)
    s0 = (ys[1] - ys[0]) / (xs[1] - xs[0]) if xs[1] != xs[0] else 0.0
    s1 = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if xs[-1] != xs[-2] else 0.0
    below = np.where(x < xs[0], (x - xs[0]) * ys[0] + s0 * (x - xs[0]) ** 2 / 2.0, 0.0)
    above = np.where(x > xs[-1], (x - xs[-1]) * ys[-1] + s1 * (x - xs[-1]) ** 2 / 2.0, 0.0)
    return inside + below + above


def _extrapolated_invert(y, xs, ys):
    """LOOKUP INVERT, reaching values beyond the points along the end segments."""
    got = np.asarray(_v_linvert(y, xs, ys), dtype=float)
    if len(xs) < 2:
        return got
    reached = np.zeros(np.shape(y), dtype=bool)
    for j in range(len(xs) - 1):
        reached |= (y >= min(ys[j], ys[j + 1])) & (y <= max(ys[j], ys[j + 1]))
    s0 = (ys[1] - ys[0]) / (xs[1] - xs[0]) if xs[1] != xs[0] else 0.0
    s1 = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]) if xs[-1] != xs[-2] else 0.0
    with np.errstate(all="ignore"):
        first = np.where(s0 != 0, xs[0] + (y - ys[0]) / s0, np.nan)
        last = np.where(s1 != 0, xs[-1] + (y - ys[-1]) / s1, np.nan)
    # the end whose value is nearer, along its segment (the nearest point when that segment is flat)
    pick = np.where(np.abs(y - ys[0]) <= np.abs(y - ys[-1]), first, last)
    return np.where(reached, got, np.where(np.isnan(pick), got, pick))


def _vlookup_one(x, xmin, xmax, mode, ys):
    n = len(ys)
    xs = xmin + (xmax - xmin) * np.arange(n) / max(n - 1, 1)
    m = int(mode)
    if m == 0:
        return float(np.interp(x, xs, ys))
    if m == 1:
        return float(_area_to(x, xs, ys))
    if m == 7:
        return float(_extrapolated_area(x, xs, ys))
    if m == 8:
        return float(_extrapolated_invert(np.asarray(x), xs, ys))
    if m == 9:
        j = int(_segment(x, xs))
        dx = xs[j + 1] - xs[j] if n > 1 else 0.0
        return float((ys[j + 1] - ys[j]) / dx) if n > 1 and dx != 0 else 0.0
    fn = {2: _v_lbackward, 3: _v_lextrapolate, 4: _v_lforward, 5: _v_linvert, 6: _v_lslope}.get(m)
    return float(fn(x, xs, ys)) if fn is not None else math.nan


def _v_vlookup(x, xmin, xmax, mode, ys):
    """Vensim VECTOR LOOKUP(vec, x, xmin, xmax, mode): the vector's values as a graphical function.

    The vector's n values sit at n points evenly spaced from ``xmin`` to
    ``xmax``; ``mode`` 0 interpolates (held beyond the points), 1 is LOOKUP
    AREA from ``xmin``, 2 BACKWARD, 3 EXTRAPOLATE, 4 FORWARD, 5 INVERT, 6 SLOPE,
    and 7, 8, 9 area, invert and slope with the end segments extended.
    """
    y = _stack(ys)
    runs = np.broadcast_shapes(y.shape[1:], *(np.shape(v) for v in (x, xmin, xmax, mode)))
    y = _lift(y, runs).reshape(y.shape[0], -1)
    args = [np.broadcast_to(np.asarray(v, dtype=float), runs).reshape(-1) for v in (x, xmin, xmax, mode)]
    out = np.array([_vlookup_one(*(a[r] for a in args), y[:, r]) for r in range(y.shape[1])])
    return _one(out.reshape(runs))


_s_vlookup = _scalar_of(_v_vlookup)


# ------------------------------------------------------------------ DELAY MATERIAL: a conserving pipeline
def _s_pipe_material(hx, hd, k, dt, init, missing):
    """Vensim DELAY MATERIAL at step ``k`` from the input and delay-time histories (one entry per step).

    What entered at step ``j`` leaves at step ``j + m_j``, ``m_j`` the delay
    time it entered with in steps (halves up, at least one): the output is
    the sum of what leaves at ``k`` (nothing is lost or made when the delay
    time changes), ``init`` before the first entry leaves, ``missing`` when
    nothing leaves later on.
    """
    total = 0.0
    found = False
    first = None
    for j in range(min(k, len(hx))):
        q = hd[j] / dt + 0.5
        m = math.floor(q) if q < k + 2 else k + 1
        m = m if m >= 1 else 1
        if first is None:
            first = m
        if j + m == k:
            total = total + hx[j]
            found = True
    if found:
        return total
    return init if first is None or k < first else missing


def _v_pipe_material(hx, hd, k, dt, init, missing):
    total = None
    found = None
    first = None
    for j in range(min(k, len(hx))):
        m = np.floor(np.asarray(hd[j], dtype=float) / dt + 0.5)
        m = np.where(m >= 1, np.where(m <= k + 1, m, k + 1), 1)
        if first is None:
            first = m
        hit = (j + m) == k
        add = np.where(hit, hx[j], 0.0)
        total = add if total is None else total + add
        found = hit if found is None else found | hit
    if total is None:
        return init
    return np.where(found, total, np.where(k < first, init, missing))
