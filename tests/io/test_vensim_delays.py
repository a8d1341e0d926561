"""Vensim's delay functions keep Vensim's semantics when read from ``.mdl`` files.

Each test writes a small model and checks values computed by hand from the
Vensim documentation of the function.
"""

import pytest
from mdl_text import mdl, run_mdl

import trafficsys as ts

pytest.importorskip("pysd")

# these models use delays as long as DT on purpose (closed-form values); the step-size advice does not apply
pytestmark = pytest.mark.filterwarnings("ignore:.*DT = .* time constant")


def run(tmp_path, equations: str, stop=10, dt=1.0):
    return run_mdl(tmp_path, equations, stop, dt)


def test_delay_fixed_reads_its_delay_time_once(tmp_path):
    # the delay time is 2 at the start and grows afterwards; Vensim keeps 2 for the whole run
    df = run(
        tmp_path,
        """out= DELAY FIXED(Time * Time, 2 + Time, 7)
	~	~	|
""",
    )
    assert list(df["out"].loc[0:1]) == [7, 7]
    for t in range(2, 11):
        assert df["out"].loc[float(t)] == (t - 2) ** 2


def test_delay_fixed_of_zero_delays_one_step(tmp_path):
    # a delay time below one step still delays by one step (Vensim rounds to whole steps, at least one)
    df = run(
        tmp_path,
        """out= DELAY FIXED(Time, Time / 2, 4)
	~	~	|
""",
    )
    assert df["out"].loc[0.0] == 4
    assert all(df["out"].loc[float(t)] == t - 1 for t in range(1, 11))


def test_delay_n_reduces_its_order_to_fit_the_time_step(tmp_path):
    # order 3 with delay time 1 and DT 0.5: Vensim lowers the order until order * DT <= delay time, so 2.
    # Two stages of 0.5 each, as long as DT: each stage passes on all it holds every step, and the
    # output is the input two steps earlier (6 before that)
    df = run(
        tmp_path,
        """out= DELAY N(Time, 1, 6, 3)
	~	~	|
""",
        stop=5,
        dt=0.5,
    )
    assert list(df["out"].loc[0:0.5]) == [6, 6]
    for k in range(2, 11):
        assert df["out"].loc[k * 0.5] == pytest.approx((k - 2) * 0.5, abs=1e-12)


def test_delay_n_uses_the_delay_time_of_earlier_steps(tmp_path):
    # order 2, input 10 in steady state with delay time 2 (each stage holds 10); the delay time becomes 4
    # at t = 3. By hand (DT = 1; stage j drains with the delay time of j steps ago):
    #   t = 3: output = 2 * 10 / 2 = 10 (the last stage still has the delay time 2 of t = 2)
    #   step 3 -> 4: stage 0 drains 2 * 10 / 4 = 5, stage 1 drains 10: contents 15 and 5
    #   t = 4: output = 2 * 5 / 4 = 2.5
    #   step 4 -> 5: stage 0 drains 7.5, stage 1 drains 2.5: contents 17.5 and 10; t = 5: output 5
    df = run(
        tmp_path,
        """out= DELAY N(10, delay time, 10, 2)
	~	~	|
delay time= 2 + STEP(2, 3)
	~	~	|
""",
        stop=5,
    )
    assert list(df["out"]) == pytest.approx([10, 10, 10, 10, 2.5, 5], abs=1e-12)


def test_delay_n_delay_time_can_vary_between_runs(tmp_path):
    # the order is only lowered for delay times below order * DT; otherwise the delay time stays an
    # ordinary parameter, free to differ between the runs of an ensemble
    p = tmp_path / "m.mdl"
    p.write_text(
        mdl(
            """out= DELAY N(10, delay time, 0, 2)
	~	~	|
delay time= 2
	~	~	|
""",
            stop=4,
            dt=0.25,
        )
    )
    r = ts.simulate(ts.load(p), params={"delay time": [2.0, 4.0]})
    last = r.ds["out"].isel(time=-1).values
    assert last[0] > last[1] > 0
