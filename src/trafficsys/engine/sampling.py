"""Sampling the declared uncertainty of a model's constants, and the one seed policy."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..limits import check, check_memory
from ..model.elements import SAMPLE_MODES, Constant, Distribution
from ..model.model import Model
from ..model.names import canonical

__all__ = [
    "noise_seed",
    "run_seeds",
    "as_generator",
    "sample_constants",
    "SAMPLERS",
    "uniform_design",
    "transform",
    "run_count",
    "check_memory",
    "UncertainInput",
    "uncertain_inputs",
    "input_params",
    "sample_inputs",
]

#: the samplers :func:`sample_constants` accepts
SAMPLERS = ("lhs", "random", "sobol")


def as_generator(seed: int | np.random.Generator | None = None) -> np.random.Generator:
    """Turn ``seed`` into a Generator: the one seed policy (``None``: fresh entropy; int; Generator as is).

    Every stochastic function of trafficsys takes ``seed=`` and passes it here.

    Examples
    --------
    >>> as_generator(1).random() == as_generator(1).random()
    True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        return np.random.default_rng(seed)
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        raise ModelError(f"seed must be a non-negative integer, got {seed}")
    raise ModelError(f"seed must be None, an integer or a numpy Generator, got {type(seed).__name__}")


def noise_seed(seed: int | np.random.Generator | None = None) -> int:
    """Return the base seed of the random functions of a simulation (``NORMAL``, ``RANDOM_UNIFORM``...).

    ``None`` is 0: a model that draws random numbers gives the same run every
    time unless a seed is given (as Vensim's noise seed does); an integer is
    itself; a Generator gives one number of its stream.  Each run ``i`` of an
    ensemble then draws from its own seed (:func:`run_seeds`), the same for
    the same ``(seed, i)`` in every scenario: strategies are compared under
    common random numbers.
    """
    if seed is None:
        return 0
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**52))
    as_generator(seed)  # the one policy's checks and messages
    return int(seed)


def run_seeds(seed: int | np.random.Generator | None, first: int, n: int) -> np.ndarray:
    """Return the seeds of runs ``first .. first + n - 1`` (52-bit integers, as floats) for base ``seed``."""
    from .runtime import _v_mix

    base = np.uint64(noise_seed(seed) & (2**64 - 1))
    runs = np.arange(first, first + n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _v_mix(_v_mix(runs) ^ _v_mix(np.atleast_1d(base)))
    return (mixed >> np.uint64(12)).astype(float)


def run_count(n: object, what: str = "n") -> int:
    """``n`` as a whole number of runs (at least 1), or a ModelError saying what was wrong."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer, float, np.floating)):
        raise ModelError(f"{what} must be a whole number of runs, got {n!r} ({type(n).__name__})")
    if isinstance(n, (float, np.floating)) and not float(n).is_integer():
        raise ModelError(f"{what} must be a whole number of runs, got {n!r}")
    if n < 1:
        raise ModelError(f"{what} must be at least 1, got {int(n)}")
    check("runs", float(n), f"the ensemble ({what} = {n:,})", f"use a smaller {what}")
    return int(n)


def uniform_design(
    n: int, d: int, seed: int | np.random.Generator | None = None, sampler: str = "lhs"
) -> np.ndarray:
    """``n`` points in the unit cube ``[0, 1)^d`` by Latin hypercube, plain random or scrambled Sobol."""
    from scipy.stats import qmc

    gen = as_generator(seed)
    if d == 0:
        return np.empty((n, 0))
    if sampler == "random":
        return gen.random((n, d))
    if sampler == "lhs":
        return qmc.LatinHypercube(d, rng=gen).random(n)
    if sampler == "sobol":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # balance properties need n = 2^k; fine otherwise
            return qmc.Sobol(d, scramble=True, rng=gen).random(n)
    raise ModelError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")


def _param(dist: Distribution, name: str, default: float) -> float:
    """Return a distribution's parameter as a number (``default`` when not given)."""
    value = dist.param(name, default)
    return default if value is None else float(value)


def transform(c: Constant, u: np.ndarray) -> np.ndarray:
    """Map uniform numbers ``u`` to the constant's distribution, truncated to its range.

    ``uniform`` (default) and ``loguniform`` span the range; ``triangular``
    takes ``mode``; ``normal`` (``mean``, ``sd``) and ``lognormal`` (``mean``,
    ``sd`` of the underlying normal) are truncated to the range by inverting
    the CDF between the range's quantiles.
    """
    from scipy import stats

    assert c.range is not None
    lo, hi = c.range
    dist = c.distribution or Distribution()
    kind = dist.kind.lower()
    if hi < lo:
        raise ModelError(f"range ({lo}, {hi}) is reversed; write (low, high)", variable=c.name)
    if hi == lo:
        return np.full(u.shape, lo)
    if kind == "uniform":
        return lo + (hi - lo) * u
    if kind == "loguniform":
        if lo <= 0:
            raise ModelError("a loguniform range must be positive", variable=c.name)
        return np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * u)
    if kind == "triangular":
        mode = _param(dist, "mode", (lo + hi) / 2)
        if not lo <= mode <= hi:
            raise ModelError(f"triangular mode {mode} lies outside the range ({lo}, {hi})", variable=c.name)
        frozen = stats.triang((mode - lo) / (hi - lo), loc=lo, scale=hi - lo)
        return np.clip(frozen.ppf(u), lo, hi)
    if kind == "normal":
        frozen = stats.norm(_param(dist, "mean", c.value), _param(dist, "sd", (hi - lo) / 4))
    elif kind == "lognormal":
        if lo < 0:
            raise ModelError("a lognormal range must be non-negative", variable=c.name)
        mu = _param(dist, "mean", float(np.log(c.value)) if c.value > 0 else 0.0)
        frozen = stats.lognorm(s=_param(dist, "sd", 1.0), scale=np.exp(mu))
    else:
        raise ModelError(
            f"unknown distribution {dist.kind!r}; use uniform, loguniform, triangular, normal or lognormal",
            variable=c.name,
        )
    a, b = frozen.cdf(lo), frozen.cdf(hi)
    if not b > a:
        raise ModelError(
            "the distribution puts no probability inside the range; check mean and sd", variable=c.name
        )
    return np.clip(frozen.ppf(a + (b - a) * u), lo, hi)


