"""XMILE reader and writer: structure read from the SDXorg test models, round trips of models/."""

import pytest
from support import MODELS as MODELS_DIR
from support import TEST_MODELS

import trafficsys as ts
from trafficsys.io.xmile import layout, read_xmile, write_xmile, xmile_string
from trafficsys.model import ast
from trafficsys.model.elements import Aux, Constant, Extrapolation, Flow, Kind, Lookup, Stock

MODELS = sorted(MODELS_DIR.rglob("*.toml"))


def xmile(tmp_path, body, specs="<start>0</start><stop>10</stop><dt>0.5</dt>", extra=""):
    p = tmp_path / "m.xmile"
    p.write_text(f"""<?xml version="1.0"?>
<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
<header><name>t</name></header>
<sim_specs method="Euler" time_units="year">{specs}</sim_specs>{extra}
<model><variables>{body}</variables></model></xmile>""")
    return p


def test_teacup_structure():
    m = read_xmile(TEST_MODELS / "samples/teacup/teacup.xmile")
    assert m.name == "Teacup"
    assert (m.start, m.stop, m.dt) == (0, 30, 0.125)
    s = m["teacup temperature"]
    assert isinstance(s, Stock) and s.outflows == ("Heat Loss to Room",) and s.initial == "180"
    assert isinstance(m["room_temperature"], Constant) and m["room_temperature"].value == 70
    assert m["heat_loss_to_room"].doc == "Heat Loss to Room"
    assert m.dependencies("heat loss to room") == {
        "teacup_temperature",
        "room_temperature",
        "characteristic_time",
    }


def test_modules_become_prefixed_variables():
    m = read_xmile(TEST_MODELS / "samples/bpowers-hares_and_lynxes_modules/model.xmile")
    assert "hares.hares" in m and "lynxes.harvest" in m
    # module inputs become auxiliaries equal to their source in the parent
    # (a flattened module's variable is written quoted: one name, not a reference into a module)
    assert m["hares.lynxes"].equation == '"lynxes.lynxes"'
    assert m.ast("hares.lynxes") == ast.Name("lynxes.lynxes")
    assert m["lynxes.hare_density"].equation == '"hares.hare_density"'
    assert m["hares.area"].equation == "area"
    assert m["hares.hares"].inflows == ("hares.births",)
    assert m.dependencies("hares.deaths") == {"hares.lynxes", "hares.hares_killed_per_lynx"}
    gf = m["lynxes.death_fraction"]
    assert isinstance(gf, Lookup) and gf.input == '"lynxes.hare_density"' and len(gf.xs) == 11


@pytest.mark.parametrize(
    "name",
    [
        "test_lookups.xmile",
        "test_lookups_xpts_sep.xmile",
        "test_lookups_xscale.xmile",
        "test_lookups_ypts_sep.xmile",
    ],
)
def test_graphical_function_forms_agree(name):
    m = read_xmile(TEST_MODELS / "tests/lookups" / name)
    table = m["lookup function table"]
    assert isinstance(table, Lookup) and table.input is None
    assert table.xs == tuple(range(0, 50, 5)) and table.ys == (0, 0, 1, 1, 0, 0, -1, -1, 0, 0)


def test_gf_types_reciprocal_dt_and_flow_with_gf(tmp_path):
    p = xmile(
        tmp_path,
        """
      <aux name="x"><eqn>TIME</eqn><gf type="discrete"><xscale min="0" max="2"/><ypts>1,2,3</ypts></gf></aux>
      <aux name="y"><eqn>TIME</eqn><gf discrete="true"><xpts>0,1</xpts><ypts>1,2</ypts></gf></aux>
      <flow name="f"><eqn>x</eqn><gf type="extrapolate"><xpts>0,1</xpts><ypts>0,2</ypts></gf></flow>
      <stock name="s"><eqn>0</eqn><inflow>f</inflow><non_negative/></stock>""",
        specs='<start>0</start><stop>1</stop><dt reciprocal="true">4</dt>',
    )
    m = read_xmile(p)
    assert m.dt == 0.25
    assert m["x"].extrapolation is Extrapolation.DISCRETE and m["x"].xs == (0, 1, 2)
    assert m["y"].extrapolation is Extrapolation.DISCRETE
    f = m["f"]
    assert isinstance(f, Flow) and f.equation == "f_table(x)"
    assert m["f table"].extrapolation is Extrapolation.EXTRAPOLATE and m["f table"].input is None
    assert m["s"].non_negative


