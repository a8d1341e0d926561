"""The compiled kernel (numba) against the numpy path: same results, same errors, cached on disk.

Bit-identical where both do the same operations in the same order; where a
transcendental function is involved (numba calls the C library, numpy its own
SIMD loops, which differ in the last bit) to 1e-12 of each variable's scale.
Kernels compile once per model structure into a per-session cache folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.engine import kernel
from trafficsys.engine.compiled import compile_model
from trafficsys.errors import ModelError, SimulationError, UnsupportedFeatureError
from trafficsys.model import ast

pytest.importorskip("numba")

ROOT = Path(__file__).resolve().parents[1]
MODELS = sorted(
    p for p in (ROOT / "models").rglob("*") if p.suffix in (".toml", ".xmile") and p.name != "strategies.toml"
)
TRANSCENDENTAL = {"EXP", "LN", "LOG10", "SQRT", "SIN", "COS", "TAN", "ARCSIN", "ARCCOS", "ARCTAN"}
pytestmark = pytest.mark.filterwarnings("ignore::trafficsys.engine.StepSizeWarning")


def transcendental(m: ts.Model) -> bool:
    """True if an equation of ``m`` (after lowering) calls a function numpy and the C library round differently."""
    from trafficsys.model.arrays import flatten, is_arrayed

    plan = compile_model(flatten(m) if is_arrayed(m) else m).plan
    for node in plan.nodes.values():
        for e in (node.expr, node.init):
            if e is None:
                continue
            if ast.calls(e) & TRANSCENDENTAL:
                return True
            if any(isinstance(x, ast.Binary) and x.op == "^" for x in ast.walk(e)):
                return True
    return False


def assert_same(a: ts.Results, b: ts.Results, exact: bool) -> None:
    assert list(a.ds.data_vars) == list(b.ds.data_vars)
    for v in a.ds.data_vars:
        x, y = a.ds[v].values, b.ds[v].values
        if exact:
            assert np.array_equal(x, y), (v, np.max(np.abs(x - y)))
        else:
            scale = np.max(np.abs(x)) if x.size else 0.0
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12 * scale, err_msg=v)
    for v in a.ledger.data_vars:
        x, y = a.ledger[v].values, b.ledger[v].values
        if exact:
            assert np.array_equal(x, y), v
        else:
            scale = np.max(np.abs(x)) if x.size else 0.0
            np.testing.assert_allclose(y, x, rtol=1e-12, atol=1e-12 * (scale + 1.0), err_msg=v)
    assert a.conservation_error() < 1e-9
    assert b.conservation_error() < 1e-9


def both(m, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ts.simulate(m, backend="numpy", **kw), ts.simulate(m, backend="numba", **kw)


@pytest.mark.parametrize("path", MODELS, ids=[str(p.relative_to(ROOT / "models")) for p in MODELS])
def test_every_bundled_model_runs_the_same_on_both_backends(path):
    m = ts.load(path)
    exact = not transcendental(m)
    assert_same(*both(m), exact)
    if len(m.names()) < 15:  # RK4 kernels take several times as long to compile: the small models only
        assert_same(*both(m, method="rk4"), exact)


def test_an_ensemble_runs_the_same_on_both_backends_over_threads():
    m = ts.load(ROOT / "models" / "blocks" / "congestion.toml")
    c = next(n for n in m.names() if getattr(m[n], "range", None))
    lo, hi = m[c].range
    params = {c: np.linspace(lo, hi, 37)}  # 37 runs: several threads, uneven blocks
    a, b = both(m, params=params, method="rk4")
    assert b.runs == 37
    assert_same(a, b, not transcendental(m))


def test_saving_a_subset_less_often_runs_the_same():
    m = ts.load_default()
    names = [n for n in m.names() if m[n].kind.value == "stock"][:3]
    a, b = both(m, variables=names, saveper=1.0)
    assert list(b.variables) == names
    assert_same(a, b, not transcendental(m))


# ------------------------------------------------------------------ hypothesis
def _leaf(draw, names):
    return draw(st.one_of(st.sampled_from(names), st.floats(-5, 5).map(lambda x: f"({x:.4g})")))


@st.composite
def expressions(draw, names, depth=3):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return _leaf(draw, names)
    a = draw(expressions(names, depth - 1))
    b = draw(expressions(names, depth - 1))
    form = draw(
        st.sampled_from(
            [
                "({a} + {b})",
                "({a} - {b})",
                "({a} * {b})",
                "SAFEDIV({a}, {b})",
                "MIN({a}, {b})",
                "MAX({a}, {b}, 1)",
                "IF {a} > {b} THEN {a} ELSE {b}",
                "ABS({a})",
                "INT({a})",
                "ROUND({a})",
                "MODULO({a}, 3)",
                "STEP({a}, 2)",
                "PULSE({a}, 1, 3)",
                "RAMP({a}, 1, 4)",
                "SMTH1({a}, 2)",
                "DELAY1({a}, 3)",
                "SMTH3({a}, 2)",
                "IF {a} > 0 AND {b} < 1 THEN 1 ELSE 0",
                "tab({a})",
                "TREND({a}, 2, 0)",
                "MEAN({a}, {b})",
                "(-{a})",
                "IF NOT ({a} > 0) THEN {b} ELSE 0",
                "QUANTUM({a}, 0.5)",
            ]
        )
    )
    return form.format(a=a, b=b)


@st.composite
def models(draw):
    """Stocks joined by flows whose equations are random expressions over stocks, auxes and constants."""
    m = ts.Model("gen", stop=draw(st.integers(2, 12)), dt=draw(st.sampled_from([0.25, 0.5, 1.0])))
    m.lookup(
        "tab",
        [(-2, 0), (0, 0.5), (1, 0.7), (3, 2)],
        extrapolation=draw(st.sampled_from(["continuous", "extrapolate", "discrete"])),
    )
    m.constant("c0", draw(st.floats(0.1, 2)))
    ns = draw(st.integers(1, 3))
    names = ["c0", "TIME"] + [f"s{i}" for i in range(ns)]
    for i in range(draw(st.integers(0, 3))):
        m.aux(f"a{i}", draw(expressions(names)))
        names.append(f"a{i}")
    for i in range(ns):
        m.flow(f"f{i}", f"ABS({draw(expressions(names))}) * 0.1", non_negative=draw(st.booleans()))
        m.flow(f"g{i}", draw(expressions(names)) + f" * 0.05 + s{i} * 0.1")
    for i in range(ns):
        m.stock(
            f"s{i}",
            initial=draw(st.floats(0, 50)),
            inflows=[f"f{i}"],
            outflows=[f"g{i}"] + ([f"f{(i + 1) % ns}"] if ns > 1 else []),
            non_negative=draw(st.booleans()),
        )
    return m


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(models(), st.sampled_from(["euler", "rk4"]))
def test_generated_models_run_the_same_on_both_backends(m, method):
    try:
        a = ts.simulate(m, method=method, backend="numpy")
    except SimulationError as e:  # a generated model may overflow: then both say where
        with pytest.raises(SimulationError) as got:
            ts.simulate(m, method=method, backend="numba")
        assert (got.value.variable, got.value.time) == (e.variable, e.time)
        return
    b = ts.simulate(m, method=method, backend="numba")
    assert_same(a, b, not transcendental(m))


# ------------------------------------------------------------------ errors and choice
def _decay(eq="k * x"):
    m = ts.Model("decay", stop=4, dt=0.5)
    m.constant("k", 0.1)
    m.stock("x", initial=10, outflows=["loss"], non_negative=True)
    m.flow("loss", eq)
    return m


def test_a_non_finite_value_is_located_the_same_way():
    m = _decay("k * x / (TIME - 2)")
    m.aux("shown", "1 / (TIME - 2)")
    errs = []
    for backend in ("numpy", "numba"):
        with pytest.raises(SimulationError) as e:
            ts.simulate(m, backend=backend)
        errs.append((e.value.variable, e.value.time, e.value.run))
    assert errs[0] == errs[1]


def test_a_negative_initial_value_of_a_non_negative_stock_is_refused_on_both():
    m = ts.Model("neg", stop=2, dt=1)
    m.stock("x", initial=-1, non_negative=True)
    for backend in ("numpy", "numba"):
        with pytest.raises(SimulationError, match="below zero"):
            ts.simulate(m, backend=backend)


def test_backend_names_are_checked(monkeypatch):
    m = _decay()
    with pytest.raises(ModelError, match="backend must be one of"):
        ts.simulate(m, backend="fortran")
    monkeypatch.setenv("TRAFFICSYS_BACKEND", "gpu")
    with pytest.raises(ModelError, match="TRAFFICSYS_BACKEND"):
        ts.simulate(m)


def test_a_pipeline_delay_falls_back_to_numpy_unless_numba_is_demanded(monkeypatch):
    m = _decay("DELAY(k * x, 1, 0)")
    cm = compile_model(m)
    method = ts.engine.methods.get_method("euler")
    assert kernel.choose("auto", cm, method, None, 10_000) == "numpy"
    with pytest.raises(UnsupportedFeatureError, match="pipeline DELAY"):
        ts.simulate(m, backend="numba")
    monkeypatch.setenv("TRAFFICSYS_BACKEND", "numba")
    r = ts.simulate(m)  # the environment states a preference: numpy serves where the kernel cannot
    assert r.conservation_error() < 1e-9


def test_auto_takes_the_kernel_by_the_number_of_runs_alone(monkeypatch):
    monkeypatch.delenv("TRAFFICSYS_BACKEND", raising=False)
    m = _decay("k * x + 0.25")
    cm = compile_model(m)
    method = ts.engine.methods.get_method("euler")
    assert kernel.choose(None, cm, method, None, kernel.AUTO_RUNS) == "numba"
    assert kernel.choose("auto", cm, method, None, kernel.AUTO_RUNS - 1) == "numpy"
    assert kernel.choose("numpy", cm, method, None, kernel.AUTO_RUNS) == "numpy"
    ts.simulate(m, backend="numba")
    # a kernel loaded (or cached) changes nothing: the same call always takes the same path
    assert kernel.choose(None, cm, method, None, 1) == "numpy"


def test_an_ensemble_takes_one_path_for_all_its_chunks(monkeypatch):
    from trafficsys.engine import ensemble

    monkeypatch.delenv("TRAFFICSYS_BACKEND", raising=False)
    seen = []
    real = ensemble.execute

    def spy(*args, **kwargs):
        seen.append(kwargs.get("backend"))
        return real(*args, **kwargs)

    monkeypatch.setattr(ensemble, "execute", spy)
    m = _decay("k * x + 0.25")
    k = np.linspace(0.1, 0.5, kernel.AUTO_RUNS)
    big = ensemble.run_ensemble(m, {"k": k}, chunk_size=kernel.AUTO_RUNS // 3)
    assert seen == ["numba"] * 4  # chunks of a third of AUTO_RUNS, chosen by the ensemble's AUTO_RUNS
    seen.clear()
    small = ensemble.run_ensemble(m, {"k": k[:10]}, chunk_size=3)
    assert seen == ["numpy"] * 4
    np.testing.assert_allclose(big.ds["x"].values[:, :10], small.ds["x"].values, rtol=1e-12)


def test_a_second_process_loads_the_kernel_without_compiling(tmp_path):
    script = (
        "import trafficsys as ts\n"
        "from trafficsys.engine import kernel\n"
        "m = ts.Model('cache_probe', stop=3, dt=0.5)\n"
        "m.constant('k', 0.3)\n"
        "m.stock('x', initial=5, outflows=['out'])\n"
        "m.flow('out', 'k * x * 1.0625')\n"
        "r = ts.simulate(m, backend='numba')\n"
        "print(kernel.STATS['compiled'], kernel.STATS['loaded'], float(r['x'].values[-1, 0]))\n"
    )
    env = dict(os.environ, TRAFFICSYS_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT / "src"))
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        for _ in range(2)
    ]
    assert runs[0][:2] == ["1", "0"] and runs[1][:2] == ["0", "1"], runs
    assert runs[0][2] == runs[1][2]
    assert list((tmp_path / "kernels").glob("tskernel_*.py"))


def test_a_long_compile_says_what_it_is_doing(monkeypatch, caplog):
    monkeypatch.setattr(kernel, "ANNOUNCE_AFTER", 0.0)
    m = _decay("k * x + 0.0078125")  # a structure no other test compiles
    with caplog.at_level("INFO", logger="trafficsys"):
        ts.simulate(m, backend="numba", method="rk4")
    text = caplog.text
    assert "with numba" in text or "loading the compiled kernel" in text
    assert "done in" in text


# ------------------------------------------------------------------ memory
def test_an_ensemble_over_the_memory_budget_runs_in_chunks_with_the_same_numbers(monkeypatch):
    from trafficsys.engine import execute as ex

    m = _decay("k * x + SMTH1(x, 1.5) * 0.01")
    k = np.linspace(0.05, 0.5, 2500)
    whole = ts.simulate(m, params={"k": k}, backend="numpy")
    calls = []
    real = ex._execute_chunks
    monkeypatch.setattr(ex, "_execute_chunks", lambda *a, **kw: calls.append(a[3]) or real(*a, **kw))
    monkeypatch.setenv("TRAFFICSYS_MEMORY_BUDGET", "100000")
    chunked = ts.simulate(m, params={"k": k}, backend="numpy")
    assert calls == [ex.MIN_CHUNK]
    assert_same(whole, chunked, exact=True)


def test_saves_larger_than_memory_are_refused_saying_how_to_save_less():
    from trafficsys import limits
    from trafficsys.errors import LimitError

    m = _decay()
    with limits.override(memory=100_000), pytest.raises(LimitError) as e:
        ts.simulate(m, params={"k": np.linspace(0.1, 0.2, 5000)}, backend="numba")
    assert "variables=[...]" in str(e.value) and "saveper=" in str(e.value)


# ------------------------------------------------------------------ external test models
def _external_models() -> list[Path]:
    """The SDXorg test models the engine tests run: tests/data/test-models, or $TRAFFICSYS_TESTMODELS."""
    for base in (ROOT / "tests" / "data" / "test-models", Path(os.environ.get("TRAFFICSYS_TESTMODELS", "-"))):
        if base.is_dir():
            return sorted(p for p in base.rglob("*") if p.suffix in (".xmile", ".stmx"))
    return []


EXTERNAL = _external_models()


@pytest.mark.slow
@pytest.mark.skipif(not EXTERNAL, reason="SDXorg test models not available")
@pytest.mark.parametrize("path", EXTERNAL, ids=[p.parent.name + "/" + p.name for p in EXTERNAL])
def test_external_test_models_run_the_same_on_both_backends(path):
    try:
        m = ts.load(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = ts.simulate(m, backend="numpy")
    except ModelError as e:  # what the numpy path cannot run (a named unsupported feature) is not compared
        pytest.skip(f"{type(e).__name__}: {str(e)[:80]}")
    try:
        b = ts.simulate(m, backend="numba")
    except UnsupportedFeatureError as e:
        assert "pipeline DELAY" in str(e) or "arguments" in str(e)
        return
    assert_same(a, b, not transcendental(m))


def test_a_kernel_too_long_to_compile_quickly_is_left_to_numpy_unless_demanded(monkeypatch):
    """numba's compile time grows with the square of the kernel's length: auto and the environment's
    preference leave a long one to numpy; backend="numba" still compiles it."""
    monkeypatch.delenv("TRAFFICSYS_BACKEND", raising=False)
    m = _decay("k * x + 0.25")
    cm = compile_model(m)
    method = ts.engine.methods.get_method("euler")
    source, _ = kernel.cm_source(cm, method, None)
    lines = kernel.kernel_lines(source)
    assert 0 < lines < kernel.AUTO_KERNEL_LINES
    assert kernel.choose("auto", cm, method, None, 10_000) == "numba"
    monkeypatch.setattr(kernel, "AUTO_KERNEL_LINES", lines - 1)
    assert kernel.choose("auto", cm, method, None, 10_000) == "numpy"
    assert kernel.choose("numba", cm, method, None, 1) == "numba"
    monkeypatch.setenv("TRAFFICSYS_BACKEND", "numba")
    assert kernel.choose(None, cm, method, None, 10_000) == "numpy"
