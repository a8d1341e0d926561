"""The code is linted and formatted by ruff, with the settings in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support import REPO


def _ruff(*args: str) -> subprocess.CompletedProcess:
    try:
        import ruff  # noqa: F401 - only to tell a missing tool from a failing check
    except ImportError:
        pytest.fail("ruff is part of the test extra: pip install '.[test]'")
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, str(REPO)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )


def test_ruff_finds_nothing_to_lint():
    out = _ruff("check", "--no-cache")
    assert out.returncode == 0, out.stdout[-3000:]


def test_every_python_file_is_formatted():
    out = _ruff("format", "--check", "--no-cache")
    assert out.returncode == 0, out.stdout[-3000:]
