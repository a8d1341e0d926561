"""The documentation site builds strictly, offline, and shows what it promises.

``mkdocs build --strict`` fails on a broken link, a page missing from the nav, a
docstring mkdocstrings cannot render or a generated table whose markers are gone.
The checks below then read the built HTML: the reference model page lists every
variable of the model file, the API reference documents every public name, and
every notebook is rendered.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

import trafficsys as ts

ROOT = REPO
PUBLIC_MODULES = [
    "trafficsys",
    "trafficsys.model",
    "trafficsys.cld",
    "trafficsys.engine",
    "trafficsys.analysis",
    "trafficsys.scenarios",
    "trafficsys.io",
    "trafficsys.limits",
    "trafficsys.errors",
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, (
        f"mkdocs build --strict failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    )
    return out


def _page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def _text(page: str) -> str:
    """The page's text without tags, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_reference_model_page_lists_every_variable_with_units_range_and_source(site):
    page = _page(site, "model")
    text = _text(page)
    m = ts.load_default()
    missing = [name for name in m.names() if f"<code>{name}</code>" not in page]
    assert not missing, f"the reference model page does not list {missing}"
    for c in m.constants:
        assert " ".join(c.source.split()) in text, f"{c.name}: its source is not on the page"
        if c.range:
            assert f"{c.range[0]:g} - {c.range[1]:g}" in text, f"{c.name}: its range is not on the page"
    for e in m.elements():
        if e.units:
            assert e.units in text


def test_strategies_page_is_generated_from_the_model(site):
    text = _text(_page(site, "strategies"))
    m = ts.load_default()
    for s in m.scenarios.values():
        assert s.name in text
        for lever, value in s.set:
            assert lever in text and (f"{value:g}" if isinstance(value, float) else value) in text


def test_api_reference_documents_every_public_name(site):
    import importlib

    ids = set()
    for page in (site / "api").rglob("index.html"):
        ids |= set(re.findall(r'id="(trafficsys[\w.]*)"', page.read_text(encoding="utf-8")))
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if name.startswith("__") or type(obj).__name__ == "module":
                continue
            where = {f"{module_name}.{name}"}
            if hasattr(obj, "__qualname__") and str(getattr(obj, "__module__", "")).startswith("trafficsys"):
                where.add(f"{obj.__module__}.{obj.__qualname__}")  # documented where it is defined
            if not where & ids:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"not in the API reference: {missing}"


def test_every_notebook_is_rendered_and_in_the_nav(site):
    home = _page(site, "")
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks
    for nb in notebooks:
        page = site / "notebooks" / nb.stem / "index.html"
        assert page.is_file(), f"{nb.name} is not rendered"
        assert f"notebooks/{nb.stem}/" in home, f"{nb.name} is not in the site's navigation"
        # rendered as stored: code cells, no outputs to show
        assert "jp-CodeCell" in page.read_text(encoding="utf-8")


def test_the_site_fetches_no_web_fonts(site):
    for page in site.rglob("*.html"):
        assert "fonts.googleapis.com" not in page.read_text(encoding="utf-8"), page


def test_sources_are_cited_not_unpublished_notes():
    # the docs and model files cite published sources, never notes outside the repository
    paths = [
        ROOT / "README.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "models").rglob("*.toml"),
        *(ROOT / "src").rglob("*.py"),
        *(ROOT / "notebooks").glob("*.ipynb"),
    ]
    pattern = re.compile(r"domain[ _-]notes", re.I)
    hits = [str(p.relative_to(ROOT)) for p in paths if pattern.search(p.read_text(encoding="utf-8"))]
    assert not hits, f"cite the published source instead of the notes in {hits}"


@pytest.mark.parametrize("page", ["docs/getting-started.md", "docs/strategies.md"])
def test_page_python_examples_run_as_written(page, tmp_path):
    # each page's ```python blocks, in order, as one script: what a reader would paste
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(encoding="utf-8"), flags=re.S)
    assert blocks, f"{page} shows no Python"
    script = tmp_path / "example.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, f"{page}: {done.stderr[-3000:]}"


def test_strategies_page_toml_example_is_a_valid_strategy(tmp_path):
    from trafficsys.io import merge_scenarios

    text = (ROOT / "docs/strategies.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    path = tmp_path / "mine.toml"
    path.write_text(block, encoding="utf-8")
    m = merge_scenarios(ts.load_default(), path)
    levers = m.scenarios["police_and_survivors"].overrides
    assert set(levers) == set(m.scenarios["baseline"].overrides), "a strategy sets every lever"
    assert abs(sum(v for k, v in levers.items() if k.startswith("share_")) - 1) < 1e-12


def test_committed_model_tables_match_the_model_file():
    # the site regenerates them at each build; the copy in docs/model.md is what a reader of the
    # repository sees, so it must not drift from the model either
    import importlib.util

    spec = importlib.util.spec_from_file_location("model_tables", ROOT / "tools" / "model_tables.py")
    model_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_tables)
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    committed = text.split("<!-- tables:start -->", 1)[1].split("<!-- tables:end -->", 1)[0].strip()
    assert committed == model_tables.tables(ts.load_default()).strip(), (
        "docs/model.md's variable tables differ from the model file: run `python tools/model_tables.py`"
    )
