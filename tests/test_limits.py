"""Resource limits: every expansion bomb is refused before the expansion, naming the limit and its option.

Each test proves the refusal came first: the work the bomb would trigger is
replaced by a function that fails the test if it is ever called, or the
error reports the full size of an expansion that was only counted.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest
from support import REPO

import trafficsys as ts
from trafficsys import limits
from trafficsys.cli import main
from trafficsys.errors import LimitError
from trafficsys.io.xmile import read as xmile_read

XMILE = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><name>bomb</name></header>
<sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
{extra}
{models}
</xmile>
"""


def _never(*args, **kwargs):
    raise AssertionError("the expansion ran although the limit should have stopped it first")


def _names_limit(err: LimitError, name: str) -> None:
    assert err.limit == name
    text = str(err)
    assert f"ts.limits.override({name}=" in text and f"--limit {name}=" in text, text


# ------------------------------------------------------------------ the limits object
def test_one_set_of_limits_with_documented_defaults():

    doc = (REPO / "docs" / "limits.md").read_text()
    for f in dataclasses.fields(limits.Limits):
        assert f"`{f.name}`" in doc, f"docs/limits.md does not document {f.name}"
    assert limits.current() == limits.DEFAULTS


def test_override_is_scoped_and_set_is_process_wide():
    with limits.override(steps=5) as lim:
        assert lim.steps == 5 and limits.current().steps == 5
    assert limits.current().steps == limits.DEFAULTS.steps
    try:
        assert limits.set(runs=7).runs == 7 and limits.current().runs == 7
    finally:
        limits.reset()
    assert limits.current() == limits.DEFAULTS


@pytest.mark.parametrize("bad", [{"nope": 1}, {"steps": 0}, {"steps": float("nan")}, {"steps": "many"}])
def test_override_refuses_unknown_names_and_bad_values(bad):
    with pytest.raises(ts.ModelError):
        with limits.override(**bad):
            pass


def test_command_line_limit_option():
    assert limits.parse_assignment("memory=2G") == ("memory", 2 * 1024**3)
    assert limits.parse_assignment("steps=1e8") == ("steps", 100_000_000)
    for bad in ("steps", "nope=3", "steps=-1", "steps=x"):
        with pytest.raises(ValueError):
            limits.parse_assignment(bad)


def test_command_line_refusal_names_the_option(capsys):
    assert main(["run", "--limit", "steps=5"]) == 2
    err = capsys.readouterr().err
    assert "steps = 5" in err and "--limit steps=N" in err
    assert limits.current() == limits.DEFAULTS  # the option does not leak past the command


# ------------------------------------------------------------------ files
@pytest.mark.parametrize("suffix", [".toml", ".xmile", ".mdl"])
def test_one_file_size_limit_for_every_reader(tmp_path, suffix, monkeypatch):
    p = tmp_path / f"m{suffix}"
    p.write_bytes(b"x" * 2000)
    with monkeypatch.context() as mp, limits.override(file_size=1000), pytest.raises(LimitError) as info:
        mp.setattr("builtins.open", _never)  # refused from the size alone, before a byte is read
        ts.load(p)
    _names_limit(info.value, "file_size")
    assert info.value.file == str(p)


@pytest.mark.parametrize("reader", ["local data", "workshop"])
def test_the_other_files_we_read_go_through_the_same_guard(tmp_path, reader, monkeypatch, reference_model):
    from trafficsys.io.localdata import read_local_data
    from trafficsys.workshop.config import load_workshop

    p = tmp_path / "big.toml"
    p.write_bytes(b"x" * 2000)
    read = {"local data": read_local_data, "workshop": lambda path: load_workshop(path, reference_model)}[
        reader
    ]
    with monkeypatch.context() as mp, limits.override(file_size=1000), pytest.raises(LimitError) as info:
        mp.setattr("builtins.open", _never)
        read(p)
    _names_limit(info.value, "file_size")
    assert info.value.file == str(p)


def test_vensim_numeric_range_is_refused_before_it_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setattr(
        ts.Model, "dimension", _never
    )  # refused from the bounds, before any range is declared
    p = tmp_path / "range.mdl"
    p.write_text(
        "{UTF-8}\nsub: (a1-a10000000)\n~\n~|\nx[sub] = 1\n~\n~|\n"
        "INITIAL TIME = 0\n~\n~|\nFINAL TIME = 1\n~\n~|\nTIME STEP = 1\n~\n~|\n"
    )
    with pytest.raises(LimitError) as info:
        ts.load(p)
    _names_limit(info.value, "array_elements")
    assert info.value.value == 10_000_000 and "(a1-a10000000)" in str(info.value)


