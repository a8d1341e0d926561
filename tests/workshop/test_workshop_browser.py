"""End to end in headless Chromium: a facilitator and two teams play three rounds through the pages.

Driven by Playwright for Python with Debian's chromium (``.ci/run`` installs
it); skipped, saying why, only when no chromium is installed.  Set
``WORKSHOP_SCREENSHOTS=DIR`` to keep a screenshot of every page.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from support.workshop_server import Server

pytest.importorskip("flask")
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no chromium installed (Debian: apt-get install chromium); the browser tests need it",
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = os.environ.get("WORKSHOP_SCREENSHOTS")


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("workshop") / "state.sqlite", "--no-blocks")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def test_two_teams_play_three_rounds_and_the_debrief_shows_every_run(server, browser, tmp_path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    ctx.on("request", lambda r: requests.append(r.url))
    fac = ctx.new_page()
    fac.goto(server.base + "/")
    fac.fill("#teams", "2")
    fac.click("#create-session")
    fac.wait_for_url("**/sessions/*")
    sid = fac.url.rstrip("/").rsplit("/", 1)[-1]
    fac.wait_for_selector("a.team-link >> nth=1")
    links = [a.get_attribute("href") for a in fac.query_selector_all("a.team-link")]
    assert len(links) == 2 and all("code=" in h for h in links)
    shot(fac, "1-console")
    teams = [ctx.new_page() for _ in links]
    for tp, href in zip(teams, links):
        tp.goto(server.base + href)
    chosen = {}
    for rnd in (1, 2, 3):
        for i, tp in enumerate(teams):
            expect(tp.locator("#form-heading")).to_contain_text(f"round {rnd}")
            tp.wait_for_selector("#lever-ngo_rescue")
            moved = 100 * (i + 1) + 50 * rnd  # each team moves money from raids to survivor collectives
            if rnd == 1 and i == 0:  # the page checks the budget before the server does
                tp.fill("#lever-ngo_rescue", "650")
                expect(tp.locator("#budget")).to_contain_text("spend 50 less")
                expect(tp.locator("#submit")).to_be_disabled()
                tp.fill("#lever-ngo_rescue", "1250")
                expect(tp.locator("#budget")).to_contain_text("between 0 and 1200")
            tp.fill("#lever-ngo_rescue", str(600 - moved))
            tp.fill("#lever-survivor_collectives", str(100 + moved))
            tp.fill("#lever-shelter_stay", "0.5")
            assert "\u2713" in tp.inner_text("#budget")
            tp.click("#submit")
            expect(tp.locator("#message")).to_contain_text("is recorded")
            chosen[(i + 1, rnd)] = 600 - moved
            if rnd == 1:
                shot(tp, f"2-team{i + 1}")
        expect(fac.locator("tr.decided")).to_have_count(2)
        fac.click("#advance")
        expect(fac.locator("#where")).to_contain_text(f"Round {rnd + 1} of")
    summary = ctx.new_page()
    summary.goto(f"{server.base}/sessions/{sid}/summary")
    summary.wait_for_selector("svg path.series")
    shot(summary, "3-summary")
    assert min(tick_sizes(summary)) >= 16, "the projector's chart labels are too small to read across a room"
    fac.click("#end")
    expect(fac.locator("#where")).to_contain_text("ended after 3")
    # what the pages sent is what the server kept
    status, state = server.call("GET", f"/api/sessions/{sid}")
    assert status == 200 and state["played"] == 3
    for t in state["teams"]:
        for rnd in (1, 2, 3):
            d = t["decisions"][str(rnd)]
            assert d["source"] == "team" and d["decisions"]["ngo_rescue"] == chosen[(t["team"], rnd)]
            assert d["decisions"]["shelter_stay"] == 0.5
    fac.click("#debrief-link")
    fac.wait_for_url(f"**/sessions/{sid}/debrief")
    fac.wait_for_selector("body[data-rendered=complete]", timeout=120_000)
    shot(fac, "4-debrief")
    check_debrief(fac)
    # the exported file: the same debrief, with nothing to fetch
    export = ctx.new_page()
    resp = export.goto(f"{server.base}/sessions/{sid}/debrief.html")
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    export.wait_for_selector("body[data-rendered=complete]")
    check_debrief(export)
    outside = [u for u in requests if not (u.startswith(server.base + "/") or u.startswith("data:"))]
    assert not outside, f"requests outside the server: {outside}"
    path = tmp_path / "debrief.html"
    path.write_bytes(_download(server, sid))
    offline = browser.new_context()
    seen: list[str] = []
    offline.on("request", lambda r: seen.append(r.url))
    page = offline.new_page()
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-rendered=complete]")
    check_debrief(page)
    assert seen == [path.as_uri()], f"the exported debrief made requests: {seen[1:]}"
    offline.close()
    ctx.close()


def _download(server, sid) -> bytes:
    import urllib.request

    with urllib.request.urlopen(f"{server.base}/sessions/{sid}/debrief.html?download=1") as r:
        assert "attachment" in r.headers["Content-Disposition"]
        return r.read()


def tick_sizes(page) -> list[float]:
    """The size, in screen pixels, at which each chart's axis labels are drawn (font size times the SVG's scale)."""
    return page.eval_on_selector_all(
        "svg.chart-svg text.tick",
        "els => els.map(e => e.getScreenCTM().a * parseFloat(getComputedStyle(e).fontSize))",
    )


def check_debrief(page):
    """Every run is drawn with data in every chart, named, and its dominant loops listed."""
    labels = [
        "Team 1",
        "Team 2",
        "Saviour-led (reference)",
        "Survivor-led (reference)",
        "State accountable (reference)",
    ]
    charts = page.query_selector_all("#charts figure.chart")
    assert len(charts) == 7 and page.query_selector("#charts > .legend")
    sizes = tick_sizes(page)
    assert sizes and min(sizes) >= 10, f"axis labels drawn at {min(sizes):.1f} px"
    for fig in charts:
        paths = fig.query_selector_all("path.series")
        assert [p.get_attribute("data-label") for p in paths] == labels
        points = [int(p.get_attribute("data-points")) for p in paths]
        assert points == [61] * 5, (
            points
        )  # 3 rounds of 5 years, saved every quarter: teams and references alike
        for p in paths:
            d = p.get_attribute("d")
            assert d.count("L") == int(p.get_attribute("data-points")) - 1
            ys = {seg.split()[1] for seg in d.replace("M", "L").split("L")[1:]}
            assert len(ys) > 1 or "in_exploitation" not in fig.inner_text()  # a line that moves
    finals = page.inner_text("#finals")
    for label in labels:
        assert label in finals
    boxes = page.query_selector_all("#dominance .run-box")
    assert len(boxes) == 5
    for box in boxes:
        assert len(box.query_selector_all("li")) >= 1, box.inner_text()
    assert len(page.query_selector_all("#questions .question")) == 7
    assert "Round 3" in page.inner_text("#decisions")


def test_a_team_joins_with_its_code(server, browser):
    status, created = server.call("POST", "/api/sessions", {"teams": 2})
    assert status == 201
    sid, code = created["session"], created["teams"][1]["code"]
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(f"{server.base}/sessions/{sid}/teams/2")  # a link without its code, as in room mode
    expect(page.locator("#join")).to_be_visible()
    page.fill("#code", "WRONG9")
    page.click("#join-form button")
    expect(page.locator("#join-message")).to_contain_text("wrong join code")
    page.fill("#code", code.lower())
    page.click("#join-form button")
    expect(page.locator("#form-heading")).to_contain_text("round 1")
    expect(page.locator("#heading")).to_contain_text("Team 2")
    ctx.close()
