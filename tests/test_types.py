"""mypy on src/: no type errors outside the files still being typed, and that list only shrinks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from support import REPO

#: files with type errors left, each being rewritten elsewhere: remove a file once it is clean
PENDING: set[str] = set()


@pytest.fixture
def mypy_errors() -> dict[str, list[str]]:
    if shutil.which("mypy") is None and not _has_module("mypy"):
        pytest.fail("mypy is part of the test extra: pip install '.[test]'")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "src/",
            "--no-error-summary",
            "--cache-dir",
            str(REPO / ".mypy_cache"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    errors: dict[str, list[str]] = {}
    for line in out.stdout.splitlines():
        m = re.match(r"(src/[^:]+):\d+: error: ", line)
        if m:
            errors.setdefault(m.group(1), []).append(line)
    assert out.returncode in (0, 1), out.stderr
    return errors


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_mypy_finds_no_errors_outside_the_pending_files_and_the_list_only_shrinks(mypy_errors):
    # one test, so that mypy runs once even when the suite is spread over workers
    new = {f: lines for f, lines in mypy_errors.items() if f not in PENDING}
    assert not new, "\n".join(line for lines in new.values() for line in lines)
    clean = sorted(PENDING - set(mypy_errors))
    assert not clean, f"these files are type-clean now: remove them from PENDING: {clean}"