# ------------------------------------------------------------------ XMILE expansion
def _doubling_macro_model(depth: int) -> str:
    call = "a"
    for _ in range(depth):
        call = f"dbl({call})"
    macro = '<macro name="dbl"><parm>x</parm><eqn>x + x</eqn></macro>'
    models = (
        f'<model><variables><aux name="a"><eqn>1</eqn></aux>'
        f'<aux name="b"><eqn>{call}</eqn></aux></variables></model>'
    )
    return XMILE.format(extra=macro, models=models)


def test_macro_doubled_forty_deep_is_counted_not_expanded(tmp_path, monkeypatch):
    p = tmp_path / "macro.xmile"
    p.write_text(_doubling_macro_model(40))
    assert p.stat().st_size < 800
    monkeypatch.setattr(xmile_read, "to_xmile", _never)  # printing the expanded equation is the 90 s part
    with pytest.raises(LimitError) as info:
        ts.load(p)
    _names_limit(info.value, "expression_nodes")
    assert info.value.value == 2**41 - 1  # every node counted, none printed
    assert info.value.variable == "b"


def test_macro_within_the_limit_still_expands(tmp_path):
    p = tmp_path / "macro.xmile"
    p.write_text(_doubling_macro_model(4))
    r = ts.simulate(ts.load(p))
    assert float(np.ravel(r["b"].values)[-1]) == 16.0


def _module_fan_out(width: int, depth: int) -> str:
    models = []
    for level in range(depth):
        mods = "".join(f'<module name="m{i}" model_name="level{level + 1}"/>' for i in range(width))
        name = f' name="level{level}"' if level else ""
        models.append(f'<model{name}><variables>{mods}<aux name="x"><eqn>1</eqn></aux></variables></model>')
    models.append(
        f'<model name="level{depth}"><variables><aux name="x"><eqn>1</eqn></aux></variables></model>'
    )
    return XMILE.format(extra="", models="\n".join(models))


def test_modules_fanning_out_are_counted_before_any_is_expanded(tmp_path, monkeypatch):
    p = tmp_path / "modules.xmile"
    p.write_text(_module_fan_out(10, 7))
    assert p.stat().st_size < 4000
    monkeypatch.setattr(xmile_read._Reader, "_model_into", _never)
    with pytest.raises(LimitError) as info:
        ts.load(p)
    _names_limit(info.value, "module_instances")
    assert info.value.value == sum(10**k for k in range(1, 8))


def test_modules_within_the_limits_expand(tmp_path):
    p = tmp_path / "modules.xmile"
    p.write_text(_module_fan_out(2, 2))
    assert len(ts.load(p)) == 1 + 2 + 4


def test_module_variables_count_against_the_variables_limit(tmp_path, monkeypatch):
    p = tmp_path / "modules.xmile"
    p.write_text(_module_fan_out(3, 2))
    monkeypatch.setattr(xmile_read._Reader, "_model_into", _never)
    with limits.override(variables=12), pytest.raises(LimitError) as info:
        ts.load(p)
    _names_limit(info.value, "variables")
    assert info.value.value == 1 + 3 + 9


# ------------------------------------------------------------------ arrays
def test_a_billion_element_dimension_is_refused_before_its_names_exist():
    m = ts.Model("m")
    with pytest.raises(LimitError) as info:
        m.dimension("people", 10**9)  # building its names would take minutes and tens of GB
    _names_limit(info.value, "array_elements")
    assert not m.dimensions


def test_a_billion_element_dimension_in_xmile(tmp_path):
    p = tmp_path / "dim.xmile"
    p.write_text(
        XMILE.format(
            extra='<dimensions><dim name="d" size="1e9"/></dimensions>', models="<model><variables/></model>"
        )
    )
    with pytest.raises(LimitError) as info:
        ts.load(p)
    _names_limit(info.value, "array_elements")


def test_thousand_cubed_array_is_refused_by_validate_and_flatten(monkeypatch):
    from trafficsys.model import arrays
    from trafficsys.model.elements import Aux

    m = ts.Model("m")
    for d in ("a", "b", "c"):
        m.dimension(d, 1000)
    m.add(Aux("x", "1", dimensions=("a", "b", "c")))
    monkeypatch.setattr(arrays._Flattener, "run", _never)
    for step in (m.validate, lambda: arrays.flatten(m), lambda: ts.simulate(m)):
        with pytest.raises(LimitError) as info:
            step()
        _names_limit(info.value, "array_elements")
        assert info.value.variable == "x" and info.value.value == 10**9


