"""Every number a blocks report states equals an independent computation from plain runs.

The audit (``tests/blocks_audit.py``) rebuilds the report's sampled futures,
runs the model plainly (with an auxiliary added to expose a MIN argument, a
saturating form or a term, or a loop link frozen) and recomputes each piece of
evidence from its documented definition.  It runs on the reference model's
report and on every planted block model.
"""

from __future__ import annotations

import json
import math

import pytest
from blocks_audit import audit
from support import MODELS

import trafficsys as ts
from trafficsys.analysis.blocks import find_blocks

FOLDER = MODELS / "blocks"
PLANTS = [
    e
    for e in json.loads((FOLDER / "index.json").read_text(encoding="utf-8"))["models"]
    if e["planted"] != "none"
]


def _check(rows):
    assert rows, "the report states no evidence to check"
    bad = []
    for kind, key, got, again in rows:
        if isinstance(got, str) or isinstance(again, str):
            ok = got == again
        elif math.isnan(got) and math.isnan(again):
            ok = True
        else:
            ok = got == pytest.approx(again, rel=1e-9, abs=1e-12)
        if not ok:
            bad.append(f"{kind} / {key}: reported {got!r}, recomputed {again!r}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("entry", PLANTS, ids=[e["file"] for e in PLANTS])
def test_planted_model_evidence_equals_plain_runs(entry):
    m = ts.load(FOLDER / entry["file"])
    rep = find_blocks(m, entry["target"], n=24, seed=5)
    _check(audit(m, rep))


def test_reference_model_evidence_equals_plain_runs():
    m = ts.load_default()
    rep = find_blocks(m, m.metadata["target"], scenario="baseline", n=40, seed=1)
    rows = audit(m, rep)
    _check(rows)
    assert {k for k, *_ in rows} == set(rep.kinds())