def test_stella_isms(tmp_path):
    p = xmile(
        tmp_path,
        r"""
      <aux name="the\nrate"><eqn>{a comment} 0.5 *
         two_words {another}</eqn></aux>
      <aux name="two words"><eqn>3</eqn><units>1/year</units><doc> text </doc></aux>""",
    )
    m = read_xmile(p)
    assert m["the rate"].equation == "0.5 * two_words"
    assert m["two_words"].units == "1/year" and m["two_words"].doc == "text"


def test_unsupported_features_are_named(tmp_path):
    p = xmile(
        tmp_path,
        '<aux name="a"><eqn>RIDDLE(0, 1) + MYSTERY(2)</eqn></aux><aux name="b"><eqn>MYSTERY(3)</eqn></aux>',
    )
    with pytest.raises(ts.UnsupportedFeatureError, match=r"mystery\(\) used by a, b; riddle\(\) used by a"):
        read_xmile(p)
    p = xmile(tmp_path, '<stock name="c"><eqn>0</eqn><conveyor><len>3</len></conveyor></stock>')
    with pytest.raises(ts.UnsupportedFeatureError, match="conveyor") as info:
        read_xmile(p)
    assert info.value.variable == "c"
    p = (
        xmile(tmp_path, '<aux name="a"><eqn>1</eqn></aux>')
        .read_text()
        .replace('method="Euler"', 'method="RK2"')
    )
    (tmp_path / "rk2.xmile").write_text(p)
    with pytest.raises(ts.UnsupportedFeatureError, match="RK2"):
        read_xmile(tmp_path / "rk2.xmile")


def test_expression_macros_are_inlined(tmp_path):
    p = xmile(
        tmp_path,
        '<aux name="out"><eqn>DOUBLE PLUS(a, 1)</eqn></aux><aux name="a"><eqn>3</eqn></aux>',
        extra='<macro name="double plus"><parm>x</parm><parm>y</parm><eqn>2 * x + y</eqn></macro>',
    )
    m = read_xmile(p)
    assert m["out"].equation == "2 * a + 1"


def test_parse_error_names_file_variable_and_column(tmp_path):
    p = xmile(tmp_path, '<aux name="bad"><eqn>a + ) b</eqn></aux>')
    with pytest.raises(ts.ParseError) as info:
        read_xmile(p)
    e = info.value
    assert e.variable == "bad" and e.column == 5 and str(p) in str(e)


def test_arrays_read(tmp_path):
    p = xmile(
        tmp_path,
        """
      <aux name="pop"><dimensions><dim name="region"/></dimensions><eqn>10, 20</eqn></aux>
      <aux name="rate"><dimensions><dim name="region"/></dimensions>
         <element subscript="North"><eqn>0.1</eqn></element><element subscript="South"><eqn>0.2</eqn></element></aux>
      <aux name="total"><eqn>SUM(pop[*])</eqn></aux>""",
        extra='<dimensions><dim name="Region"><elem name="North"/><elem name="South"/></dim></dimensions>',
    )
    m = read_xmile(p)
    assert m.dimensions == {"region": ("north", "south")}
    assert m["pop"].dimensions == ("region",) and m["pop"].per_element == (("north", "10"), ("south", "20"))
    assert dict(m["rate"].per_element) == {"north": "0.1", "south": "0.2"}


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_round_trip_of_every_shipped_model(path, tmp_path):
    m = ts.load(path)
    out = tmp_path / "rt.xmile"
    ts.save(m, out)
    back = ts.load(out)
    assert back == m
    # and once more: the writer is deterministic
    ts.save(back, tmp_path / "rt2.xmile")
    assert (tmp_path / "rt2.xmile").read_text() == out.read_text()


