"""The function table of docs/compatibility.md follows the builtin registry and explains every refusal."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import function_table  # noqa: E402

from trafficsys.model.builtins import BUILTINS, lookup_builtin  # noqa: E402


def test_the_page_holds_the_table_the_registry_gives():
    text = (ROOT / "docs" / "compatibility.md").read_text(encoding="utf-8")
    want = "\n".join(function_table.section())
    assert want in text, "docs/compatibility.md is out of date: run python tools/function_table.py"


def test_every_function_is_supported_or_says_why_not():
    assert function_table.unexplained() == []


def test_a_function_the_registry_knows_is_never_listed_as_refused():
    data = function_table.references()
    for key in ("xmile", "vensim"):
        for name in data[key].get("refused", {}):
            assert lookup_builtin("_".join(name.split())) is None, f"{name} is built: drop its reason"


@pytest.mark.parametrize("name", ["VECTOR SELECT", "RANDOM NORMAL", "SMOOTH N", "PULSE TRAIN", "XIDZ"])
def test_vensim_names_map_by_upper_snake_case(name):
    ok, what = function_table.status(name, function_table.references()["vensim"])
    assert ok and what.strip("`") in BUILTINS
