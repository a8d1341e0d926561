"""Every writer replaces its file in one step: a failed write leaves the previous file intact.

Each writer is made to fail mid-write (the disk fills after the first bytes)
and at the final rename; the previous content must survive byte for byte, and
no temporary file may be left in the folder.  Then the overwrite rule of the
command line (docs/limits.md) and metadata datetimes on a round trip.
"""

from __future__ import annotations

import builtins
import datetime as dt
import errno
import os

import matplotlib
import pytest

import trafficsys as ts
from trafficsys.cli import main
from trafficsys.io import output
from trafficsys.io.graph import write_graph

matplotlib.use("Agg")

PREVIOUS = b"the previous file, which must survive\n"


def _figure(path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    output.save_figure(fig, path)
    plt.close(fig)


def _api_writers(reference_model):
    return {
        "save.toml": (".toml", lambda p: ts.save(reference_model, p)),
        "save.xmile": (".xmile", lambda p: ts.save(reference_model, p)),
        "graph.graphml": (".graphml", lambda p: write_graph(reference_model, p)),
        "graph.dot": (".dot", lambda p: write_graph(reference_model, p)),
        "graph.json": (".json", lambda p: write_graph(reference_model, p)),
        "graph.mmd": (".mmd", lambda p: write_graph(reference_model, p)),
        "figure.png": (".png", _figure),
        "figure.svg": (".svg", _figure),
        "csv": (".csv", lambda p: output.write_csv(ts.simulate(reference_model).to_pandas(), p)),
    }


def _cli(*args):
    def write(p):
        assert main([*args[0], str(p), *args[1:], "--force"]) == 2  # the error, reported as one line

    return write


CLI_WRITERS = {
    "export": (".xmile", _cli(["export", "--to"])),
    "export graph": (".dot", _cli(["export", "--to"])),
    "run --csv": (".csv", _cli(["run", "--csv"])),
    "loops --csv": (".csv", _cli(["loops", "--structure-only", "--csv"])),
    "dominance --csv": (".csv", _cli(["dominance", "--csv"])),
    "dominance --plot": (".png", _cli(["dominance", "--plot"])),
    "compare --csv": (".csv", _cli(["compare", "--n", "4", "--figure", "none", "--csv"])),
    "compare --figure": (".png", _cli(["compare", "--n", "4", "--figure"])),
}


class _FullDisk:
    """A file whose disk fills after ``room`` bytes (or characters): the rest of a write raises ENOSPC."""

    def __init__(self, fh, room: int = 16):
        self._fh, self._room = fh, room

    def write(self, data):
        if len(data) > self._room:
            self._fh.write(data[: self._room])
            self._fh.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._fh.write(data)

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __iter__(self):
        return iter(self._fh)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def _fill_disk_when_writing_temporaries(monkeypatch):
    real_open = builtins.open
    opened = []

    def fake_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if (
            isinstance(file, (str, os.PathLike))
            and os.path.basename(os.fspath(file)).endswith(".tmp")
            and any(c in mode for c in "wax")
        ):
            opened.append(file)
            return _FullDisk(fh)
        return fh

    monkeypatch.setattr(builtins, "open", fake_open)
    return opened


def _check_intact(target):
    assert target.read_bytes() == PREVIOUS
    assert sorted(os.listdir(target.parent)) == [target.name], "a temporary file was left behind"


def _cases(reference_model):
    return {**_api_writers(reference_model), **CLI_WRITERS}


@pytest.mark.parametrize("name", [*_api_writers(None), *CLI_WRITERS])
def test_a_full_disk_mid_write_leaves_the_previous_file(name, reference_model, tmp_path, monkeypatch):
    suffix, write = _cases(reference_model)[name]
    target = tmp_path / f"out{suffix}"
    target.write_bytes(PREVIOUS)
    monkeypatch.chdir(tmp_path)
    opened = _fill_disk_when_writing_temporaries(monkeypatch)
    try:
        if name in CLI_WRITERS:
            write(target)
        else:
            with pytest.raises(ts.FileFormatError, match="previous file, if any, is unchanged") as info:
                write(target)
            assert info.value.file == str(target)
    finally:
        monkeypatch.undo()
    assert opened, "the writer did not write through a temporary file"
    _check_intact(target)


@pytest.mark.parametrize("name", [*_api_writers(None), *CLI_WRITERS])
def test_a_failed_rename_leaves_the_previous_file(name, reference_model, tmp_path, monkeypatch):
    suffix, write = _cases(reference_model)[name]
    target = tmp_path / f"out{suffix}"
    target.write_bytes(PREVIOUS)
    monkeypatch.chdir(tmp_path)

    def no_room(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_room)
    try:
        if name in CLI_WRITERS:
            write(target)
        else:
            with pytest.raises(ts.FileFormatError):
                write(target)
    finally:
        monkeypatch.undo()
    _check_intact(target)


def test_a_successful_write_replaces_the_file_and_keeps_its_permissions(reference_model, tmp_path):
    target = tmp_path / "m.toml"
    target.write_bytes(PREVIOUS)
    os.chmod(target, 0o640)
    ts.save(reference_model, target)
    assert ts.load(target) == reference_model
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["m.toml"]


def test_writing_through_a_symlink_replaces_its_target(reference_model, tmp_path):
    real = tmp_path / "real.toml"
    real.write_bytes(PREVIOUS)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    ts.save(reference_model, link)
    assert link.is_symlink() and ts.load(real) == reference_model


def test_graph_export_does_not_touch_the_target_before_its_content_exists(
    reference_model, tmp_path, monkeypatch
):
    from trafficsys.io import graph

    target = tmp_path / "g.dot"
    target.write_bytes(PREVIOUS)

    def broken(m):
        assert target.read_bytes() == PREVIOUS  # still the old file while the content is made
        raise RuntimeError("generating the content failed")

    monkeypatch.setattr(graph, "to_dot", broken)
    with pytest.raises(RuntimeError):
        write_graph(reference_model, target)
    _check_intact(target)


# ------------------------------------------------------------------ the overwrite rule
def test_api_save_overwrites_unless_told_not_to(reference_model, tmp_path):
    target = tmp_path / "m.xmile"
    target.write_bytes(PREVIOUS)
    with pytest.raises(ts.FileFormatError, match="exists; pass overwrite=True"):
        ts.save(reference_model, target, overwrite=False)
    assert target.read_bytes() == PREVIOUS
    ts.save(reference_model, target)
    assert target.read_bytes() != PREVIOUS


@pytest.mark.parametrize(
    "argv",
    [
        ["export", "--to", "{f}.xmile"],
        ["run", "--csv", "{f}.csv"],
        ["loops", "--structure-only", "--csv", "{f}.csv"],
        ["dominance", "--csv", "{f}.csv"],
        ["dominance", "--plot", "{f}.png"],
        ["compare", "--n", "4", "--figure", "none", "--csv", "{f}.csv"],
        ["compare", "--n", "4", "--figure", "{f}.png"],
    ],
)
def test_every_command_refuses_an_existing_file_before_working(argv, tmp_path, capsys, monkeypatch):
    argv = [a.format(f=tmp_path / "out") for a in argv]
    target = next(a for a in argv if a.startswith(str(tmp_path)))
    with open(target, "wb") as fh:
        fh.write(PREVIOUS)
    monkeypatch.setattr(ts, "load_default", lambda **k: pytest.fail("the work started before the refusal"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "exists; pass --force" in err and target in err
    with open(target, "rb") as fh:
        assert fh.read() == PREVIOUS
    monkeypatch.undo()
    assert "--force" in _help(argv[0])


def _help(command):
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), pytest.raises(SystemExit):
        main([command, "--help"])
    return buf.getvalue()


def test_compare_default_figure_is_replaced_only_when_compare_wrote_it(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", "--n", "4"]) == 0  # the quick start, in a fresh folder
    first = (tmp_path / "compare.png").stat().st_mtime_ns
    assert output.png_text(tmp_path / "compare.png", "Creator") == "trafficsys compare"
    assert main(["compare", "--n", "4"]) == 0  # and again: its own figure is refreshed
    assert (tmp_path / "compare.png").stat().st_mtime_ns >= first
    assert sorted(os.listdir(tmp_path)) == ["compare.png"]
    (tmp_path / "compare.png").write_bytes(PREVIOUS)  # someone else's compare.png
    capsys.readouterr()
    assert main(["compare", "--n", "4"]) == 2
    assert "not written by trafficsys compare" in capsys.readouterr().err
    assert (tmp_path / "compare.png").read_bytes() == PREVIOUS


# ------------------------------------------------------------------ metadata
def test_metadata_datetimes_survive_toml_and_xmile(reference_model, tmp_path):
    m = reference_model.copy()
    when = dt.datetime(2024, 5, 17, 9, 30, tzinfo=dt.UTC)
    m.metadata.update(
        {
            "reviewed": when,
            "day": dt.date(2024, 5, 1),
            "at": dt.time(8, 15),
            "history": [{"on": dt.date(2023, 1, 2), "by": "analyst"}],
        }
    )
    ts.save(m, tmp_path / "m.toml")
    back = ts.load(tmp_path / "m.toml").metadata
    assert back["reviewed"] == when and back["day"] == dt.date(2024, 5, 1) and back["at"] == dt.time(8, 15)
    assert back["history"] == [{"on": dt.date(2023, 1, 2), "by": "analyst"}]
    ts.save(m, tmp_path / "m.xmile")
    back = ts.load(tmp_path / "m.xmile").metadata
    assert back["reviewed"] == when.isoformat() and back["day"] == "2024-05-01" and back["at"] == "08:15:00"
    assert back["history"] == [{"on": "2023-01-02", "by": "analyst"}]
