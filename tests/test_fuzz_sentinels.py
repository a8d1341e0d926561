"""No text in any field of any model format runs code: sentinel payloads through load, validate, simulate, save."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from fuzz_targets import FIELDS, FORMATS, check, payloads, plant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pysd")

FLAG = Path(tempfile.gettempdir()) / "trafficsys-fuzz-sentinel"


@pytest.mark.parametrize("fmt", FORMATS)
@given(field=st.sampled_from(FIELDS), text=payloads(FLAG))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_planted_payload_never_runs(fmt, field, text):
    FLAG.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as d:
        check(plant(Path(d), fmt, field, text), FLAG)


def test_a_read_outside_the_model_folder_is_caught(monkeypatch, tmp_path):
    import trafficsys as ts

    outside_file = tmp_path / "elsewhere.txt"
    outside_file.write_text("private", encoding="utf-8")
    folder = tmp_path / "model"
    folder.mkdir()
    path = plant(folder, "toml", "doc", "harmless")
    real_load = ts.load

    def snooping_load(p, *a, **k):
        outside_file.read_text(encoding="utf-8")
        return real_load(p, *a, **k)

    monkeypatch.setattr(ts, "load", snooping_load)
    with pytest.raises(AssertionError, match="opened outside the model's folder"):
        check(path, FLAG)
    monkeypatch.setattr(ts, "load", real_load)
    assert check(path, FLAG) == "ok"
