"""Vensim .mdl through our own reader into our Model."""

import pytest
from support import TEST_MODELS, compatibility

import trafficsys as ts
from trafficsys.model.elements import Constant, Flow, Lookup, Stock

pytest.importorskip("pysd")


MDL = r"""{UTF-8}
Population= INTEG (
	births-deaths,
		100)
	~	person
	~	people
	|
births= birth rate * Population
	~	person/Month
	~	|
deaths= Population / lifetime
	~	person/Month
	~	|
birth rate= 0.05
	~	1/Month
	~	|
lifetime= 40
	~	Month
	~	|
effect= WITH LOOKUP (Time, ([(0,0)-(10,2)],(0,1),(5,2),(10,1.5) ))
	~	dmnl
	~	|
smoothed= SMOOTH(births * effect, 3)
	~	person/Month
	~	|
safe ratio= ZIDZ(births, deaths - deaths)
	~	dmnl
	~	|
trunc= INTEGER(-1.5) + MODULO(7, 3) + IF THEN ELSE(Time > 5, PULSE(6, 2), RAMP(1, 2, 4))
	~
	~	|
FINAL TIME  = 10
	~	Month
	~	|
INITIAL TIME  = 0
	~	Month
	~	|
SAVEPER  = TIME STEP
	~	Month
	~	|
TIME STEP  = 0.5
	~	Month
	~	|
"""