def test_round_trip_keeps_kinds_ranges_and_arrays(tmp_path):
    m = ts.Model("rt", stop=5, dt=0.25, saveper=0.5, method="rk4", time_units="month", doc="doc & <text>")
    m.constant(
        "k",
        0.1,
        range=(0, 1),
        distribution={"kind": "triangular", "mode": 0.2},
        source="a & b",
        units="1/month",
        role="goal",
    )
    m.aux("five", "5")  # an auxiliary that happens to be a number stays an auxiliary
    m.stock("s", "k * 10", outflows=["out"], non_negative=True, units="person")
    m.flow("out", "k * s", non_negative=True)
    m.lookup("eff", [(0, 0), (1, 2)], extrapolation="extrapolate")
    m.lookup("eff2", [(0, 0), (1, 2)], input="s")
    m.dimension("region", ["a", "b"])
    m.add(Aux("arr", dimensions=("region",), equation="k", per_element=(("b", "2 * k"),)))
    m.scenario("hi", {"k": 0.5, "five": "RAMP(1, 2)"}, doc="d")
    m.loop("L", ["s", "out"], polarity="B")
    m.link("s", "out", "+", delay=True, note="n", strength=0.3)
    m.cld_variables["s"] = {"doc": "x", "role": "r"}
    p = tmp_path / "rt.xmile"
    write_xmile(m, p)
    back = read_xmile(p)
    assert back == m
    assert back.specs == m.specs and back["five"].kind is Kind.AUX and back["k"].kind is Kind.CONSTANT


def test_views_place_every_variable_and_keep_positions(tmp_path):
    m = ts.load(MODELS[0]) if MODELS else None
    if m is None:
        pytest.skip("no shipped model")
    pos = layout(m)
    assert set(pos) == set(m.names())
    assert len({(round(x), round(y)) for x, y in pos.values()}) == len(pos)  # no two on one spot
    text = xmile_string(m)
    assert text.count("<stock name=") == 2 * len(m.stocks)  # once in variables, once in the view
    p = tmp_path / "a.xmile"
    write_xmile(m, p)
    back = read_xmile(p)
    assert layout(back) == pos  # kept positions are reused


def test_kept_diagram_positions():
    m = read_xmile(TEST_MODELS / "samples/teacup/teacup_w_diagram.xmile")
    views = m.metadata["xmile_views"]
    assert views["teacup_temperature"]["type"] == "stock"


@pytest.mark.parametrize(
    "header, expected",
    [
        # XMILE 1.0 (and Stella): INT is the floor, MOD takes the divisor's sign
        (
            "<name>t</name><vendor>isee systems, inc.</vendor><product version='3'>Stella Architect</product>",
            {"i": -3.0, "m": 2.0, "f": 2.0},
        ),
        # a file Vensim (or xmutil) wrote: INT and MOD are Vensim's INTEGER and MODULO (truncation)
        (
            "<product version='1.0' lang='en'>Vensim</product><vendor>Ventana Systems, Inc.</vendor>",
            {"i": -2.0, "m": -1.0, "f": -1.0},
        ),
    ],
)
def test_int_and_mod_follow_the_tool_that_wrote_the_file(tmp_path, header, expected):
    p = tmp_path / "r.xmile"
    p.write_text(f"""<?xml version="1.0"?>
<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
<header>{header}</header>
<sim_specs method="Euler"><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
<model><variables>
<aux name="i"><eqn>INT(-2.5)</eqn></aux>
<aux name="m"><eqn>-10 mod 3</eqn></aux>
<aux name="f"><eqn>MOD(-10, 3)</eqn></aux>
</variables></model></xmile>""")
    m = read_xmile(p)
    row = ts.simulate(m).to_pandas().iloc[0]
    assert {k: row[k] for k in expected} == expected
    # written back as trafficsys XMILE, the meaning is kept
    assert {
        k: ts.simulate(read_xmile(_saved(m, tmp_path))).to_pandas().iloc[0][k] for k in expected
    } == expected


def _saved(m, tmp_path):
    out = tmp_path / "out.xmile"
    write_xmile(m, out)
    return out


