"""Our own Vensim reader: the .mdl language, macros, causal sketches; results computed by hand."""

import subprocess
import sys
import textwrap

import pytest
from mdl_text import mdl, run_mdl

import trafficsys as ts
from trafficsys.io.vensim.grammar import Table, parse_definition


def test_loading_an_mdl_imports_no_pysd(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(mdl("s = INTEG(f, 1) ~~|\nf = 0.5 * s ~~|\ntab((0,0),(1,1)) ~~|\ny = tab(Time) ~~|\n"))
    code = textwrap.dedent(f"""
        import sys
        import trafficsys as ts
        m = ts.load({str(p)!r})
        ts.simulate(m)
        loaded = sorted(k for k in sys.modules if k == "pysd" or k.startswith("pysd."))
        print(loaded)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_a_macro_with_a_stock_gives_each_call_its_own_state(tmp_path):
    # ACCUM integrates input - k * ACCUM from 0.  Euler with DT = 1:
    #   a = ACCUM(1, 0):   0, 1, 2, 3, 4          (a(t) = t)
    #   b = ACCUM(2, 0.5): 0, 2, 3, 3.5, 3.75     (b' = 0.5 b + 2)
    #   c = 10 + ACCUM(1, 0) + ACCUM(1, 0): 10 + 2t (two calls in one equation, two stocks)
    df = run_mdl(
        tmp_path,
        """:MACRO: ACCUM(input, k)
ACCUM = INTEG(input - k * ACCUM, 0)
	~	widget
	~	a stock inside a macro
	|

:END OF MACRO:
a = ACCUM(1, 0) ~~|
b = ACCUM(2, 0.5) ~~|
c = 10 + ACCUM(1, 0) + ACCUM(1, 0) ~~|
""",
        stop=4,
    )
    assert list(df["a"]) == [0, 1, 2, 3, 4]
    assert list(df["b"]) == [0, 2, 3, 3.5, 3.75]
    assert list(df["c"]) == [10, 12, 14, 16, 18]


def test_macros_calling_macros_and_with_their_own_variables(tmp_path):
    df = run_mdl(
        tmp_path,
        """:MACRO: TWICE(x)
TWICE = x * two ~~|
two = 2 ~~|
:END OF MACRO:
:MACRO: QUAD(x)
QUAD = TWICE(TWICE(x)) ~~|
:END OF MACRO:
y = QUAD(Time + 1) ~~|
""",
        stop=2,
    )
    assert list(df["y"]) == [4, 8, 12]


SKETCH = r"""{UTF-8}
births = A FUNCTION OF(population, fertility)
	~	person/year
	~	children born
	|
population = A FUNCTION OF(births, deaths) ~~|
deaths = A FUNCTION OF(population) ~~|
fertility = A FUNCTION OF( ) ~~|
\\\---/// Sketch information - do not modify anything except names
V300  Do not put anything below this section - it will be ignored
*View 1
$192-192-192,0,Times New Roman|12||0-0-0|0-0-0|0-0-255|-1--1--1|-1--1--1|96,96,100,0
10,1,population,300,200,40,20,3,3,0,0,0,0,0,0
10,2,births,150,200,40,20,8,3,0,0,0,0,0,0
10,3,deaths,450,200,40,20,8,3,0,0,0,0,0,0
10,4,fertility,150,300,40,20,8,3,0,0,0,0,0,0
1,5,1,2,0,0,43,0,0,64,0,-1--1--1,,1|(0,0)|
1,6,2,1,0,0,43,0,0,64,0,-1--1--1,,1|(0,0)|
1,7,1,3,0,0,43,0,0,64,0,-1--1--1,,1|(0,0)|
1,8,3,1,0,0,45,0,0,64,0,-1--1--1,,1|(0,0)|
1,9,4,2,0,0,0,0,0,64,0,-1--1--1,,1|(0,0)|
///---\\\
"""


def test_a_causal_sketch_of_a_function_of_variables_is_a_causal_loop_diagram(tmp_path):
    p = tmp_path / "sketch.mdl"
    p.write_text(SKETCH)
    cld = ts.io.read_vensim_cld(p)
    assert cld.polarity("population", "births") == "+" and cld.polarity("births", "population") == "+"
    assert cld.polarity("population", "deaths") == "+" and cld.polarity("deaths", "population") == "-"
    assert cld.polarity("fertility", "births") == "?"  # the arrow carries no mark
    loops = {frozenset(lp.variables): lp.polarity for lp in cld.loops()}
    assert loops == {frozenset({"population", "births"}): "R", frozenset({"population", "deaths"}): "B"}
    m = ts.load(p)
    assert len(m) == 0 and len(m.links) == 5 and m.cld().polarity("deaths", "population") == "-"
    assert m.cld_variables["births"]["doc"] == "children born"
    assert m.metadata["xmile_views"]["deaths"]["x"] == 450


def test_comments_in_braces_continuations_and_vensim_spellings(tmp_path):
    df = run_mdl(
        tmp_path,
        r"""a = 2 {a comment with | ~ "quotes" and ( brackets} * 3 ~~|
"long \
name" = 1e+06 + .5 ~~|
b = IF THEN ELSE(a <> 6 :OR: :NOT: (a = 6 :AND: a > 1), 1, 0) ~~|
c = :NA: ~~|
d = -2^2 + 2^-1 ~~|
""",
        stop=0,
    )
    row = df.iloc[0]
    assert row["a"] == 6 and row["long_name"] == 1_000_000.5 and row["b"] == 0 and row["d"] == -3.5
    assert row["c"] == -(2.0**110)


def test_every_subscript_form(tmp_path):
    df = run_mdl(
        tmp_path,
        """big: (c1-c4) ~~|
small: c2, c3 ~~|
copy <-> big ~~|
src: s1, s2 -> (tgt: t2, t1), plain ~~|
tgt: t1, t2 ~~|
plain: p1, p2 ~~|
tab[big] = TABBED ARRAY(
	1	2	3	4) ~~|
v[big] :EXCEPT: [c1] = tab[big] * 10 ~~|
v[c1] = -1 ~~|
w[small] = tab[small] + 100 ~~|
w[c1] = 0 ~~|
w[c4] = 4 ~~|
cp[copy] = tab[copy] ~~|
s[src] = 1, 2 ~~|
mapped[tgt] = s[src] ~~|
direct[plain] = s[src] ~~|
total = SUM(tab[big!]) + ELMCOUNT(big) ~~|
""",
        stop=0,
    )
    row = df.iloc[0]
    assert [row[f"v[c{i}]"] for i in range(1, 5)] == [-1, 20, 30, 40]
    assert [row[f"w[c{i}]"] for i in range(1, 5)] == [0, 102, 103, 4]
    assert [row[f"cp[c{i}]"] for i in range(1, 5)] == [1, 2, 3, 4]
    assert (row["mapped[t1]"], row["mapped[t2]"]) == (2, 1)  # s1 -> t2, s2 -> t1
    assert (row["direct[p1]"], row["direct[p2]"]) == (1, 2)  # by position
    assert row["total"] == 10 + 4


def test_groups_become_sectors_and_the_sketch_places_variables(tmp_path):
    text = mdl("""********************************************************
	.Demography
********************************************************~
		People and their births.
	|
pop = INTEG(births, 10) ~ person ~ |
births = 0.1 * pop ~ person/Month ~ |
""").replace("FINAL TIME", "****\n\t.Control\n****~\n\t|\nFINAL TIME", 1)
    p = tmp_path / "g.mdl"
    p.write_text(text)
    m = ts.load(p)
    assert m.sectors["Demography"].variables == ("pop", "births")
    assert m.sector_of("final_time") is None


def test_lookup_forms_read_numbers_only():
    assert parse_definition("t([(0,0)-(2,2)],(0,0),(2,1))").value == Table((0.0, 2.0), (0.0, 1.0))
    assert parse_definition("t((0,1,2),(5,6,7))").value == Table((0.0, 1.0, 2.0), (5.0, 6.0, 7.0))
    assert parse_definition("t(0, 1, 5, 6)").value == Table((0.0, 1.0), (5.0, 6.0))
    assert parse_definition("t((2,1),(0,3))").value == Table((0.0, 2.0), (3.0, 1.0))  # sorted by x
    for bad in ("t([(open('x'),0)-(1,1)],(0,0))", "t((0,0),(1,x))", "t([(0,0)-(1,1)],(0,0),(1,1+1))"):
        with pytest.raises(ts.ParseError):
            parse_definition(bad)


def test_a_cut_off_macro_block_is_refused(tmp_path):
    p = tmp_path / "cut.mdl"
    p.write_text("{UTF-8}\n:MACRO: M(x)\nM = x * 2 ~~|\n:END OF MACRO:\ny = M(3")
    with pytest.raises(ts.FileFormatError, match="cut off"):
        ts.load(p)


def test_an_unknown_function_and_a_wrong_argument_count_are_listed_together(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(
        mdl("a = NO SUCH FUNCTION(1) ~~|\nb = SMOOTH(1, 2, 3, 4) ~~|\nc = NO SUCH FUNCTION(a) ~~|\n")
    )
    with pytest.raises(ts.UnsupportedFeatureError) as info:
        ts.load(p)
    msg = str(info.value)
    assert "NO SUCH FUNCTION used by a, c" in msg and "SMOOTH with 4 arguments used by b" in msg


def test_test_inputs_constraints_and_flags_are_read_and_left_out(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(
        mdl("""x = 3
	~	person [0, 10, 1]
	~	the documentation
	~	:SUPPLEMENTARY
	|
x :TEST INPUT: 5 ~~|
never negative :THE CONDITION: x >= 0 :IMPLIES: x < 100 ~~|
""")
    )
    m = ts.load(p)
    assert m["x"].value == 3 and m["x"].units == "person" and m["x"].doc == "the documentation"
    assert "never_negative" not in m


def test_a_function_of_beside_equations_is_named_unsupported(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(mdl("x = 3 ~~|\ny = A FUNCTION OF(x) ~~|\n"))
    with pytest.raises(ts.UnsupportedFeatureError, match="A FUNCTION OF .* used by y"):
        ts.load(p)


def test_data_keywords_read_between_the_data_times(tmp_path):
    # SDXorg vector_order's spreadsheet: revenue_A for company 1 is 140 at time 0 and 4019 at time 1
    pytest.importorskip("pysd")  # its spreadsheet readers
    import shutil

    from support import TEST_MODELS

    shutil.copy(TEST_MODELS / "tests/vector_order/input.xlsx", tmp_path / "input.xlsx")
    get = "GET DIRECT DATA('input.xlsx', 'Sheet1', 'time_index', 'revenue_A') ~~|\n"
    df = run_mdl(
        tmp_path,
        "company: c1, c2, c3, c4, c5 ~~|\n"
        + "".join(
            f"{k}[company] {kw}:= {get}"
            for k, kw in [
                ("interp", ""),
                ("held", ":HOLD BACKWARD:"),
                ("ahead", ":LOOK FORWARD:"),
                ("raw", ":RAW:"),
            ]
        ),
        stop=1,
        dt=0.5,
    )
    assert list(df["interp[c1]"]) == [140, (140 + 4019) / 2, 4019]
    assert list(df["held[c1]"]) == [140, 140, 4019]
    assert list(df["ahead[c1]"]) == [140, 4019, 4019]
    assert list(df["raw[c1]"]) == [140, -(2.0**110), 4019]  # :NA: between the data times


def test_a_macro_with_an_extra_output(tmp_path):
    # SPLIT(x : rest): the result is the integer part of x, the output "rest" what is left
    df = run_mdl(
        tmp_path,
        """:MACRO: SPLIT(x : rest)
SPLIT = INTEGER(x) ~~|
rest = x - SPLIT ~~|
:END OF MACRO:
whole = SPLIT(Time * 1.5 : left over) ~~|
""",
        stop=2,
    )
    assert list(df["whole"]) == [0, 1, 3]
    assert list(df["left_over"]) == [0, 0.5, 0]


def test_lookups_read_forward_backward_and_extrapolated(tmp_path):
    # tab: (0, 0), (2, 10), (4, 0), read at t = 1, 2, 3, 5 and 6
    df = run_mdl(
        tmp_path,
        """tab((0,0),(2,10),(4,0)) ~~|
plain = tab(Time) ~~|
ext = LOOKUP EXTRAPOLATE(tab, Time) ~~|
back = LOOKUP BACKWARD(tab, Time) ~~|
fwd = LOOKUP FORWARD(tab, Time) ~~|
""",
        stop=6,
    )
    at = df.loc[[1.0, 2.0, 3.0, 5.0, 6.0]]
    assert list(at["plain"]) == [5, 10, 5, 0, 0]
    assert list(at["ext"]) == [5, 10, 5, -5, -10]  # the last segment's slope, -5 per unit, carried on
    assert list(at["back"]) == [0, 10, 10, 0, 0]  # the value of the point at or before
    assert list(at["fwd"]) == [10, 10, 0, 0, 0]  # the value of the point at or after


def test_the_vensim_page_examples_run_and_print_what_they_say(tmp_path, monkeypatch, capsys):
    import re

    from support import REPO

    page = REPO / "docs" / "vensim.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/vensim.md:block{i + 1}", "exec"), namespace)  # our own documentation
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{round(1000 * 1.02**10, 1)} {round(500 * 1.01**10, 1)}"
    assert sorted(out[1:3]) == ["R ('fear', 'reports')", "R ('reports', 'trust')"]
    # the data file example, by hand: arrivals interpolated 100 -> 300 over t = 0..2, then held; shelters
    # held from each point (north 4 throughout: its t=2 cell is blank; south 2, then 5 from t=2)
    rows = [[float(x) for x in line.split()] for line in out[5:]]
    assert rows == [[0, 100, 25, 50], [1, 200, 50, 100], [2, 300, 75, 60], [3, 300, 75, 60]]


def test_a_macro_called_in_a_subscripted_equation_has_state_per_element(tmp_path):
    # ACCUM(input): a stock per element; TIME STEP$ inside a macro is the model's TIME STEP (1)
    df = run_mdl(
        tmp_path,
        """:MACRO: ACCUM(input)
ACCUM = INTEG(input * TIME STEP$, 0) ~~|
:END OF MACRO:
d: one, two ~~|
rate[d] = 1, 2 ~~|
level[d] = ACCUM(rate[d]) ~~|
single[one] = ACCUM(10) ~~|
single[two] = ACCUM(rate[two] * 100) ~~|
""",
        stop=2,
    )
    assert list(df["level[one]"]) == [0, 1, 2] and list(df["level[two]"]) == [0, 2, 4]
    assert list(df["single[one]"]) == [0, 10, 20] and list(df["single[two]"]) == [0, 200, 400]


def test_one_rate_draining_two_stocks_keeps_both_stocks_right(tmp_path):
    # Vensim lets a rate appear in several INTEGs; each stock still loses 1 a step
    df = run_mdl(tmp_path, "a = INTEG(-drain, 10) ~~|\nb = INTEG(-drain, 20) ~~|\ndrain = 1 ~~|\n", stop=2)
    assert list(df["a"]) == [10, 9, 8] and list(df["b"]) == [20, 19, 18]


def test_deep_nesting_and_long_sums(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(mdl("x = " + "(" * 150 + "1" + ")" * 150 + " ~~|\n"))
    with pytest.raises(ts.ParseError, match="nests deeper than 100") as info:
        ts.load(p)
    assert info.value.variable == "x" and "line 2" in str(info.value)
    terms = " + ".join(f"v{i}" for i in range(1500))
    values = "".join(f"v{i} = 1 ~~|\n" for i in range(1500))
    df = run_mdl(tmp_path, f"s = INTEG({terms}, 0) ~~|\ntotal = {terms} ~~|\n{values}", stop=1)
    assert list(df["s"]) == [0, 1500] and df["total"].iloc[0] == 1500


def test_a_level_with_constant_elements_keeps_them_constant(tmp_path):
    # Vensim lets a level mix INTEG elements with constants: s[a] grows by 2 a step from 1, s[b] stays 5
    df = run_mdl(
        tmp_path, "d: a, b ~~|\ns[a] = INTEG(2, 1) ~~|\ns[b] = 5 ~~|\ntotal = s[a] + s[b] ~~|\n", stop=3
    )
    assert list(df["s[a]"]) == [1, 3, 5, 7]
    assert list(df["s[b]"]) == [5, 5, 5, 5]
    assert list(df["total"]) == [6, 8, 10, 12]


def test_a_level_with_an_auxiliary_element_is_refused(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(mdl("d: a, b ~~|\ns[a] = INTEG(2, 1) ~~|\ns[b] = Time ~~|\n"))
    with pytest.raises(
        ts.errors.UnsupportedFeatureError, match="stock for some of its elements and an auxiliary"
    ):
        ts.load(p)


def test_data_without_data_is_missing_and_its_readers_are_named(tmp_path):
    # Vensim reads "raw" from a data file at run time; the .mdl gives no data, so it is :NA: (-2^110),
    # and so is a data equation built on it; "clean" (data from constants only) is computed.
    # "flag" tests for :NA: as calibration models do, and is named in the warning.
    from trafficsys.io.vensim.convert import MissingDataWarning
    from trafficsys.io.vensim.grammar import NA

    with pytest.warns(MissingDataWarning, match=r"flag read data variables that have no data.*\(raw\)"):
        df = run_mdl(
            tmp_path,
            "raw ~ widget ~ |\nderived := raw * 2 ~~|\nclean := 3 + 4 ~~|\n"
            "flag = IF THEN ELSE(raw = :NA:, 1, 0) ~~|\n",
            stop=2,
        )
    assert list(df["raw"]) == [NA] * 3
    assert list(df["derived"]) == [NA] * 3
    assert list(df["clean"]) == [7] * 3
    assert list(df["flag"]) == [1] * 3


def test_data_equations_read_only_by_data_load_without_a_warning(tmp_path):
    import warnings

    from trafficsys.io.vensim.convert import MissingDataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingDataWarning)
        df = run_mdl(tmp_path, "raw ~~|\nderived := raw * 2 ~~|\ny = Time ~~|\n", stop=1)
    assert list(df["y"]) == [0, 1]


def test_sample_if_true_reading_itself_is_a_running_minimum_and_maximum(tmp_path):
    # the variable's own name inside SAMPLE IF TRUE is the value it holds from before (a state, not an
    # algebraic loop): x = 5, 3, 4, 1, 2 gives the running minimum 5, 3, 3, 1, 1 and maximum 5, 5, 5, 5, 5;
    # arrayed, each element keeps its own (y = 10 - x: minimum 5, 5, 5, 5, 5; maximum 5, 7, 7, 9, 9)
    df = run_mdl(
        tmp_path,
        "d: p, q ~~|\ntab((0,5),(1,3),(2,4),(3,1),(4,2)) ~~|\nx[p] = tab(Time) ~~|\nx[q] = 10 - tab(Time) ~~|\n"
        "lo[d] = SAMPLE IF TRUE(x[d] < lo[d], x[d], x[d]) ~~|\n"
        "hi[d] = SAMPLE IF TRUE(x[d] > hi[d], x[d], x[d]) ~~|\n",
        stop=4,
    )
    assert list(df["lo[p]"]) == [5, 3, 3, 1, 1] and list(df["hi[p]"]) == [5, 5, 5, 5, 5]
    assert list(df["lo[q]"]) == [5, 5, 5, 5, 5] and list(df["hi[q]"]) == [5, 7, 7, 9, 9]


def test_sample_if_true_reading_itself_in_a_built_model():
    m = ts.Model("m", start=0, stop=3, dt=1)
    m.aux("x", "4 - TIME")
    m.aux("lo", "SAMPLE_IF_TRUE(x < lo, x, x)")
    m.aux("half", "SAMPLE_IF_TRUE(TIME >= 2, lo / 2, 0)")
    df = ts.simulate(m).to_pandas()
    assert list(df["lo"]) == [4, 3, 2, 1] and list(df["half"]) == [0, 0, 1, 0.5]


def test_a_constants_unit_range_is_what_monte_carlo_samples(tmp_path):
    # [min, max] (and [min, max, step]) after the units is the constant's range, as a TOML range is;
    # an open bound (?) gives no range, and a value outside its range keeps none (with a warning)
    p = tmp_path / "m.mdl"
    p.write_text(
        mdl(
            "rate = 0.3 ~ 1/Month [0.1, 0.5] ~ |\nsteps = 4 ~ widget [0, 10, 1] ~ |\n"
            "open = 2 ~ widget [0, ?] ~ |\nwide = 1 ~ widget [0.0, inf] ~ |\nodd = 9 ~ widget [0, 1] ~ |\n"
            "y = rate * steps + open + odd ~~|\n",
            stop=1,
        )
    )
    with pytest.warns(UserWarning, match=r"odd = 9 lies outside its range \[0, 1\]"):
        m = ts.load(p)
    assert m["rate"].range == (0.1, 0.5) and m["steps"].range == (0, 10)
    assert m["open"].range is None and m["wide"].range is None and m["odd"].range is None
    r = ts.monte_carlo(m, 40, seed=1)
    assert r.runs == 40
    first = r.to_xarray()["y"].isel(time=0).values
    # y = rate * steps + 11, rate in [0.1, 0.5] and steps in [0, 10]: y in [11, 16], and it varies
    assert first.min() >= 11 - 1e-9 and first.max() <= 16 + 1e-9 and first.std() > 0.5
    assert len(set(first.round(9))) == 40


def test_a_malformed_unit_range_is_refused(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_text(mdl("rate = 0.3 ~ 1/Month [0.1, __import__] ~ |\n"))
    with pytest.raises(ts.errors.ParseError, match=r"rate.*is not \[min, max\]"):
        ts.load(p)


def test_a_macros_own_units_do_not_reach_the_units_check(tmp_path):
    # the macro's units name its input ("~ input ~"), as Vensim files write them; the model's units check
    # must not read them as the model's unit names (it did: 'its units are declared as ... has units input')
    p = tmp_path / "m.mdl"
    p.write_text(
        mdl(
            """:MACRO: SCALE(input, factor)
SCALE = input * factor ~ input ~|
:END OF MACRO:
people = 3 ~ person ~|
scaled = SCALE(people, 2) ~ person ~|
"""
        )
    )
    m = ts.load(p)
    m.validate()  # raises UnitsError when a copy keeps the macro's units
    assert m["scaled.scale"].units is None
    assert ts.simulate(m).to_pandas()["scaled"].iloc[-1] == 6


def test_the_command_line_shows_a_rename_as_one_note(tmp_path, capsys):
    from trafficsys.cli import main

    p = tmp_path / "m.mdl"
    p.write_text(mdl("DT = 0.5 ~ month ~|\nx = DT * 2 ~ month ~|\n"))
    assert main(["validate", str(p)]) == 0
    err = capsys.readouterr().err
    assert "trafficsys validate: note: " in err and "renamed 'DT' to 'DT (model variable)'" in err
    assert "RenamedVariableWarning" not in err and "reader(p)" not in err  # no Python warning line
