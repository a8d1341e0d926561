"""Vensim-only builtins are written to XMILE in XMILE's own builtins: PySD runs our file with our numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import trafficsys as ts


def test_vensim_builtins_round_trip_through_xmile_and_pysd(tmp_path):
    m = ts.Model("portable", start=0, stop=4, dt=0.5)
    m.constant("x0", 2.0)
    m.aux("x", "x0 + TIME")
    m.aux("p", "POWER(x, 2)")
    m.aux("l", "LOG(x, 2) + LOG(x)")
    m.aux("g", "SIGN(x - 3)")
    m.aux("sm", "SMOOTH_N(x, 2, 1, 3)")
    m.stock("s", 0, inflows=["f"])
    m.flow("f", "p + l + g + sm")
    r = ts.simulate(m, backend="numpy")
    path = tmp_path / "portable.xmile"
    ts.save(m, path)
    back = ts.simulate(ts.load(path), backend="numpy")  # ours reads the original equations back
    for v in ("p", "l", "g", "sm", "s"):
        assert np.array_equal(back.ds[v].values, r.ds[v].values), v
    pysd = pytest.importorskip("pysd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pysd.read_xmile(str(path)).run()
    for v in ("p", "l", "g", "sm", "s"):
        np.testing.assert_allclose(theirs[v].to_numpy(), r.ds[v].values[:, 0], rtol=1e-13, err_msg=v)