@dataclass(frozen=True)
class UncertainInput:
    """One uncertain input of an ensemble: a scalar constant, one element of an arrayed one, or a whole array.

    Attributes
    ----------
    name
        What tables show: ``"inflow"``, ``"exit_rate[north]"`` (an element sampled
        on its own), or ``"exit_rate"`` (an arrayed constant sampled ``as_one``).
    constant
        The constant whose ``range``, ``distribution`` and ``value`` apply (for
        an element, the element's own point value).
    targets
        The scalar constants the engine sets from this input's values (the
        elements of an arrayed constant are named ``x[e]``).
    """

    name: str
    constant: Constant
    targets: tuple[str, ...]

    @property
    def range(self) -> tuple[float, float] | None:
        """The range sampled."""
        return self.constant.range


def uncertain_inputs(
    model: Model,
    names: Sequence[str] | None = None,
    *,
    exclude: Sequence[str] = (),
    need_range: bool = True,
    nonzero_width: bool = False,
) -> list[UncertainInput]:
    """Return the inputs an ensemble varies: each constant, each element of an arrayed constant, in model order.

    An arrayed constant becomes one input per element, or a single input when
    it says ``sample = "as_one"`` (:attr:`~trafficsys.model.elements.Constant.sample`).

    Parameters
    ----------
    model
        The model (arrayed or not).
    names
        The constants to vary (an arrayed constant's name, or one element ``x[e]``);
        default: every constant with a ``range``.
    exclude
        Constants (or elements) not to vary.
    need_range
        Refuse named constants without a range (default); with False, every
        constant qualifies (the default then takes every constant).
    nonzero_width
        Leave out (from the default) ranges of zero width, which fix a constant.

    Raises
    ------
    ModelError
        A name that is not a constant, or without a range when one is needed.
    """
    from ..model.arrays import element_names

    skip = {canonical(x) for x in exclude}
    dims = getattr(model, "dimensions", {}) or {}
    flat = None

    def elements(c: Constant) -> list[Constant]:
        nonlocal flat
        if not c.dimensions:
            return [c]
        if flat is None:
            from ..model.arrays import flatten

            flat = flatten(model)
        keys = element_names(
            canonical(c.name),
            tuple(canonical(d) for d in c.dimensions),
            {canonical(k): tuple(canonical(e) for e in v) for k, v in dims.items()},
        )
        # an element given an equation (not a number) is not a constant any more: nothing to sample
        return [e for e in (flat[k] for k in keys if k in flat) if isinstance(e, Constant)]

    def inputs_of(c: Constant) -> list[UncertainInput]:
        if c.sample not in SAMPLE_MODES:
            raise ModelError(
                f"sample = {c.sample!r}: use one of {', '.join(map(repr, SAMPLE_MODES))}",
                variable=c.name,
                file=model.file,
            )
        els = [e for e in elements(c) if canonical(e.name) not in skip]
        if not c.dimensions:
            return [UncertainInput(c.name, c, (canonical(c.name),))] if els else []
        if c.sample == "as_one":
            return [UncertainInput(c.name, c, tuple(canonical(e.name) for e in els))] if els else []
        return [UncertainInput(e.name, e, (canonical(e.name),)) for e in els]

    def usable(c: Constant) -> bool:
        if not need_range:
            return True
        return c.range is not None and (not nonzero_width or c.range[1] > c.range[0])

    out: list[UncertainInput] = []
    if names is None:
        for c in model.constants:
            if canonical(c.name) not in skip and usable(c):
                out += inputs_of(c)
        return out
    for name in names:
        key = canonical(name)
        e = model[name] if name in model else None
        if e is None and "[" in key:  # one element of an arrayed constant
            base = model[key.split("[", 1)[0]] if key.split("[", 1)[0] in model else None
            if isinstance(base, Constant) and base.dimensions:
                got = [x for x in elements(base) if canonical(x.name) == key]
                if got and not (need_range and got[0].range is None):
                    out.append(UncertainInput(got[0].name, got[0], (key,)))
                    continue
                if got:
                    e = got[0]
        if e is None:
            e = model[name]  # raises UnknownVariableError with a suggestion
        if not isinstance(e, Constant):
            raise ModelError(
                f"only constants can be varied; '{e.name}' is a {e.kind.value}",
                variable=e.name,
                file=model.file,
            )
        if need_range and e.range is None:
            raise ModelError(
                "only constants with a declared range can be sampled; give it range=(lo, hi)",
                variable=e.name,
                file=model.file,
            )
        out += inputs_of(e)
    return out


