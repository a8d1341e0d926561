"""Vensim-only functions read from .mdl files: each value below is computed by hand from Vensim's documented meaning."""

import numpy as np
import pytest
from mdl_text import mdl, run_mdl

import trafficsys as ts
from trafficsys.model.arrays import flatten

pytest.importorskip("pysd")


def run(tmp_path, body: str):
    return run_mdl(tmp_path, body, stop=5, dt=1)


def test_elmcount_is_the_number_of_elements(tmp_path):
    df = run(
        tmp_path,
        """dim: (e1-e7) ~~|
n = ELMCOUNT(dim) * 10 + Time ~~|
""",
    )
    assert df["n"].tolist() == [70, 71, 72, 73, 74, 75]


def test_quantum_truncates_to_a_multiple_and_passes_x_through_for_q_at_most_0(tmp_path):
    df = run(
        tmp_path,
        """q1 = QUANTUM(7.5 + Time, 2) ~~|
q2 = QUANTUM(-7.5, 2) ~~|
q3 = QUANTUM(7.5, -2) ~~|
q4 = QUANTUM(7.5, 0) ~~|
""",
    )
    assert df["q1"].tolist() == [6, 8, 8, 10, 10, 12]  # 7.5 8.5 9.5 10.5 11.5 12.5 down to even numbers
    assert (df["q2"] == -6).all() and (df["q3"] == 7.5).all() and (df["q4"] == 7.5).all()


def test_quantum_vector_mode_matches_scalar():
    from trafficsys.engine.codegen import _s_quantum, _v_quantum

    x = np.array([7.5, -7.5, 7.5, 7.5, -0.5])
    q = np.array([2.0, 2.0, -2.0, 0.0, 3.0])
    assert _v_quantum(x, q).tolist() == [_s_quantum(a, b) for a, b in zip(x, q)] == [6, -6, 7.5, 7.5, 0]


def test_na_is_vensims_number_and_compares_equal_to_itself(tmp_path):
    df = run(
        tmp_path,
        """x = IF THEN ELSE(Time > 2, :NA:, Time) ~~|
missing = IF THEN ELSE(x = :NA:, 1, 0) ~~|
""",
    )
    assert df["x"].tolist()[:3] == [0, 1, 2]
    assert (df["x"].iloc[3:] == -1.298074214633707e33).all()
    assert df["missing"].tolist() == [0, 0, 0, 1, 1, 1]


def test_prod_over_a_dimension_and_over_an_expression(tmp_path):
    df = run(
        tmp_path,
        """d: a, b, c ~~|
e: x, y ~~|
v[d] = 2, 3, 4 ~~|
m[d, e] = 1, 2; 3, 4; 5, 6; ~~|
p = PROD(v[d!]) ~~|
rows[d] = PROD(m[d, e!]) ~~|
shifted = PROD(v[d!] - 1) + Time ~~|
""",
    )
    assert (df["p"] == 24).all()
    assert [df[f"rows[{k}]"].iloc[0] for k in "abc"] == [2, 12, 30]
    assert df["shifted"].tolist() == [6, 7, 8, 9, 10, 11]


def test_sample_if_true_holds_its_value_until_the_condition_holds(tmp_path):
    df = run(
        tmp_path,
        """s = SAMPLE IF TRUE(Time >= 2 :AND: Time <= 3, Time * 10, 5) ~~|
at start = SAMPLE IF TRUE(Time = 0, Time + 7, 5) ~~|
""",
    )
    assert df["s"].tolist() == [5, 5, 20, 30, 30, 30]
    assert df["at_start"].tolist() == [7, 7, 7, 7, 7, 7]  # the condition holds at the first step


def test_active_initial_uses_the_initial_equation_only_for_initial_values(tmp_path):
    df = run(
        tmp_path,
        """Stock = INTEG(1, v) ~~|
v = ACTIVE INITIAL(Time + 100, 45) ~~|
""",
    )
    assert df["stock"].tolist() == [45, 46, 47, 48, 49, 50]
    assert df["v"].tolist() == [100, 101, 102, 103, 104, 105]


ARRAYS = """d: a, b, c ~~|
sub: a, b ~~|
x[d] = 1, 2, 3 ~~|
"""


def test_except_leaves_out_elements_defined_elsewhere(tmp_path):
    df = run(
        tmp_path,
        ARRAYS
        + """v[d] :EXCEPT: [b] = x[d] * 10 ~~|
v[b] = 5 ~~|
w[d] :EXCEPT: [sub] = d * 1000 ~~|
w[sub] = x[sub] + 100 + sub ~~|
""",
    )
    row = df.iloc[0]
    assert [row[f"v[{k}]"] for k in "abc"] == [10, 5, 30]
    # in w[sub] the subrange takes the element: x[a] + 100 + 1, x[b] + 100 + 2
    assert [row[f"w[{k}]"] for k in "abc"] == [102, 104, 3000]


