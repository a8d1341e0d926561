"""Every builtin has one numeric meaning, the same on every path that computes it.

A *path* is a way trafficsys computes an equation's value: the engine's
generated code for one run (Python floats), for an ensemble (numpy arrays),
and the analyses' evaluation of an expression on recorded values.  A new path
(a compiled kernel) is one more entry in ``PATHS``.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.engine.expression import evaluate
from trafficsys.errors import SimulationError
from trafficsys.model.builtins import BUILTINS, BuiltinKind
from trafficsys.model.parser import parse

DT = 0.25
TABLE = [(0.0, 0.0), (1.0, 2.0), (3.0, 2.5)]


def _model(equation: str, args: list[float], t: float) -> ts.Model:
    m = ts.Model("one_builtin", start=t, stop=t + DT, dt=DT)
    for i, a in enumerate(args):
        m.constant(f"a{i}", a)
    m.lookup("tab", TABLE)
    m.aux("y", equation)
    m.stock("s", 0, inflows=["f"])  # a run needs a stock
    m.flow("f", "0")
    return m


def _run(r) -> float:
    return float(r.ds["y"].values[0, 0])


def engine_scalar(equation: str, args: list[float], t: float) -> float:
    """One run: the generated code on Python floats (the kernel has its own test below)."""
    try:
        return _run(ts.simulate(_model(equation, args, t), backend="numpy"))
    except SimulationError:  # a NaN or infinity stops a run; the other paths return it
        return math.nan


def engine_vector(equation: str, args: list[float], t: float) -> float:
    """An ensemble: the generated code on numpy arrays (two identical runs)."""
    try:
        return _run(
            ts.simulate(
                _model(equation, args, t), params={"a0": [args[0]] * 2} if args else None, backend="numpy"
            )
        )
    except SimulationError:
        return math.nan


def analysis(equation: str, args: list[float], t: float) -> float:
    """What loop dominance, the blocks and the polarity check compute from recorded values."""
    m = _model(equation, args, t)
    env = {f"a{i}": np.array([a]) for i, a in enumerate(args)}
    out = evaluate(
        parse(equation), env, time=np.array([t]), dt=DT, start=t, stop=t + DT, lookups={"tab": m["tab"]}
    )
    return float(np.asarray(out).reshape(-1)[0])


#: every path that computes an equation; a new one (a compiled kernel) is one line here
PATHS = {"engine scalar": engine_scalar, "engine vector": engine_vector, "analysis": analysis}

#: builtins whose value at one instant depends on their arguments and the clock only
INSTANT = sorted(
    [
        name
        for name, b in BUILTINS.items()
        if b.kind in (BuiltinKind.PURE, BuiltinKind.TIME, BuiltinKind.LOOKUP) and name != "PI"
    ]
    + ["MEAN"]
)
#: with one argument these reduce an array (flattened away before any path sees them)
LEAST = {"MIN": 2, "MAX": 2, "MEAN": 2}
# numbers that probe the edges of each meaning: halves (ROUND), zeros (SAFEDIV, MOD), negatives
NUMBERS = st.one_of(
    st.integers(-6, 6).map(float),
    st.integers(-12, 12).map(lambda k: k / 2),
    st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=32),
)


def _same(values: dict[str, float]) -> bool:
    vals = list(values.values())
    if all(not math.isfinite(v) for v in vals):
        return True
    return all(v == vals[0] for v in vals)  # the same bits, not merely close


def test_every_instantaneous_builtin_is_covered():
    assert {
        "ROUND",
        "STEP",
        "PULSE",
        "RAMP",
        "MOD",
        "MODULO",
        "INT",
        "INTEGER",
        "QUANTUM",
        "SAFEDIV",
        "MIN",
        "MAX",
        "MEAN",
        "ACTIVE_INITIAL",
        "LOOKUP",
        "EXP",
        "LN",
    } <= set(INSTANT)


@pytest.mark.parametrize("name", INSTANT)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_builtin_means_the_same_on_every_path(name, data):
    b = BUILTINS[name]
    hi = b.max_args if b.max_args is not None else b.min_args + 2
    lo = LEAST.get(name, b.min_args)
    k = data.draw(st.integers(lo, max(hi, lo)), label="arguments")
    args = data.draw(st.lists(NUMBERS, min_size=k, max_size=k), label="values")
    t = data.draw(st.sampled_from([0.0, 0.25, 1.0, 2.5, 0.30000000000000004, -1.0]), label="time")
    equation = f"{name}({', '.join(f'a{i}' for i in range(k))})"
    if b.kind is BuiltinKind.LOOKUP:  # the first argument names a graphical function
        equation = f"{name}({', '.join(['tab'] + [f'a{i}' for i in range(1, k)])})"
    got = {path: fn(equation, args, t) for path, fn in PATHS.items()}
    assert _same(got), (equation, args, t, got)


@settings(max_examples=40, deadline=None)
@given(x=NUMBERS, t=st.sampled_from([0.0, 0.5, 1.0]))
def test_graphical_functions_and_operators_mean_the_same_on_every_path(x, t):
    for equation in ("tab(a0)", "a0 ^ 2", "a0 MOD 3", "IF a0 > 1 THEN a0 ELSE -a0", "NOT a0 AND a0 < 2"):
        got = {path: fn(equation, [x], t) for path, fn in PATHS.items()}
        assert _same(got), (equation, x, t, got)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "equation, t, expected",
    [
        ("SINH(1)", 0.0, (math.e - 1 / math.e) / 2),
        ("COSH(1)", 0.0, (math.e + 1 / math.e) / 2),
        ("TANH(1)", 0.0, (math.e - 1 / math.e) / (math.e + 1 / math.e)),
        ("GAMMA_LN(5)", 0.0, math.log(24.0)),  # ln 4!
        ("GAMMA_LN(0.5)", 0.0, math.log(math.sqrt(math.pi))),
    ],
)
def test_known_transcendental_meanings(path, equation, t, expected):
    assert PATHS[path](equation, [], t) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "equation, t, expected",
    [
        ("ROUND(2.5)", 0.0, 3.0),  # half away from zero (numpy's np.round gives 2)
        ("ROUND(-2.5)", 0.0, -3.0),
        ("INT(-1.5)", 0.0, -2.0),
        ("INTEGER(-1.5)", 0.0, -1.0),
        ("MOD(-1, 3)", 0.0, 2.0),
        ("MODULO(-1, 3)", 0.0, -1.0),
        ("STEP(5, 0.3)", 0.1 + 0.2, 5.0),  # 0.30000000000000004 >= 0.3 within the clock tolerance
        ("STEP(5, 0.3)", 0.2999, 0.0),
        ("PULSE(2)", 1.0, 2.0 / DT),  # the default first pulse is at the start time, not at 0
        ("RAMP(2, 1, 3)", 5.0, 4.0),
        ("SAFEDIV(1, 0, 7)", 0.0, 7.0),
        ("QUANTUM(7.5, 2)", 0.0, 6.0),
        ("POWER(2, 3)", 0.0, 8.0),
        ("POWER(4, 0.5)", 0.0, 2.0),
        ("LOG(8, 2)", 0.0, 3.0),  # ln 8 / ln 2
        ("LOG(100)", 0.0, 2.0),  # one argument: base 10
        ("SIGN(-3)", 0.0, -1.0),
        ("SIGN(0)", 0.0, 0.0),
        ("SIGN(0.5)", 0.0, 1.0),
        ("SINH(0)", 0.0, 0.0),
        ("COSH(0)", 0.0, 1.0),
        ("TANH(0)", 0.0, 0.0),
        ("MIN(INF(), 3)", 0.0, 3.0),
        ("XIDZ(1, 0, 5)", 0.0, 5.0),  # Vensim's names for SAFEDIV
        ("ZIDZ(1, 0)", 0.0, 0.0),
        ("ZIDZ(3, 2)", 0.0, 1.5),
        # PULSE TRAIN(start 1, width 0.5, every 2, end 6): on in [1, 1.5), [3, 3.5), [5, 5.5), judged at
        # the middle of the step (DT = 0.25)
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 0.75, 0.0),
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 1.0, 1.0),
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 1.25, 1.0),
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 1.5, 0.0),
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 3.0, 1.0),
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 5.25, 1.0),
        ("PULSE_TRAIN(1, 0.5, 2, 6)", 6.0, 0.0),  # the end
        ("PULSE_TRAIN(1, 0, 2, 6)", 3.0, 1.0),  # a width of 0 lasts one DT
        ("PULSE_TRAIN(1, 0, 2, 6)", 3.25, 0.0),
        ("PULSE_TRAIN(1, 0.5, 0, 6)", 3.0, 0.0),  # no interval: once
    ],
)
def test_known_meanings(path, equation, t, expected):
    assert PATHS[path](equation, [], t) == expected


def test_every_instantaneous_builtin_means_the_same_in_the_compiled_kernel():
    """One model holding every instantaneous builtin, run by numpy and by the kernel (one compile)."""
    pytest.importorskip("numba")
    m = ts.Model("every_builtin", start=-1, stop=3, dt=DT)
    m.constant("a0", 0.7)
    m.constant("a1", -1.5)
    m.constant("a2", 2.0)
    m.lookup("tab", TABLE)
    m.aux("x", "a0 + (TIME + 1) / 3")  # arguments that move with the clock: x > 0, z never 0 on the grid
    m.aux("z", "a1 + TIME + 0.1")
    args = {0: [], 1: ["x"], 2: ["x", "z"], 3: ["x", "z", "a2"], 4: ["z", "a2", "x", "a2 + 3"]}
    for name in INSTANT:
        b = BUILTINS[name]
        k = max(LEAST.get(name, b.min_args), b.min_args)
        k = min(k if k else 0, 4)
        eq = f"{name}({', '.join(args[k])})"
        if b.kind is BuiltinKind.LOOKUP:
            eq = f"{name}({', '.join(['tab'] + args[k][1:])})"
        # where the generic arguments leave the domain (a NaN or an infinity stops a run)
        eq = {
            "ARCSIN": "ARCSIN(a0 / 2)",
            "ARCCOS": "ARCCOS(a0 / 2)",
            "INF": "MIN(INF(), x)",
            "LOG": "LOG(x, a2)",
        }.get(name, eq)
        m.aux(f"y_{name.lower()}", eq)
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "0")
    runs = {"a0": [0.7, 0.2, 0.5]}
    with np.errstate(all="ignore"):
        a = ts.simulate(m, params=runs, backend="numpy")
        b = ts.simulate(m, params=runs, backend="numba")
    for v in a.ds.data_vars:
        np.testing.assert_allclose(b.ds[v].values, a.ds[v].values, rtol=1e-12, atol=0, err_msg=v)


def test_power_is_the_c_library_pow_on_every_path():
    """``^`` with the exponent given once or per run: numpy's power loop would take a square root for an
    exponent of 0.5 given once and its own vectorised pow per run, each off the other in the last bit."""
    rng = np.random.default_rng(7)
    n = 40
    base = rng.uniform(0.01, 60.0, n)
    expo = rng.choice([0.5, 2.0, -1.0, 3.0, 1.7, -0.5, 0.25], n)
    expected = np.array([math.pow(b, e) for b, e in zip(base, expo)])
    m = _model("a0 ^ a1", [1.0, 1.0], 0.0)
    ens = ts.simulate(m, params={"a0": base, "a1": expo}, backend="numpy").ds["y"].values[0]
    np.testing.assert_array_equal(ens, expected)
    for e in (0.5, 2.0, -1.0, 1.7):  # the exponent given once, the base per run
        once = ts.simulate(m, params={"a0": base, "a1": e}, backend="numpy").ds["y"].values[0]
        np.testing.assert_array_equal(once, [math.pow(b, e) for b in base])
    alone = [engine_scalar("a0 ^ a1", [b, e], 0.0) for b, e in zip(base[:8], expo[:8])]
    np.testing.assert_array_equal(alone, expected[:8])
    got = evaluate(parse("POWER(a0, a1)"), {"a0": base, "a1": expo}, time=np.zeros(n), dt=DT)
    np.testing.assert_array_equal(got, expected)
    if importlib.util.find_spec("numba") is not None:
        kern = ts.simulate(m, params={"a0": base, "a1": expo}, backend="numba").ds["y"].values[0]
        np.testing.assert_array_equal(kern, expected)