def input_params(inputs: Sequence[UncertainInput], X: np.ndarray) -> dict[str, np.ndarray]:
    """Return an ensemble's ``params`` from a design ``X`` (runs x inputs): each input's column on its targets."""
    out: dict[str, np.ndarray] = {}
    for i, inp in enumerate(inputs):
        col = np.ascontiguousarray(X[:, i], dtype=float)
        for t in inp.targets:
            out[t] = col
    return out


def sample_constants(
    model: Model,
    n: int,
    seed: int | np.random.Generator | None = None,
    sampler: str = "lhs",
    *,
    names: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Sample every constant with a declared ``range`` (its ``distribution``, uniform by default).

    Parameters
    ----------
    model
        The model.
    n
        Number of samples (runs).
    seed
        See :func:`as_generator`; the same seed gives the same numbers.
    sampler
        ``"lhs"`` (Latin hypercube, default), ``"random"`` or ``"sobol"`` (scrambled).
    names
        Sample only these constants (each must have a range); default: all with a range.
    exclude
        Constants not to sample (e.g. those a scenario fixes).

    Returns
    -------
    dict
        Canonical constant name -> array of ``n`` values, in model order; the
        elements of an arrayed constant are ``x[e]`` (one array each, the same
        array for every element when it is sampled ``as_one``).  Pass it
        as ``params`` to :func:`~trafficsys.engine.simulate`; comparing
        strategies on the same sample gives common random numbers.

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("m")
    >>> _ = m.constant("a", 1, range=(0, 2))
    >>> s = sample_constants(m, 4, seed=1)
    >>> sorted(s), s["a"].shape
    (['a'], (4,))
    """
    chosen = uncertain_inputs(model, names, exclude=exclude)
    return input_params(chosen, sample_inputs(model, chosen, n, seed, sampler))


def sample_inputs(
    model: Model,
    inputs: Sequence[UncertainInput],
    n: int,
    seed: int | np.random.Generator | None = None,
    sampler: str = "lhs",
) -> np.ndarray:
    """Return a design of ``n`` runs over ``inputs`` (array runs x inputs), each column in its distribution."""
    n = run_count(n)
    check_memory(
        8.0 * n * len(inputs),
        f"sampling {len(inputs)} constants for {n:,} runs",
        "use fewer runs (n)",
        model.file,
    )
    u = uniform_design(n, len(inputs), seed, sampler)
    out = np.empty((n, len(inputs)))
    for i, c in enumerate(inputs):
        out[:, i] = transform(c.constant, u[:, i])
    return out