def test_equations_over_subranges_merge_into_the_full_range(tmp_path):
    df = run(
        tmp_path,
        ARRAYS
        + """merged[sub] = x[sub] * 2 ~~|
merged[c] = 7 ~~|
""",
    )
    assert [df[f"merged[{k}]"].iloc[0] for k in "abc"] == [2, 4, 7]


def test_a_stock_with_an_integ_per_element(tmp_path):
    df = run(
        tmp_path,
        ARRAYS
        + """s[sub] = INTEG(x[sub], 10) ~~|
s[c] = INTEG(-1, 0) ~~|
""",
    )
    # dt = 1: s[a] = 10 + t, s[b] = 10 + 2 t, s[c] = -t
    assert df["s[a]"].tolist() == [10, 11, 12, 13, 14, 15]
    assert df["s[b]"].tolist() == [10, 12, 14, 16, 18, 20]
    assert df["s[c]"].tolist() == [0, -1, -2, -3, -4, -5]


def test_a_lookup_with_a_table_per_element(tmp_path):
    df = run(
        tmp_path,
        ARRAYS
        + """tab[a]( (0,0),(10,10) ) ~~|
tab[b]( (0,0),(10,20) ) ~~|
tab[c]( (0,5),(10,5) ) ~~|
y[d] = tab[d](Time) ~~|
""",
    )
    assert df["y[a]"].tolist() == [0, 1, 2, 3, 4, 5]
    assert df["y[b]"].tolist() == [0, 2, 4, 6, 8, 10]
    assert df["y[c]"].tolist() == [5] * 6


def test_a_lookup_called_with_other_subscripts_picks_that_table(tmp_path):
    df = run(
        tmp_path,
        ARRAYS
        + """tab[a]( (0,0),(10,10) ) ~~|
tab[b]( (0,0),(10,20) ) ~~|
tab[c]( (0,5),(10,5) ) ~~|
e: p, q, r ~~|
of b = tab[b](Time) ~~|
by position[e] = tab[e](Time) ~~|
""",
    )
    assert df["of_b"].tolist() == [0, 2, 4, 6, 8, 10]
    assert df["by_position[q]"].tolist() == [0, 2, 4, 6, 8, 10]  # e's 2nd element picks d's 2nd table


def write_sheet(folder, name="in.xlsx"):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "S"
    ws["B1"], ws["C1"] = 0, 10  # x values (lookups) and times (data)
    ws["B2"], ws["C2"] = 0, 100  # a lookup's y values
    ws["B3"], ws["C3"] = 1, 3  # a data series
    ws["B5"], ws["C5"], ws["D5"] = 7, 8, 9  # constants
    wb.save(folder / name)


def test_get_xls_constants_lookups_and_data_are_read_at_load_time(tmp_path):
    write_sheet(tmp_path)
    df = run(
        tmp_path,
        ARRAYS
        + """k = GET XLS CONSTANTS('in.xlsx', 'S', 'B5') ~~|
ks[d] = GET XLS CONSTANTS('in.xlsx', 'S', 'B5') ~~|
tab( GET XLS LOOKUPS('in.xlsx', 'S', '1', 'B2')) ~~|
looked up = tab(Time + 0.5) ~~|
series := GET XLS DATA('in.xlsx', 'S', '1', 'B3') ~~|
Total = INTEG(series, 0) ~~|
""",
    )
    assert (df["k"] == 7).all()
    assert [df[f"ks[{x}]"].iloc[0] for x in "abc"] == [7, 8, 9]
    assert df["looked_up"].tolist() == [5, 15, 25, 35, 45, 55]  # y = 10 x
    # the data interpolate between (0, 1) and (10, 3): 1 + t / 5; Euler sums them
    assert df["series"].tolist() == pytest.approx([1, 1.2, 1.4, 1.6, 1.8, 2.0])
    assert df["total"].tolist() == pytest.approx([0, 1, 2.2, 3.6, 5.2, 7.0])


def test_external_files_outside_the_models_folder_are_refused(tmp_path):
    (tmp_path / "model").mkdir()
    write_sheet(tmp_path)
    p = tmp_path / "model" / "m.mdl"
    p.write_text(mdl("k = GET XLS CONSTANTS('../in.xlsx', 'S', 'B5') ~~|\n", stop=5))
    with pytest.raises(
        ts.UnsupportedFeatureError, match="GET CONSTANTS of a file outside the model's folder"
    ):
        ts.load(p)


