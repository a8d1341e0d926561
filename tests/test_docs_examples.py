"""Every ```python block of the user pages runs as written (docs/analysis.md)."""

import re

import matplotlib
import pytest
from support import REPO

matplotlib.use("Agg")

ROOT = REPO
PAGES = ["docs/analysis.md"]


def _blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", ROOT.joinpath(page).read_text(), flags=re.S)


@pytest.mark.parametrize("page", PAGES)
def test_page_examples_run_and_draw_their_figures(page, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    blocks = _blocks(page)
    assert blocks, f"{page} has no python examples"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    try:
        for i, code in enumerate(blocks):
            # our own documentation, executed as the reader would paste it (one session, blocks in order)
            exec(compile(code, f"{page}:block{i + 1}", "exec"), namespace)  # compiled-ast: trusted doc code
    finally:
        plt.close("all")
    # every figure the page shows is one its examples write
    shown = set(re.findall(r"\]\(img/(analysis_\w+\.png)\)", ROOT.joinpath(page).read_text()))
    assert shown, "the page shows its figures"
    for name in shown:
        assert (tmp_path / name).stat().st_size > 0, f"no example of {page} writes {name}"
        assert ROOT.joinpath("docs/img", name).is_file(), f"docs/img/{name} is not committed"