def test_expanded_arrays_count_against_the_variables_limit():
    from trafficsys.model.elements import Aux

    m = ts.Model("m")
    m.dimension("a", 100)
    m.add(Aux("x", "1", dimensions=("a",)))
    m.add(Aux("y", "x[a]", dimensions=("a",)))
    with limits.override(variables=150), pytest.raises(LimitError) as info:
        m.validate()
    _names_limit(info.value, "variables")
    assert info.value.value == 200


def test_variables_and_lookup_points_are_checked_as_they_are_added():
    m = ts.Model("m")
    with limits.override(variables=2):
        m.constant("a", 1)
        m.constant("b", 2)
        with pytest.raises(LimitError) as info:
            m.constant("c", 3)
        _names_limit(info.value, "variables")
    with limits.override(lookup_points=3), pytest.raises(LimitError) as info:
        m.lookup("t", [(0, 0), (1, 1), (2, 2), (3, 3)])
    _names_limit(info.value, "lookup_points")
    assert info.value.variable == "t"


# ------------------------------------------------------------------ engine
@pytest.mark.parametrize("fn", ["DELAYN(x, 5, {n})", "SMTHN(x, 5, {n})"])
@pytest.mark.parametrize("order", [10**5, 10**9])
def test_delay_orders_are_refused_before_any_hidden_stock_is_built(fn, order, monkeypatch):
    from trafficsys.engine import lower

    m = ts.Model("d", stop=2, dt=1)
    m.constant("x", 1)
    m.aux("y", fn.format(n=order))
    monkeypatch.setattr(lower, "_order", _never)  # evaluation orders come after the delay chains
    with pytest.raises(LimitError) as info:
        ts.simulate(m)
    _names_limit(info.value, "delay_order")
    assert info.value.variable == "y" and info.value.value == order


def test_delay_order_within_the_limit_runs():
    m = ts.Model("d", stop=2, dt=0.25)
    m.constant("x", 1)
    m.aux("y", "DELAYN(x, 50, 50)")
    assert np.allclose(ts.simulate(m)["y"].values, 1.0)


def _long_run(stop: float) -> ts.Model:
    m = ts.Model("long", stop=stop, dt=1)
    m.constant("x", 1)
    m.stock("s", initial=0, inflows=["f"])
    m.flow("f", "x")
    return m


def test_fifty_million_steps_are_refused_before_the_run(monkeypatch):
    sim = importlib.import_module("trafficsys.engine.run")

    monkeypatch.setattr(sim, "prepare", _never)
    with pytest.raises(LimitError) as info:
        ts.simulate(_long_run(5e7))
    _names_limit(info.value, "steps")


def test_single_run_memory_is_checked_against_available_memory(monkeypatch):
    sim = importlib.import_module("trafficsys.engine.execute")

    monkeypatch.setattr(limits, "available_memory", lambda: 10_000_000)  # 10 MB free
    with (
        monkeypatch.context() as mp,
        pytest.raises(LimitError, match="more than the memory available now") as info,
    ):
        mp.setattr(sim, "_unpack", _never)
        ts.simulate(_long_run(1e6), backend="numpy")  # one run's saves as bytes and objects first
    _names_limit(info.value, "memory")
    ts.simulate(_long_run(100))  # small runs still fit
    with limits.override(memory=10**12):
        assert limits.current().memory == 10**12


def test_runs_are_refused_before_sampling(monkeypatch):
    from trafficsys.engine import montecarlo

    m = _long_run(2)
    m.add(dataclasses.replace(m["x"], range=(0.0, 2.0)), replace=True)
    monkeypatch.setattr(montecarlo, "sample_constants", _never)
    with pytest.raises(LimitError) as info:
        ts.monte_carlo(m, n=10**8, seed=1)
    _names_limit(info.value, "runs")
    with limits.override(runs=3), pytest.raises(LimitError):
        ts.simulate(m, params={"x": np.ones(4)})


def test_raised_limits_travel_with_ensemble_chunks_to_an_executor(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    m = _long_run(50)
    m.add(dataclasses.replace(m["x"], range=(0.0, 2.0)), replace=True)
    monkeypatch.setattr(limits, "available_memory", lambda: 100)  # a machine with 100 bytes free
    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(LimitError):
            ts.monte_carlo(m, n=4, seed=1, executor=pool, chunk_size=2)
        with limits.override(memory=10**9):  # worker threads check each chunk under the caller's limits
            r = ts.monte_carlo(m, n=4, seed=1, executor=pool, chunk_size=2)
    assert r.ds.sizes["run"] == 4