def test_get_xls_data_hold_backward_is_a_step_table(tmp_path):
    write_sheet(tmp_path)
    df = run(
        tmp_path,
        """series:HOLD BACKWARD::= GET XLS DATA('in.xlsx', 'S', '1', 'B3') ~~|
""",
    )
    assert df["series"].tolist() == [1, 1, 1, 1, 1, 1]  # 1 until the next point, at t = 10


def test_get_xls_data_look_forward_takes_the_next_point(tmp_path):
    write_sheet(tmp_path)
    df = run(
        tmp_path,
        """series:LOOK FORWARD::= GET XLS DATA('in.xlsx', 'S', '1', 'B3') ~~|
""",
    )
    assert df["series"].tolist() == [1, 3, 3, 3, 3, 3]  # 1 at t = 0, then the next point's 3 (at t = 10)


def test_get_time_value_of_the_simulation_time(tmp_path):
    df = run(
        tmp_path,
        """now = GET TIME VALUE(0, 2, 0) ~~|
since start = GET TIME VALUE(1, -1, 0) ~~|
""",
    )
    assert df["now"].tolist() == [2, 3, 4, 5, 6, 7]
    assert (df["since_start"] == -1).all()


def test_ranges_listed_inside_ranges_and_copied_ranges(tmp_path):
    df = run(
        tmp_path,
        """sub: s1, s2 ~~|
whole: a, sub, b ~~|
twin <-> sub ~~|
n whole = ELMCOUNT(whole) ~~|
v[whole] = whole ~~|
w[twin] = twin * 10 ~~|
""",
    )
    assert (df["n_whole"] == 4).all()
    assert [df[f"v[{k}]"].iloc[0] for k in ("a", "s1", "s2", "b")] == [1, 2, 3, 4]
    # a range's value numbers its elements in the main range holding them (whole): s1 is 2, s2 is 3
    assert [df[f"w[{k}]"].iloc[0] for k in ("s1", "s2")] == [20, 30]


def test_a_table_per_element_survives_toml_and_xmile(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(
        mdl(
            ARRAYS
            + """tab[a]( (0,0),(10,10) ) ~~|
tab[b]( (0,0),(10,20) ) ~~|
tab[c]( (0,5),(10,5) ) ~~|
y[d] = tab[d](Time) ~~|
""",
            stop=5,
        )
    )
    m = ts.load(p)
    assert any(getattr(e, "tables", ()) for e in m)
    want = ts.simulate(flatten(m)).to_pandas()
    for suffix in ("toml", "xmile"):
        out = tmp_path / f"copy.{suffix}"
        ts.save(m, out)
        back = ts.load(out)
        assert back == m, suffix
        got = ts.simulate(flatten(back)).to_pandas()
        assert got["y[b]"].tolist() == want["y[b]"].tolist() == [0, 2, 4, 6, 8, 10]


def test_subscript_mapping_pairs_elements_by_position(tmp_path):
    # src -> tgt: in an equation over tgt, src stands for the element at the same position (s2 for t2)
    df = run(
        tmp_path,
        """src: s1, s2, s3 -> tgt ~~|
tgt: t1, t2, t3 ~~|
d: x, y ~~|
v[src] = 1, 2, 3 ~~|
w[tgt] = v[src] * 10 + Time ~~|
grid[d, tgt] = v[src] + d ~~|
age: a0, a1, a2 ~~|
older: a1, a2 ~~|
younger: a0, a1 -> older ~~|
out[age] = 1, 2, 4 ~~|
people[a0] = INTEG(5 - out[a0], 100) ~~|
people[older] = INTEG(out[younger] - out[older], 100) ~~|
""",
    )
    assert [df[f"w[{k}]"].iloc[2] for k in ("t1", "t2", "t3")] == [12, 22, 32]
    assert df["grid[x,t2]"].iloc[0] == 3 and df["grid[y,t3]"].iloc[0] == 5
    # a0 gains 5 - 1; a1 gains out[a0] - out[a1] = -1; a2 gains out[a1] - out[a2] = -2 a month
    assert [df[f"people[{k}]"].iloc[-1] for k in ("a0", "a1", "a2")] == [120, 95, 90]


def test_subscript_mapping_with_an_element_list_pairs_the_listed_elements(tmp_path):
    # src: s1, s2 -> (tgt: t2, t1): s1 goes to t2 and s2 to t1, so w[t1] = v[s2] = 2 and w[t2] = v[s1] = 1
    df = run_mdl(
        tmp_path,
        """src: s1, s2 -> (tgt: t2, t1) ~~|
tgt: t1, t2 ~~|
v[src] = 1, 2 ~~|
w[tgt] = v[src] * 10 ~~|
""",
        stop=0,
    )
    row = df.iloc[0]
    assert (row["w[t1]"], row["w[t2]"]) == (20.0, 10.0)
