"""``trafficsys report`` writes one self-contained HTML file that opens in a browser without the network."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

ROOT = REPO
BLOCKS_MODEL = ROOT / "models" / "blocks" / "capacity_ceiling.toml"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECTIONS = ["overview", "structure", "sources", "loops", "archetypes", "comparison", "dominance", "blocks"]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _write(out: Path, *args: str) -> Path:
    p = subprocess.run(
        [sys.executable, "-m", "trafficsys", "report", *args, "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert p.returncode == 0, p.stderr
    assert f"wrote {out}" in p.stdout
    return out


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The reference model's report; blocks are left out here (the slowest part), and tested on a small model."""
    return _write(tmp_path_factory.mktemp("report") / "reference.html", "--n", "6", "--blocks-n", "0")


def test_blocks_section_on_a_planted_model(tmp_path):
    out = _write(tmp_path / "blocks.html", str(BLOCKS_MODEL), "--blocks-n", "8")
    text = out.read_text(encoding="utf-8").replace("<wbr>", "")
    blocks = text[text.index('<section id="blocks">') :]
    assert '<img alt="figure" src="data:image/png;base64,' in blocks
    assert "capacity_ceiling" in blocks  # the planted block is in the table
    # a model without strategies says why the comparison is missing instead of failing
    assert "fewer than two scenarios" in text[text.index('<section id="comparison">') :]


def test_report_has_every_section_and_embeds_its_figures(report):
    text = report.read_text(encoding="utf-8").replace("<wbr>", "")  # break points in long table names
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in text, anchor
    images = re.findall(r'<img[^>]*src="([^"]*)"', text)
    assert len(images) >= 3  # comparison (paired, full), dominance
    assert all(src.startswith("data:image/png;base64,") for src in images)
    # nothing is fetched: no external script, stylesheet, image or frame
    assert not re.search(r'(src|href)="(https?:)?//', text)
    assert "<script" not in text and "<link" not in text
    # the sources table lists every constant with its units, range and source
    import trafficsys as ts

    m = ts.load_default()
    sources = text[text.index('<section id="sources">') : text.index('<section id="loops">')]
    for c in m.constants:
        assert f"<td>{c.name}</td>" in sources, c.name
    # the named loops and the strategies appear by name
    for name in list(m.loops)[:3]:
        assert name in text
    for s in m.scenarios:
        assert s in text


def test_report_refuses_to_replace_a_file_without_force(tmp_path):
    out = tmp_path / "r.html"
    out.write_text("mine")
    from trafficsys.cli import main

    assert main(["report", "--output", str(out), "--n", "0", "--blocks-n", "0"]) == 2
    assert out.read_text() == "mine"
    assert main(["report", "--output", str(tmp_path / "r.txt")]) == 2  # not an HTML name


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_opens_in_headless_chromium_without_network_or_errors(report):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
    requests, failed, errors = [], [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(report.as_uri(), wait_until="load")
            headings = page.locator("h2").all_inner_texts()
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"
            )
            shown = page.evaluate("document.images.length")
            # diagrams are shown at their own size (labels as laid out), not shrunk to the page's width
            widths = page.evaluate(
                "Array.from(document.querySelectorAll('.diagram img')).filter(i => i.offsetParent !== null)"
                ".map(i => [i.getBoundingClientRect().width, i.naturalWidth])"
            )
            # tables fit the page; their narrow columns wrap names at underscores, never inside a number
            too_wide = page.evaluate(
                "Array.from(document.querySelectorAll('table'))"
                ".filter(t => t.scrollWidth > t.parentElement.clientWidth + 1).length"
            )
            split_numbers = page.evaluate(
                "Array.from(document.querySelectorAll('td')).filter(td => /^[-+0-9.,e]+$/.test(td.textContent)"
                " && td.getClientRects().length && (() => { const r = document.createRange();"
                " r.selectNodeContents(td); return r.getClientRects().length > 1; })())"
                ".map(td => td.textContent)"
            )
        finally:
            browser.close()
    assert not failed, failed
    assert not errors, errors
    outside = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert not outside, outside
    assert len(headings) == len(SECTIONS)
    assert shown >= 3 and broken == 0
    assert widths and all(abs(w - natural) <= 1 for w, natural in widths), widths
    assert too_wide == 0
    assert not split_numbers, f"numbers broken across lines: {split_numbers[:5]}"
