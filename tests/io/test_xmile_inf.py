"""XMILE's INF, written bare in equations, is positive infinity unless the model has a variable of that name."""

from __future__ import annotations

import trafficsys as ts

HEAD = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><name>inf</name></header>
<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
<model><variables>
<stock name="s"><eqn>0</eqn><inflow>f</inflow></stock><flow name="f"><eqn>0</eqn></flow>
"""


def _load(tmp_path, body: str) -> ts.Model:
    path = tmp_path / "m.xmile"
    path.write_text(HEAD + body + "</variables></model></xmile>")
    return ts.load(path)


def test_a_bare_inf_is_infinity(tmp_path):
    m = _load(
        tmp_path, '<aux name="a"><eqn>MIN(INF, 3)</eqn></aux><aux name="b"><eqn>RAMP(2, 1, INF)</eqn></aux>'
    )
    r = ts.simulate(m)
    assert r.ds["a"].values[:, 0].tolist() == [3.0, 3.0, 3.0]
    assert r.ds["b"].values[:, 0].tolist() == [0.0, 0.0, 2.0]  # a ramp with no end


def test_a_variable_named_inf_keeps_its_name(tmp_path):
    m = _load(tmp_path, '<aux name="inf"><eqn>5</eqn></aux><aux name="a"><eqn>inf + 1</eqn></aux>')
    assert ts.simulate(m).ds["a"].values[0, 0] == 6.0
