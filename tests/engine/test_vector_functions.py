"""Vensim's vector functions and ALLOCATE BY PRIORITY over flattened arrays.

Values are computed by hand in the small cases; ALLOCATE BY PRIORITY is also
checked against Vensim's own output for the SDXorg test model
``tests/allocate_by_priority`` (the model is written here with our API, since
reading ``.mdl`` files is another module's job).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trafficsys as ts
from trafficsys.model.elements import Aux

DATA = Path(__file__).resolve().parents[1] / "data" / "test-models" / "tests"


def _arr(m: ts.Model, name: str, dims: tuple[str, ...], values=None, equation=None) -> None:
    """An arrayed auxiliary: per-element numbers in row-major order, or one equation for all."""
    if equation is not None:
        m.add(Aux(name, dimensions=dims, equation=equation))
        return
    import itertools

    combos = list(itertools.product(*(m.dimensions[d] for d in dims)))
    m.add(
        Aux(name, dimensions=dims, per_element=tuple((",".join(c), str(v)) for c, v in zip(combos, values)))
    )


def _finish(m: ts.Model) -> ts.Model:
    m.stock("st", 0, inflows=["fl"])
    m.flow("fl", "0")
    return m


def small() -> ts.Model:
    m = ts.Model("vectors", start=0, stop=1, dt=1)
    m.dimension("d", ["a", "b", "c"])
    m.dimension("s", ["s1", "s2", "s3"])
    _arr(m, "x", ("d",), [3, 1, 2])
    _arr(m, "order", ("d",), equation="VECTOR_SORT_ORDER(x[d], 1)")
    _arr(m, "down", ("s",), equation="VECTOR_SORT_ORDER(x[d], 0)")  # over another dimension of that size
    _arr(m, "rank", ("d",), equation="VECTOR_RANK(x[d], 1)")
    _arr(m, "rank_down", ("d",), equation="VECTOR_RANK(x[d], 0)")
    _arr(m, "sorted", ("d",), equation="VECTOR_REORDER(x[d], order[d])")
    _arr(m, "from_a", ("d",), equation="VECTOR_ELM_MAP(x[a], order[d])")
    _arr(m, "sel", ("d",), [0, 1, 1])
    m.aux("sum_sel", "VECTOR_SELECT(sel[d], x[d], -1, 0, 0)")
    m.aux("max_sel", "VECTOR_SELECT(sel[d], x[d], -1, 9, 0)")
    m.aux("none_sel", "VECTOR_SELECT(sel[d] * 0, x[d], -1, 0, 0)")
    _arr(m, "req", ("d",), [10, 6, 3])
    _arr(m, "pri", ("d",), [2, 4, 3])
    _arr(m, "alloc", ("d",), equation="ALLOCATE_BY_PRIORITY(req[d], pri[d], 3, 3, TIME + 7)")
    return _finish(m)


def _at(r: ts.Results, name: str) -> list[float]:
    return [float(r.ds[f"{name}[{e}]"].values[0, 0]) for e in ("a", "b", "c")]


def test_sort_order_rank_reorder_and_elm_map_by_hand():
    r = ts.simulate(small())
    # x = (3, 1, 2): ascending, the smallest is element 1 (b), then 2 (c), then 0 (a)
    assert _at(r, "order") == [1.0, 2.0, 0.0]
    assert [float(r.ds[f"down[{e}]"].values[0, 0]) for e in ("s1", "s2", "s3")] == [0.0, 2.0, 1.0]
    assert _at(r, "rank") == [3.0, 1.0, 2.0]
    assert _at(r, "rank_down") == [1.0, 3.0, 2.0]
    assert _at(r, "sorted") == [1.0, 2.0, 3.0]
    assert _at(r, "from_a") == [1.0, 2.0, 3.0]  # x[a + order]: the sorted vector again


def test_vector_select_by_hand():
    r = ts.simulate(small())
    assert float(r.ds["sum_sel"].values[0, 0]) == 1 * 1 + 1 * 2  # action 0: sum of selection * expression
    assert float(r.ds["max_sel"].values[0, 0]) == 2.0  # action 9: largest selected expression
    assert float(r.ds["none_sel"].values[0, 0]) == -1.0  # nothing selected: the missing value


def test_allocate_by_priority_by_hand():
    r = ts.simulate(small())
    # supply 7; priorities 2, 4, 3 spread over width 3: [0.5, 3.5], [2.5, 5.5], [1.5, 4.5].  At the level
    # x where 10 (3.5 - x)/3 + 6 (5.5 - x)/3 + 3 (4.5 - x)/3 = 7, x = 60.5 / 19
    x = 60.5 / 19
    want = [10 * (3.5 - x) / 3, 6 * (5.5 - x) / 3, 3 * (4.5 - x) / 3]
    np.testing.assert_allclose(_at(r, "alloc"), want, rtol=1e-14)
    assert sum(_at(r, "alloc")) == pytest.approx(7.0, rel=1e-14)
    # t = 1: supply 8
    got = [float(r.ds[f"alloc[{e}]"].values[1, 0]) for e in ("a", "b", "c")]
    assert sum(got) == pytest.approx(8.0, rel=1e-14)


def test_vector_functions_agree_on_every_path():
    m = small()
    m.constant("k", 1.0)
    m.aux("y", "k")
    one = ts.simulate(m, backend="numpy")  # (the kernel, once loaded, agrees to 1e-12, below)
    many = ts.simulate(m, params={"k": [1.0, 2.0]}, backend="numpy")
    for v in one.ds.data_vars:
        assert np.array_equal(one.ds[v].values[..., 0], many.ds[v].values[..., 0]), v
    pytest.importorskip("numba")
    kern = ts.simulate(m, params={"k": [1.0, 2.0]}, backend="numba")
    for v in one.ds.data_vars:
        np.testing.assert_allclose(kern.ds[v].values, many.ds[v].values, rtol=1e-12, err_msg=v)


def test_an_elm_map_outside_the_vector_stops_the_run_naming_the_element():
    m = small()
    _arr(m, "beyond", ("d",), equation="VECTOR_ELM_MAP(x[d], 1)")
    with pytest.raises(ts.SimulationError, match=r"beyond\[c\]"):
        ts.simulate(m)


def test_invert_matrix_by_hand():
    m = ts.Model("inverse", start=0, stop=1, dt=1)
    m.dimension("i", ["r1", "r2"])
    m.dimension("j", ["c1", "c2"])
    _arr(m, "a", ("i", "j"), [2, 1, 1, 3])
    _arr(m, "b", ("i", "j"), equation="INVERT_MATRIX(a[i, j], 2)")
    _arr(m, "singular", ("i", "j"), [1, 2, 2, 4])
    r = ts.simulate(_finish(m))
    # [[2, 1], [1, 3]]^-1 = [[3, -1], [-1, 2]] / 5
    got = [float(r.ds[f"b[{e}]"].values[0, 0]) for e in ("r1,c1", "r1,c2", "r2,c1", "r2,c2")]
    np.testing.assert_allclose(got, [0.6, -0.2, -0.2, 0.4], rtol=1e-15)
    _arr(m, "nope", ("i", "j"), equation="INVERT_MATRIX(singular[i, j], 2)")
    with pytest.raises(ts.SimulationError, match="nope"):
        ts.simulate(m)


def allocate_model() -> ts.Model:
    """The SDXorg test model tests/allocate_by_priority, equation by equation."""
    m = ts.Model("allocate_by_priority", start=0, stop=35, dt=0.25)
    m.dimension("dim", ["A", "B", "C"])
    m.dimension("dim2", ["A", "B", "C", "D", "E"])
    m.dimension("dim3", ["X", "Y"])
    m.dimension("dim4", ["G", "H", "I"])
    m.aux("supply 0D", "TIME")
    _arr(m, "demands1", ("dim",), [10, 6, 3])
    _arr(m, "priorities1", ("dim",), [2, 4, 3])
    _arr(
        m,
        "allocation1",
        ("dim",),
        equation="ALLOCATE_BY_PRIORITY(demands1[dim], priorities1[dim], 3, 3, supply_0D)",
    )
    _arr(m, "demands2", ("dim2",), [8, 1, 3, 4, 0])
    _arr(m, "priorities2", ("dim2",), [5, 3, 0, 1.5, 4])
    _arr(
        m,
        "allocation2",
        ("dim2",),
        equation="ALLOCATE_BY_PRIORITY(demands2[dim2], priorities2[dim2], 5, 3, supply_0D)",
    )
    _arr(m, "demands2D", ("dim", "dim2"), [6, 3, 3, 3, 1, 8, 1, 3, 4, 0, 0.6, 0, 3, 3, 1])
    _arr(m, "priorities2D", ("dim", "dim2"), [1, 10, 2, 1, 0, 5, 3, 0, 1.5, 4, 7, -2, 3, 4, 0.5])
    _arr(m, "widths", ("dim",), [2, 3, 3])
    m.add(
        Aux(
            "supply 1D",
            dimensions=("dim",),
            per_element=(("A", "TIME"), ("B", "10 + TIME"), ("C", "TIME / 2 + 1")),
        )
    )
    _arr(
        m,
        "allocation2D",
        ("dim", "dim2"),
        equation="ALLOCATE_BY_PRIORITY(demands2D[dim, dim2], "
        "priorities2D[dim, dim2], 5, widths[dim], supply_1D[dim])",
    )
    _arr(m, "demands3", ("dim",), [10, 20, 5])
    _arr(m, "priorities3", ("dim2", "dim"), [1, 10, 2, 5, 3, 0, 7, 1, 3, 1, 2, 3, 0.1, 0.3, 0.8])
    _arr(m, "width3", ("dim2",), [1, 2, 0.5, 3, 10])
    m.add(Aux("supply3", dimensions=("dim3",), per_element=(("X", "TIME"), ("Y", "2 * TIME + 1"))))
    _arr(
        m,
        "allocation3D",
        ("dim3", "dim2", "dim"),
        equation="ALLOCATE_BY_PRIORITY(demands3[dim], "
        "priorities3[dim2, dim], 3, width3[dim2], supply3[dim3])",
    )
    _arr(m, "demands4", ("dim3", "dim2"), [10, 4, 6, 5, 4, 8, 5, 6, 4, 7])
    _arr(m, "priorities4", ("dim", "dim2"), [1, 10, 2, 1, 8, 1.5, 3, 0, 1.5, 4, 7, 1, 3, 4, 0.5])
    _arr(m, "width4", ("dim4",), [5, 3.5, 4])
    m.add(Aux("supply4", dimensions=("dim3",), per_element=(("X", "TIME"), ("Y", "3 * TIME"))))
    _arr(
        m,
        "allocation4d",
        ("dim", "dim3", "dim4", "dim2"),
        equation="ALLOCATE_BY_PRIORITY(demands4[dim3, dim2], "
        "priorities4[dim, dim2], 5, width4[dim4], supply4[dim3])",
    )
    return _finish(m)


def test_allocate_by_priority_matches_vensims_output():
    folder = DATA / "allocate_by_priority"
    canon = pd.read_csv(folder / "output.tab", sep="\t", index_col=0)
    r = ts.simulate(allocate_model())
    ours = r.to_pandas()
    cols = [c for c in canon.columns if c.lower().startswith("allocation")]
    assert len(cols) == 3 + 5 + 15 + 30 + 90
    worst = 0.0
    for c in cols:
        name = ts.model.names.canonical(c.split("[")[0]) + "[" + c.split("[")[1].lower().replace(" ", "")
        want = canon[c].to_numpy(dtype=float)
        got = ours[name].reindex(canon.index.astype(float)).to_numpy()
        err = np.abs(got - want) / np.maximum(np.abs(want), 1e-2)
        worst = max(worst, float(err.max()))
    print(f"ALLOCATE BY PRIORITY: worst relative error {worst:.1e} over {len(cols)} columns")
    assert worst < 1e-4, worst


@pytest.mark.parametrize(
    "x, mode, expected",
    [
        (1.5, 0, 3.0),  # the vector (0, 2, 4, 2) at x = 0, 1, 2, 3: interpolated
        (5.0, 0, 2.0),  # held beyond the points
        (2.0, 1, 4.0),  # area from xmin: 1 + 3
        (1.5, 2, 2.0),  # backward
        (4.0, 3, 0.0),  # extrapolated: 2 - 2 * 1
        (1.5, 4, 4.0),  # forward
        (3.0, 5, 1.5),  # invert: the first x where the table is 3
        (2.5, 6, -2.0),  # slope
        (5.0, 6, 0.0),  # no slope beyond the points...
        (5.0, 9, -2.0),  # ...unless extrapolated
        (4.0, 7, 8.0),  # area to 4 with the last segment extended: 7 + (2 + 0) / 2
        (-2.0, 8, -1.0),  # invert beyond the values, along the first segment
    ],
)
def test_vector_lookup_by_hand(x, mode, expected):
    m = ts.Model("vector_lookup", start=0, stop=0, dt=1)
    m.dimension("d", ["p0", "p1", "p2", "p3"])
    _arr(m, "vec", ("d",), [0, 2, 4, 2])
    m.constant("x", x)
    m.aux("y", f"VECTOR_LOOKUP(vec[p0], x, 0, 3, {mode})")
    r = ts.simulate(_finish(m))
    assert float(r.ds["y"].values[0, 0]) == pytest.approx(expected, rel=1e-14, abs=1e-14)
    many = ts.simulate(m, params={"x": [x, x + 0.5]}, backend="auto")  # no kernel: numpy, the same numbers
    assert float(many.ds["y"].values[0, 0]) == float(r.ds["y"].values[0, 0])
