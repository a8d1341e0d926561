"""Every notebook in ``notebooks/`` runs from top to bottom without an error, and is stored without outputs.

The notebooks are found by glob, so a new notebook is executed without editing this file; each is one
test (pytest-xdist spreads them over workers) and runs in its own kernel, in ``notebooks/``.
"""

from __future__ import annotations

import pytest
from support import REPO

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: seconds one cell may take; each notebook runs in well under a minute on 2 cores, so a cell that
#: takes minutes is a hang or a notebook that has outgrown its job
CELL_TIMEOUT = 180
#: the most HTML one displayed object may show in a notebook cell
HTML_LIMIT = 20_000


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ has no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opens_with_a_title(path):
    # the docs site's navigation and a reader both start from the first heading
    nb = nbformat.read(path, as_version=4)
    assert nb.cells and nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), (
        f"{path.name}: the first cell should be a markdown title ('# ...')"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executes_without_error(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError, naming the cell, on the first error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # every object shows a screen-sized summary: no cell prints megabytes of HTML (tests/test_display.py)
    big = [
        (i, len(o["data"]["text/html"]))
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.outputs
        if "text/html" in o.get("data", {}) and len(o["data"]["text/html"]) > HTML_LIMIT
    ]
    assert not big, f"{path.name}: cells showing more than {HTML_LIMIT:,} characters of HTML: {big}"
    figures = sum(
        "image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert figures > 0 or "plt." not in "".join(c.source for c in nb.cells), (
        f"{path.name} draws figures but none was displayed"
    )