def write(tmp_path, text, name="m.mdl"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_structure_from_the_vensim_file(tmp_path):
    m = ts.load(write(tmp_path, MDL))
    assert (m.start, m.stop, m.dt, m.time_units) == (0, 10, 0.5, "Month")
    pop = m["population"]
    assert isinstance(pop, Stock) and pop.inflows == ("births",) and pop.outflows == ("deaths",)
    assert pop.initial == "100" and pop.units == "person" and pop.doc == "people"
    assert isinstance(m["births"], Flow) and m["births"].equation == "birth_rate * population"
    assert isinstance(m["birth rate"], Constant) and m["birth rate"].value == 0.05
    eff = m["effect"]
    assert isinstance(eff, Lookup) and eff.input == "time" and eff.xs == (0, 5, 10) and eff.ys == (1, 2, 1.5)
    assert m["smoothed"].equation == "SMTH1(births * effect, 3, births * effect)" or m[
        "smoothed"
    ].equation.startswith("SMTH1(births * effect, 3")
    assert m["safe ratio"].equation == "SAFEDIV(births, deaths - deaths, 0)"
    m.validate()


def test_simulates_like_a_closed_form(tmp_path):
    m = ts.load(write(tmp_path, MDL))
    df = ts.simulate(m).to_pandas()
    # Euler: P(t + dt) = P(t) * (1 + dt * (0.05 - 1/40))
    assert df["population"].iloc[-1] == pytest.approx(100 * (1 + 0.5 * (0.05 - 1 / 40)) ** 20, rel=1e-12)
    assert df["safe_ratio"].iloc[0] == 0
    # INTEGER truncates toward zero (-1), MODULO(7, 3) = 1, RAMP is 0 before 2, PULSE(6, 2) is 1 at 6..8
    assert df["trunc"].loc[0.0] == 0 and df["trunc"].loc[3.0] == 1 and df["trunc"].loc[6.0] == 1
    assert df["trunc"].loc[5.0] == 2 and df["trunc"].loc[8.5] == 0


def test_unsupported_functions_are_all_listed_with_their_variables(tmp_path):
    # names no registry will hold: the property is that every unknown function is listed with its users
    text = (
        MDL
        + """a= NO SUCH FUNCTION(0, 1, 1)
	~	~	|
b= NO SUCH FUNCTION(0, 2, 1) + NOT A FUNCTION EITHER(0, 2, 1, 1, 1)
	~	~	|
c= GET TIME VALUE(2, 0, 0)
	~	~	|
"""
    )
    with pytest.raises(ts.UnsupportedFeatureError) as info:
        ts.load(write(tmp_path, text))
    msg = str(info.value)
    assert "NO SUCH FUNCTION used by a, b" in msg
    assert "NOT A FUNCTION EITHER used by b" in msg
    assert "GET TIME VALUE other than of the simulation time (relative to 0 or 1, measure 0) used by c" in msg


def test_unparseable_file_is_a_parse_error_naming_file_variable_and_position(tmp_path):
    with pytest.raises(ts.ParseError) as info:
        ts.load(write(tmp_path, "{UTF-8}\nx = 1 ~~|\nthis is not = = a model ~ ~ |\n((("))
    e = info.value
    assert e.variable == "this is not" and e.file.endswith("m.mdl") and e.column == 15
    assert "line 3: unexpected '='" in str(e)


def test_arrays_from_vensim():
    m = ts.load(TEST_MODELS / "tests/subscript_2d_arrays/test_subscript_2d_arrays.mdl")
    assert m.dimensions and any(e.dimensions for e in m)
    df = ts.simulate(m).to_pandas()
    assert any("[" in c for c in df.columns)


def test_teacup_matches_vensim_output():
    tool = compatibility()
    r = tool.run_case(
        str(TEST_MODELS), "samples/teacup", "samples/teacup/teacup.mdl", tool.simulate, rtol=1e-4
    )
    assert r.status == "pass" and r.compared == 4


def _control(final=2, step=1):
    return f"""FINAL TIME = {final}
	~	~	|
INITIAL TIME = 0
	~	~	|
SAVEPER = TIME STEP
	~	~	|
TIME STEP = {step}
	~	~	|
"""


def _values(tmp_path, equations: str, final=2, step=1):
    m = ts.load(write(tmp_path, "{UTF-8}\n" + equations + _control(final, step)))
    return ts.simulate(m).to_pandas()


def test_power_binds_tighter_than_a_leading_minus(tmp_path):
    # Vensim: -2^2 = -(2^2) = -4 (PySD's parser folds the minus into the literal: (-2)^2 = 4);
    # ^ is right-associative and a minus after ^ negates the whole power that follows it
    df = _values(
        tmp_path,
        """a= -2^2
	~	~	|
b= 2^3^2
	~	~	|
c= 30^ - 30^-x
	~	~	|
d= (-2)^2
	~	~	|
e= - Time ^ 3
	~	~	|
x= 1.2
	~	~	|
""",
    )
    row = df.loc[2.0]
    assert row["a"] == -4.0 and row["b"] == 512.0 and row["d"] == 4.0 and row["e"] == -8.0
    assert row["c"] == pytest.approx(30 ** -(30**-1.2), rel=1e-12)  # 0.944195 in Vensim's output


def test_integer_and_modulo_of_negatives_follow_vensim(tmp_path):
    # Vensim truncates toward zero and gives MODULO the dividend's sign (SDXorg rounding output:
    # MODULO(-10, 3) = -1, MODULO(-8, 3) = -2); XMILE's INT and MOD are floor-based
    df = _values(
        tmp_path,
        """i= INTEGER(-9.9)
	~	~	|
r= MODULO(-10, 3)
	~	~	|
s= MODULO(-8, 3)
	~	~	|
t= MODULO(7.5, 2)
	~	~	|
""",
    )
    row = df.loc[0.0]
    assert (row["i"], row["r"], row["s"], row["t"]) == (-9.0, -1.0, -2.0, 1.5)


def test_a_subscript_range_used_as_a_value_numbers_elements_in_its_main_range(tmp_path):
    # Vensim (SDXorg subscript_logicals): dim3 lists dim1's elements in another order; as a value, each
    # element is its position in the main range dim1, so dim1 = dim3 holds for the same element
    df = _values(
        tmp_path,
        """dim1: A, B, C
	~	~	|
dim3: A, C, B
	~	~	|
sub: B, C
	~	~	|
same[dim1,dim3]= IF THEN ELSE(dim1 = dim3, 1, 0)
	~	~	|
number[dim3]= dim3
	~	~	|
in main[sub]= sub * 10
	~	~	|
own[dim1]= dim1
	~	~	|
""",
        final=0,
    )
    row = df.iloc[0]
    assert [row[f"same[{a},{b}]"] for a in "abc" for b in "acb"] == [1, 0, 0, 0, 0, 1, 0, 1, 0]
    assert [row[f"number[{e}]"] for e in "acb"] == [1, 3, 2]
    assert [row[f"in_main[{e}]"] for e in "bc"] == [20, 30]
    assert [row[f"own[{e}]"] for e in "abc"] == [1, 2, 3]


def test_names_with_quotes_and_backslashes_are_data(tmp_path):
    # Vensim escapes a quote inside a quoted name with a backslash (SDXorg special_characters); the name,
    # as Vensim writes it in its output, is kept, and equations that use it print and parse back
    df = _values(
        tmp_path,
        r""""it's \"quoted\" \ here"= 4
	~	~	|
"Flow*with ^ + chars"= "it's \"quoted\" \ here" * 2
	~	~	|
""",
        final=0,
    )
    assert df.iloc[0]["flow*with_^_+_chars"] == 8.0
    assert df.iloc[0]['it\'s_\\"quoted\\"_\\_here'] == 4.0


def test_sums_of_products_over_bang_subscripts_and_transposed_matrices(tmp_path):
    # SDXorg subscript_transposition: every dim! of a SUM's argument iterates together
    df = _values(
        tmp_path,
        """s: a1, a2
	~	~	|
t: b1, b2
	~	~	|
input[s]= 1, 2
	~	~	|
m[s,t]= 1, 2; 3, 4;
	~	~	|
out[t]= SUM(input[s!] * m[s!,t])
	~	~	|
transposed[t]= SUM(input[s!] * m[t,s!])
	~	~	|
share[s]= input[s] / SUM(input[s!])
	~	~	|
""",
        final=0,
    )
    row = df.iloc[0]
    assert (row["out[b1]"], row["out[b2]"]) == (1 * 1 + 2 * 3, 1 * 2 + 2 * 4)
    assert (row["transposed[b1]"], row["transposed[b2]"]) == (1 * 1 + 2 * 2, 1 * 3 + 2 * 4)
    assert (row["share[a1]"], row["share[a2]"]) == pytest.approx((1 / 3, 2 / 3))


def test_a_binary_file_is_not_handed_to_the_vensim_parser(tmp_path):
    p = tmp_path / "m.mdl"
    p.write_bytes(b"{UTF-8}\nx = 1 ~~|\n\x00\xff\xfe binary")
    with pytest.raises(ts.FileFormatError, match=r"not a Vensim text model: byte 18 is not UTF-8"):
        ts.load(p)


def test_a_file_in_the_encoding_its_first_line_names_is_read(tmp_path):
    p = tmp_path / "m.mdl"
    text = MDL.replace("{UTF-8}", "{ISO-8859-1}").replace("~	people", "~	people (réintégration)")
    p.write_bytes(text.encode("latin-1"))
    m = ts.load(p)  # not refused as binary: é is a valid byte in the file's own encoding
    assert "population" in m
