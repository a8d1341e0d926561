"""Small Vensim .mdl models written inline by the tests: the control section and a runner."""

import trafficsys as ts
from trafficsys.model.arrays import flatten, is_arrayed

CONTROL = """
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


def mdl(equations: str, stop=10, dt=1.0) -> str:
    """The text of a model file: ``equations`` (Vensim syntax) and the time settings."""
    return "{UTF-8}\n" + equations + CONTROL.format(stop=stop, dt=dt)


def run_mdl(tmp_path, equations: str, stop=10, dt=1.0):
    """Load the model through the Vensim reader, expand arrays, simulate; one run as a DataFrame."""
    p = tmp_path / "m.mdl"
    p.write_text(mdl(equations, stop, dt))
    m = ts.load(p)
    if is_arrayed(m):
        m = flatten(m)
    return ts.simulate(m).to_pandas()
