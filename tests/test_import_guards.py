"""Guards for optional dependencies never hide a missing or broken module of trafficsys itself."""

from __future__ import annotations

import sys

import pytest

import trafficsys as ts
from trafficsys import cli, io
from trafficsys.errors import FileFormatError, ModelError


def test_the_cli_skips_a_command_whose_extra_is_missing_but_not_one_of_its_own(monkeypatch):
    monkeypatch.setitem(sys.modules, "trafficsys.commands.loops", None)  # as if the file were gone
    with pytest.raises(ModuleNotFoundError, match="trafficsys.commands.loops"):
        cli.build_parser()


def test_load_shows_a_broken_reader_of_ours_and_names_a_missing_third_party_one(tmp_path, monkeypatch):
    p = tmp_path / "m.toml"
    ts.save(ts.Model("m"), p)
    monkeypatch.setitem(io.READERS, ".toml", ("trafficsys.io.no_such_reader", "read_toml"))
    with pytest.raises(ModuleNotFoundError, match="no_such_reader"):
        ts.load(p)
    monkeypatch.setitem(io.READERS, ".toml", ("someone_elses_package.reader", "read_toml"))
    with pytest.raises(
        FileFormatError, match="someone_elses_package.reader.read_toml, which is not available"
    ):
        ts.load(p)


def test_loop_dominance_does_not_hide_an_engine_that_fails_to_import(monkeypatch, logistic_model):
    import trafficsys.engine as engine

    r = ts.simulate(logistic_model)

    def broken(m):
        raise ImportError("a module of the engine is broken", name="trafficsys.engine.kernel")

    monkeypatch.setattr(engine, "compile_model", broken)
    with pytest.raises(ImportError, match="engine is broken"):
        ts.loop_dominance(logistic_model, r)


def test_the_workshop_blames_flask_only_when_flask_is_missing(monkeypatch):
    from trafficsys import workshop

    monkeypatch.setitem(sys.modules, "trafficsys.workshop.app", None)
    with pytest.raises(ModuleNotFoundError, match="trafficsys.workshop.app"):
        workshop.create_app(None)
    monkeypatch.delitem(sys.modules, "trafficsys.workshop.app")
    monkeypatch.setitem(sys.modules, "flask", None)
    with pytest.raises(ModelError, match="needs Flask"):
        workshop.create_app(None)
