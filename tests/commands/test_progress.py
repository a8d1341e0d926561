"""Long commands show a tqdm progress bar on a terminal and stay silent in pipes, logs and CI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from support import REPO

ROOT = REPO
BLOCKS_MODEL = ROOT / "models" / "blocks" / "capacity_ceiling.toml"
SMALL_MODEL = ROOT / "models" / "examples" / "exploitation_exit.toml"

#: what a tqdm bar writes: a percentage and a bar edge, "| 2/5 [" and a rate
BAR_MARKS = ("%|", "it/s", "step/s", "s/step", "strategy/s", "s/strategy")

COMMANDS = {
    "compare": ["compare", "--n", "4", "--figure", "none", "--scenarios", "survivor_led"],
    "blocks": ["blocks", str(BLOCKS_MODEL), "--n", "6", "--top", "1"],
    "dominance": ["dominance", str(SMALL_MODEL), "--runs", "3", "--top", "2"],
}


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("TQDM_DISABLE", None)
    return env


def _has_bar(text: str) -> bool:
    return any(mark in text for mark in BAR_MARKS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_bar_when_output_is_not_a_terminal(name, tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "trafficsys", *COMMANDS[name]],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    assert not _has_bar(p.stdout) and not _has_bar(p.stderr), p.stderr[-500:]


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_bar_on_a_terminal(name, tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    # a new pseudo-terminal is 0 columns wide, and tqdm fits its bar into 0 columns: give it a real size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        p = subprocess.Popen(
            [sys.executable, "-m", "trafficsys", *COMMANDS[name]],
            stdout=subprocess.DEVNULL,
            stderr=slave,
            env=_env(),
            cwd=tmp_path,
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        assert p.wait(timeout=600) == 0
    finally:
        os.close(master)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert _has_bar(text), text[-500:]


def test_library_bar_follows_the_flag(capsys):
    import trafficsys as ts

    m = ts.load_default()
    ts.compare(m, ["survivor_led"], n=3, seed=1, progress=True)
    assert _has_bar(capsys.readouterr().err)
    ts.compare(m, ["survivor_led"], n=3, seed=1)  # captured stderr is not a terminal: silent
    assert not _has_bar(capsys.readouterr().err)
