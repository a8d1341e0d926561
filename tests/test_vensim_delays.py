"""Vensim's delay functions keep Vensim's semantics when read from ``.mdl`` files.

Each test writes a small model and checks values computed by hand from the
Vensim documentation of the function.
"""

import pytest

import trafficsys as ts

pytest.importorskip("pysd")

CONTROL = r"""
FINAL TIME  = {stop}
	~	Month
	~	|
INITIAL TIME  = 0
	~	Month
	~	|
SAVEPER  = TIME STEP
	~	Month
	~	|
TIME STEP  = {dt}
	~	Month
	~	|
"""


def run(tmp_path, equations: str, stop=10, dt=1.0):
    p = tmp_path / "m.mdl"
    p.write_text("{UTF-8}\n" + equations + CONTROL.format(stop=stop, dt=dt))
    return ts.simulate(ts.load(p)).to_pandas()


def test_delay_fixed_reads_its_delay_time_once(tmp_path):
    # the delay time is 2 at the start and grows afterwards; Vensim keeps 2 for the whole run
    df = run(tmp_path, """out= DELAY FIXED(Time * Time, 2 + Time, 7)
	~	~	|
""")
    assert list(df["out"].loc[0:1]) == [7, 7]
    for t in range(2, 11):
        assert df["out"].loc[float(t)] == (t - 2) ** 2


def test_delay_fixed_of_zero_delays_one_step(tmp_path):
    # a delay time below one step still delays by one step (Vensim rounds to whole steps, at least one)
    df = run(tmp_path, """out= DELAY FIXED(Time, Time / 2, 4)
	~	~	|
""")
    assert df["out"].loc[0.0] == 4
    assert all(df["out"].loc[float(t)] == t - 1 for t in range(1, 11))