def _vensim_builtins_model(delay="2"):
    m = ts.Model("vensim_isms", stop=6, dt=0.5)
    m.constant("delay_time", 2)
    m.aux("signal", "-7.5 + TIME")
    m.aux("truncated", "INTEGER(signal) + MODULO(signal, 3)")
    m.stock("pipeline_in", 0, inflows=["entering"], outflows=["leaving"])
    m.flow("entering", "10")
    m.flow("leaving", f"DELAY_N(entering, {delay}, 4, 6)")  # order 6 * dt 0.5 > 2: Vensim lowers it to 4
    return m


@pytest.mark.filterwarnings("ignore::trafficsys.engine.StepSizeWarning")  # DELAY_N stages of one DT: intended
def test_vensim_only_builtins_are_written_as_xmile_that_other_tools_run(tmp_path):
    import re
    import warnings

    m = _vensim_builtins_model()
    path = tmp_path / "m.xmile"
    write_xmile(m, path)
    text = path.read_text()
    eqns = re.findall(r"<eqn>(.*?)</eqn>", text)
    assert not [e for e in eqns if re.search(r"INTEGER|MODULO|DELAY_N", e)]
    assert any(
        "DELAYN(entering, delay_time, 4, 4)" in e.replace('"', "") or "DELAYN(entering, 2, 4, 4)" in e
        for e in eqns
    )
    assert read_xmile(path) == m  # our reader restores the original equations
    ours = ts.simulate(m).to_pandas()
    # a reader that ignores our extension (PySD, Stella) sees the portable equations: same numbers
    stripped = tmp_path / "other_tool.xmile"
    stripped.write_text(re.sub(r"<ts:extra>.*?</ts:extra>", "", text))
    other = read_xmile(stripped)
    assert other != m
    theirs = ts.simulate(other).to_pandas()
    for col in ("truncated", "leaving", "pipeline_in"):
        assert theirs[col].tolist() == pytest.approx(ours[col].tolist(), rel=1e-12, abs=1e-12)
    assert ours["truncated"].iloc[0] == -7 + -1.5  # INTEGER(-7.5) = -7, MODULO(-7.5, 3) = -1.5
    pysd = pytest.importorskip("pysd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = pysd.read_xmile(str(stripped)).run(return_timestamps=ours.index.values)
    for col in ("truncated", "leaving"):
        assert run[col].tolist() == pytest.approx(ours[col].tolist(), rel=1e-9, abs=1e-12)


def test_a_varying_vensim_delay_time_warns_on_export(tmp_path):
    m = _vensim_builtins_model(delay="2 + TIME / 10")
    with pytest.warns(UserWarning, match="leaving.*varying delay time"):
        write_xmile(m, tmp_path / "m.xmile")


def test_flows_between_the_same_stocks_get_their_own_pipes():
    import xml.etree.ElementTree as ET

    m = ts.Model("two_way", stop=2, dt=1)
    m.stock("a", 100, inflows=["back", "return_"], outflows=["go"])
    m.stock("b", 0, inflows=["go"], outflows=["back", "return_"])
    for f in ("go", "back", "return_"):
        m.flow(f, "1")
    m.constant("unrelated", 1)
    ns = {"x": "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"}
    view = ET.fromstring(xmile_string(m)).find(".//x:views/x:view", ns)
    items = {el.get("name"): el for el in view if el.get("name")}
    pipes = set()
    for f in ("go", "back", "return_"):
        el = items[f]
        x, y = float(el.get("x")), float(el.get("y"))
        pts = [(float(p.get("x")), float(p.get("y"))) for p in el.find("x:pts", ns)]
        assert pts[0][1] == pts[1][1] == y and min(p[0] for p in pts) < x < max(
            p[0] for p in pts
        )  # on its pipe
        stock_y = float(items["a"].get("y"))
        assert abs(y - stock_y) <= 12  # the pipe meets the stocks (drawn 35 high)
        pipes.add(y)
    assert len(pipes) == 3  # no two pipes drawn on top of each other
    valves = [(float(items[f].get("x")), float(items[f].get("y"))) for f in ("go", "back", "return_")]
    assert all(abs(p[0] - q[0]) >= 40 for i, p in enumerate(valves) for q in valves[i + 1 :])  # valves apart
    assert all(float(el.get("x")) >= 0 and float(el.get("y")) >= 0 for el in items.values())
