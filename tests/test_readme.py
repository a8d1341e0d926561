"""The README's quick start and the CI script must not drift apart."""

import re

from support import REPO

ROOT = REPO


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_quick_start_is_two_commands():
    quick = ROOT.joinpath("README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = _bash_blocks(quick)
    assert len(blocks) == 2
    assert all("\n" not in b for b in blocks)
    assert blocks[0].startswith("pip install . && trafficsys ")
    assert blocks[1].startswith('pip install ".[test]" && pytest')


def test_ci_runs_the_readme_test_command_verbatim():
    quick = ROOT.joinpath("README.md").read_text().split("## Quick start", 1)[1]
    test_command = _bash_blocks(quick)[1]
    ci_lines = [ln.strip() for ln in ROOT.joinpath(".ci/run").read_text().splitlines()]
    assert test_command in ci_lines


def test_readme_python_example_runs(tmp_path):
    import subprocess
    import sys

    code = re.findall(r"```python\n(.*?)```", ROOT.joinpath("README.md").read_text(), flags=re.S)
    assert code, "the README shows the library in Python"
    script = tmp_path / "readme_example.py"
    script.write_text("\n".join(code))
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
