"""The workshop's JSON API through Flask's test client: the contract, every refusal, and reproducible runs.

Each bad input is refused with ``{"error": ...}`` and a 4xx status, and the
state (the API's view and every row of the state file) is exactly as before.
"""

from __future__ import annotations

import io
import json
import math
import re
import sqlite3
import time

import numpy as np
import pytest
import support

import trafficsys as ts

pytest.importorskip("flask")
from trafficsys.workshop import Game, create_app, default_workshop_path, load_workshop, replay, team_scenario  # noqa: E402

DATA = support.DATA / "workshop"


@pytest.fixture(scope="module")
def model():
    return ts.load_default()


@pytest.fixture(scope="module")
def workshop(model):
    return load_workshop(default_workshop_path(), model)


@pytest.fixture()
def game(model, workshop, tmp_path):
    g = Game(model, workshop, tmp_path / "state.sqlite")
    yield g
    g.store.close()


@pytest.fixture()
def client(game):
    return create_app(game, analyses=False).test_client()


@pytest.fixture()
def session(client):
    r = client.post("/api/sessions", json={"teams": 3})
    assert r.status_code == 201
    return r.get_json()


def rows(game):
    """Every row of the state file, for before/after comparisons."""
    db = sqlite3.connect(game.store.path)
    try:
        return {
            t: db.execute(f"SELECT * FROM {t}").fetchall()
            for t in ("sessions", "teams", "decisions", "events")
        }
    finally:
        db.close()


def snapshot(client, game, sid):
    return client.get(f"/api/sessions/{sid}").get_json(), rows(game)


def decide(client, sid, team, code, decisions, rnd=1):
    return client.post(
        f"/api/sessions/{sid}/teams/{team}/decisions",
        json={"round": rnd, "code": code, "decisions": decisions},
    )


# ------------------------------------------------------------ the contract
def test_create_answers_the_documented_shape(session, workshop):
    assert list(session) == ["session", "teams", "round", "rounds", "levers", "budget"]
    assert [t["team"] for t in session["teams"]] == [1, 2, 3]
    assert (
        all(len(t["code"]) == 6 for t in session["teams"]) and len({t["code"] for t in session["teams"]}) == 3
    )
    assert session["round"] == 1 and session["rounds"] == workshop.rounds == 6
    assert session["budget"] == 2000
    for name, lv in session["levers"].items():
        assert lv["min"] <= lv["default"] <= lv["max"], name


def test_defaults_are_the_baseline_allocation_and_an_acceptable_decision(model, workshop, session):
    defaults = {k: v["default"] for k, v in session["levers"].items()}
    assert workshop.check_decision(defaults) == defaults
    baseline = model.scenarios["baseline"].overrides
    for lv in workshop.levers:
        assert workshop.model_values(defaults)[lv.constant] == pytest.approx(baseline[lv.constant], abs=1e-12)
    # and the baseline scenario is the model's own values: round 1 at the defaults is the base run
    r = ts.simulate(model)
    sim = replay(model, workshop, [defaults])
    assert np.array_equal(
        sim.results["in_exploitation"].values, r.sel(time=slice(0, 5))["in_exploitation"].values
    )


def test_a_decision_is_acknowledged_after_it_is_stored(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    d = {k: v["default"] for k, v in session["levers"].items()} | {"ngo_rescue": 300, "audits": 400}
    r = decide(client, sid, 1, code, d)
    assert r.status_code == 200
    body = r.get_json()
    assert body["decisions"] == d and body["round"] == 1 and body["team"] == 1
    stored = [json.loads(x[4]) for x in rows(game)["decisions"]]
    assert stored == [d]
    state = client.get(f"/api/sessions/{sid}").get_json()
    assert state["teams"][0]["decided"] and not state["teams"][1]["decided"]
    assert state["teams"][0]["decisions"]["1"] == {"decisions": d, "source": "team", "submissions": 1}


def test_team_view_needs_the_code(client, session):
    sid, code = session["session"], session["teams"][1]["code"]
    ok = client.get(f"/api/sessions/{sid}/teams/2?code={code}")
    assert ok.status_code == 200 and ok.get_json()["team"] == 2 and "briefing" in ok.get_json()
    assert client.get(f"/api/sessions/{sid}/teams/2?code=WRONG1").status_code == 403
    assert client.get(f"/api/sessions/{sid}/teams/2").status_code == 403


# ------------------------------------------------------------ refusals, each with no change
BAD_DECISIONS = {
    "above the maximum": ({"ngo_rescue": 1300, "ngo_shelter": -100}, 422, "between"),
    "below the minimum": ({"ngo_rescue": -50, "ngo_shelter": 650}, 422, "between"),
    "setting outside bounds": ({"shelter_stay": 5}, 422, "between"),
    "text": ({"ngo_rescue": "600"}, 422, "must be a number"),
    "boolean": ({"shelter_stay": True}, 422, "must be a number"),
    "null": ({"audits": None}, 422, "must be a number"),
    "list": ({"audits": [100]}, 422, "must be a number"),
    "budget short": ({"audits": 50}, 422, "add up"),
    "budget over": ({"audits": 150}, 422, "add up"),
    "unknown lever": ({"raids": 1}, 422, "unknown lever"),
}


def _with(session, change):
    d = {k: v["default"] for k, v in session["levers"].items()}
    d.update(change)
    return d


@pytest.mark.parametrize("case", list(BAD_DECISIONS), ids=list(BAD_DECISIONS))
def test_bad_decisions_are_refused_without_change(client, game, session, case):
    change, status, words = BAD_DECISIONS[case]
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    r = decide(client, sid, 1, code, _with(session, change))
    assert r.status_code == status, r.get_json()
    assert words in r.get_json()["error"]
    assert snapshot(client, game, sid) == before


def test_missing_lever_round_decisions_or_code(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    d = _with(session, {})
    del d["audits"]
    url = f"/api/sessions/{sid}/teams/1/decisions"
    cases = [
        ({"round": 1, "code": code, "decisions": d}, 422, "'audits'"),
        ({"code": code, "decisions": _with(session, {})}, 400, "'round'"),
        ({"round": "1", "code": code, "decisions": _with(session, {})}, 400, "'round'"),
        ({"round": 1.5, "code": code, "decisions": _with(session, {})}, 400, "'round'"),
        ({"round": 1, "code": code}, 400, "'decisions'"),
        ({"round": 1, "code": code, "decisions": [1, 2]}, 422, "object"),
        ({"round": 1, "decisions": _with(session, {})}, 403, "join code"),
    ]
    for body, status, words in cases:
        r = client.post(url, json=body)
        assert r.status_code == status and words in r.get_json()["error"], (body, r.get_json())
    assert snapshot(client, game, sid) == before


@pytest.mark.parametrize(
    "raw",
    [
        '{"round": 1, "code": "X", "decisions": {"audits": NaN}}',
        '{"round": 1, "code": "X", "decisions": {"audits": Infinity}}',
        '{"round": 1, "code": "X", "decisions": {"audits": -Infinity}}',
    ],
)
def test_nan_and_infinity_are_not_json(client, game, session, raw):
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    r = client.post(
        f"/api/sessions/{sid}/teams/1/decisions",
        data=raw.replace('"X"', json.dumps(code)),
        content_type="application/json",
    )
    assert r.status_code == 400 and "not a number JSON allows" in r.get_json()["error"]
    assert snapshot(client, game, sid) == before


def test_a_number_too_large_for_a_double_is_not_finite(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    raw = json.dumps({"round": 1, "code": code, "decisions": _with(session, {"audits": 12345})})
    r = client.post(
        f"/api/sessions/{sid}/teams/1/decisions",
        data=raw.replace("12345", "1e999"),
        content_type="application/json",
    )
    assert r.status_code == 422 and "finite" in r.get_json()["error"]
    assert snapshot(client, game, sid) == before


@pytest.mark.parametrize(
    "raw,status,words",
    [
        ('{"round": 1,', 400, "not valid JSON"),
        ("round=1", 400, "not valid JSON"),
        ("[1, 2, 3]", 400, "JSON object"),
        ('"text"', 400, "JSON object"),
        (b"\xff\xfe{}", 400, "not valid JSON"),
        ("[" * 100_000, 413, "64 KB"),
        ("[" * 20_000 + "]" * 20_000, 400, "not valid JSON"),
    ],
)
def test_malformed_bodies(client, game, session, raw, status, words):
    sid = session["session"]
    before = snapshot(client, game, sid)
    r = client.post(f"/api/sessions/{sid}/teams/1/decisions", data=raw, content_type="application/json")
    assert r.status_code == status, r.get_json()
    assert words in r.get_json()["error"]
    assert snapshot(client, game, sid) == before


def test_a_body_over_64_kb_is_refused_before_it_is_read(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    body = json.dumps({"round": 1, "code": code, "decisions": _with(session, {}), "pad": "x" * (64 * 1024)})
    r = client.post(f"/api/sessions/{sid}/teams/1/decisions", data=body, content_type="application/json")
    assert r.status_code == 413 and "64 KB" in r.get_json()["error"]
    assert snapshot(client, game, sid) == before
    # sent in chunks, with no length to refuse it by: the same refusal, not "truncated JSON"
    r = client.post(
        f"/api/sessions/{sid}/teams/1/decisions",
        input_stream=io.BytesIO(body.encode()),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 413 and "64 KB" in r.get_json()["error"], r.get_json()
    assert snapshot(client, game, sid) == before
    # just under the limit is read (and then judged on its content)
    small = json.dumps({"round": 1, "code": code, "decisions": _with(session, {})})
    assert decide(client, sid, 1, code, _with(session, {})).status_code == 200 and len(small) < 64 * 1024
    r = client.post(  # and a small body in chunks is read as any other
        f"/api/sessions/{sid}/teams/1/decisions",
        input_stream=io.BytesIO(small.encode()),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert r.status_code == 200, r.get_json()


def test_not_json_content_type(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    r = client.post(
        f"/api/sessions/{sid}/teams/1/decisions",
        data=json.dumps({"round": 1, "code": code, "decisions": _with(session, {})}),
        content_type="text/plain",
    )
    assert r.status_code == 415 and "application/json" in r.get_json()["error"]
    assert snapshot(client, game, sid) == before


def test_wrong_join_code_and_another_teams_code(client, game, session):
    sid = session["session"]
    before = snapshot(client, game, sid)
    for code in ("AAAAAA", session["teams"][1]["code"], "", 123456, None):
        r = decide(client, sid, 1, code, _with(session, {}))
        assert r.status_code == 403 and "join code" in r.get_json()["error"]
    assert snapshot(client, game, sid) == before


def test_unknown_session_and_team(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    before = snapshot(client, game, sid)
    for team in ("4", "0", "-1", "abc", "1.0", " 1", "99999999999999999999"):
        r = decide(client, sid, team, code, _with(session, {}))
        assert r.status_code == 404 and "no team" in r.get_json()["error"], team
    for other in ("nosuchid", "x" * 300):
        assert decide(client, other, 1, code, _with(session, {})).status_code == 404
        for action in ("advance", "lock", "unlock", "end"):
            r = client.post(f"/api/sessions/{other}/{action}", json={})
            assert r.status_code == 404 and "no session" in r.get_json()["error"]
        assert client.get(f"/api/sessions/{other}").status_code == 404
        assert client.get(f"/api/sessions/{other}/debrief").status_code == 404
    assert client.get("/api/nothing").get_json()["error"]
    assert client.delete(f"/api/sessions/{sid}").status_code == 405
    assert snapshot(client, game, sid) == before


def test_locked_past_future_and_ended_rounds(client, game, session):
    sid, code = session["session"], session["teams"][0]["code"]
    assert client.post(f"/api/sessions/{sid}/lock", json={}).get_json()["status"] == "locked"
    before = snapshot(client, game, sid)
    r = decide(client, sid, 1, code, _with(session, {}))
    assert r.status_code == 409 and "locked" in r.get_json()["error"]
    assert client.post(f"/api/sessions/{sid}/lock", json={}).status_code == 409
    assert snapshot(client, game, sid) == before
    assert client.post(f"/api/sessions/{sid}/unlock", json={}).get_json()["status"] == "open"
    assert client.post(f"/api/sessions/{sid}/advance").get_json()["round"] == 2
    before = snapshot(client, game, sid)
    for rnd, words in ((1, "is over"), (3, "has not started"), (0, "is over")):
        r = decide(client, sid, 1, code, _with(session, {}), rnd=rnd)
        assert r.status_code == 409 and words in r.get_json()["error"]
    assert snapshot(client, game, sid) == before
    assert client.post(f"/api/sessions/{sid}/end", json={}).get_json()["status"] == "finished"
    before = snapshot(client, game, sid)
    r = decide(client, sid, 1, code, _with(session, {}), rnd=2)
    assert r.status_code == 409 and "ended" in r.get_json()["error"]
    for action in ("advance", "end", "lock"):
        assert client.post(f"/api/sessions/{sid}/{action}", json={}).status_code == 409
    assert snapshot(client, game, sid) == before


def test_bad_session_creation(client, game):
    before = rows(game)
    for body in (
        {"teams": 0},
        {"teams": 61},
        {"teams": "3"},
        {"teams": 2.5},
        {"teams": True},
        {"rounds": 3},
        [3],
    ):
        r = client.post("/api/sessions", json=body)
        assert r.status_code == 400 and r.get_json()["error"], body
    assert rows(game) == before
    assert client.post("/api/sessions").status_code == 201  # no body: the workshop file's number of teams


def test_actions_take_no_body(client, session):
    r = client.post(f"/api/sessions/{session['session']}/advance", json={"round": 2})
    assert r.status_code == 400


def test_other_sites_and_host_names_are_refused(client, game, session):
    sid = session["session"]
    before = snapshot(client, game, sid)
    r = client.post(f"/api/sessions/{sid}/advance", json={}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403
    r = client.get(f"/api/sessions/{sid}", headers={"Host": "evil.example"})
    assert r.status_code == 403
    assert snapshot(client, game, sid) == before
    ok = client.post(f"/api/sessions/{sid}/lock", json={}, headers={"Origin": "http://localhost"})
    assert ok.status_code == 200


def test_room_mode_keeps_facilitator_actions_and_codes_on_this_computer(game):
    app = create_app(game, room=True, analyses=False)
    local = app.test_client()
    remote = app.test_client()
    remote.environ_base["REMOTE_ADDR"] = "192.168.1.23"
    created = local.post("/api/sessions", json={"teams": 2}).get_json()
    sid, code = created["session"], created["teams"][0]["code"]
    assert remote.post("/api/sessions", json={"teams": 2}).status_code == 403
    for action in ("advance", "lock", "end"):
        assert remote.post(f"/api/sessions/{sid}/{action}", json={}).status_code == 403
    assert remote.get("/").status_code == 403 and remote.get(f"/sessions/{sid}").status_code == 403
    seen = remote.get(f"/api/sessions/{sid}").get_json()
    assert all("code" not in t for t in seen["teams"])
    assert all("code" in t for t in local.get(f"/api/sessions/{sid}").get_json()["teams"])
    r = remote.post(
        f"/api/sessions/{sid}/teams/1/decisions",
        json={"round": 1, "code": code.lower(), "decisions": game.workshop.defaults()},
        headers={"Host": "192.168.1.5:8050"},
    )
    assert r.status_code == 200
    assert remote.get(f"/sessions/{sid}/teams/1").status_code == 200


# ------------------------------------------------------------ rounds and runs
def test_advance_plays_every_team_and_carries_missing_decisions(client, game, model, workshop, session):
    sid = session["session"]
    codes = {t["team"]: t["code"] for t in session["teams"]}
    d1 = _with(session, {"ngo_rescue": 200, "survivor_collectives": 500})
    d2 = _with(session, {"ngo_shelter": 300, "police_training": 500, "shelter_stay": 0.25})
    assert decide(client, sid, 1, codes[1], d2).status_code == 200
    assert decide(client, sid, 1, codes[1], d1).status_code == 200  # changed its mind: the last one counts
    s = client.post(f"/api/sessions/{sid}/advance", json={}).get_json()
    assert (s["round"], s["played"], s["status"]) == (2, 1, "open")
    assert decide(client, sid, 2, codes[2], d2, rnd=2).status_code == 200
    s = client.post(f"/api/sessions/{sid}/advance", json={}).get_json()
    t1, t2, t3 = s["teams"]
    assert t1["decisions"]["1"] == {"decisions": d1, "source": "team", "submissions": 2}
    assert t1["decisions"]["2"]["decisions"] == d1 and t1["decisions"]["2"]["source"] == "carried"
    assert t2["decisions"]["1"]["source"] == "default" and t2["decisions"]["2"]["decisions"] == d2
    assert t3["decisions"]["2"]["decisions"] == workshop.defaults()
    # each run is its decision log replayed, and the same as the model run under the team's scenario
    for t in s["teams"]:
        log = [t["decisions"][str(k)]["decisions"] for k in (1, 2)]
        again = replay(model, workshop, log).results
        assert t["series"]["time"] == [float(x) for x in again.time]
        for ind in workshop.indicators:
            assert t["series"][ind.name] == [float(v) for v in again[ind.name].values[:, 0]]
        # the numpy path, as the stepped run uses: bit for bit (the compiled kernel agrees to 1e-12, not bits)
        whole = ts.simulate(model, scenario=team_scenario(model, workshop, log), backend="numpy").sel(
            time=slice(0, 10)
        )
        for ind in workshop.indicators:
            assert np.array_equal(whole[ind.name].values[:, 0], t["series"][ind.name])
    assert t1["series"] != t2["series"] != t3["series"]
    assert len(t1["series"]["time"]) == 41 and t1["series"]["time"][-1] == 10.0


def test_the_state_file_alone_rebuilds_every_session(client, game, model, workshop, session):
    sid = session["session"]
    codes = {t["team"]: t["code"] for t in session["teams"]}
    decide(client, sid, 2, codes[2], _with(session, {"audits": 600, "ngo_rescue": 100}))
    client.post(f"/api/sessions/{sid}/advance", json={})
    decide(client, sid, 1, codes[1], _with(session, {"witness_support": 600, "ngo_shelter": 100}), rnd=2)
    client.post(f"/api/sessions/{sid}/lock", json={})
    before = client.get(f"/api/sessions/{sid}").get_json()
    again = Game(model, workshop, game.store.path)
    try:
        assert again.state(sid) == before
    finally:
        again.store.close()


def test_sessions_of_another_workshop_are_listed_not_resumed(game, model, workshop, client, session):
    other = load_workshop(DATA / "courts_workshop.toml", ts.load(DATA / "courts.toml"))
    g = Game(ts.load(DATA / "courts.toml"), other, game.store.path)
    try:
        assert session["session"] in g.unavailable() and not g.session_ids()
        with pytest.raises(Exception, match="another workshop file"):
            g.get(session["session"])
    finally:
        g.store.close()


def test_debrief_has_teams_and_references_and_blocks_of_each_run(tmp_path):
    m = ts.load(DATA / "courts.toml")
    w = load_workshop(DATA / "courts_workshop.toml", m)
    g = Game(m, w, tmp_path / "state.sqlite")
    c = create_app(g, analyses=True, blocks=True).test_client()
    s = c.post("/api/sessions", json={"teams": 2}).get_json()
    sid, codes = s["session"], [t["code"] for t in s["teams"]]
    plays = [
        [{"police": 50, "ngo": 50}, {"police": 80, "ngo": 20}, {"police": 80, "ngo": 20}],
        [{"police": 20, "ngo": 80}] * 3,
    ]
    for k in range(3):
        for team, code in ((1, codes[0]), (2, codes[1])):
            assert decide(c, sid, team, code, plays[team - 1][k], rnd=k + 1).status_code == 200
        c.post(f"/api/sessions/{sid}/advance", json={})
    d = c.get(f"/api/sessions/{sid}/debrief").get_json()
    assert [r["id"] for r in d["runs"]] == ["team-1", "team-2", "police_first"]
    deadline = time.monotonic() + 120
    while not d["complete"] and time.monotonic() < deadline:
        time.sleep(0.3)
        d = c.get(f"/api/sessions/{sid}/debrief").get_json()
    assert d["complete"], d["runs"]
    for run, scenario in zip(
        d["runs"], [team_scenario(m, w, plays[0]), team_scenario(m, w, plays[1]), "police_first"]
    ):
        assert run["dominance"]["status"] == "done"
        assert run["blocks"]["status"] == "done"
        direct = ts.find_blocks(m, "cases_convicted", scenario=scenario, n=4, seed=1)
        assert [b["kind"] for b in run["blocks"]["blocks"]] == [b.kind for b in direct.blocks][:5]
        assert [b["severity"] for b in run["blocks"]["blocks"]] == [float(b.severity) for b in direct.blocks][
            :5
        ]
    assert "capacity_ceiling" in [b["kind"] for b in d["runs"][0]["blocks"]["blocks"]]
    assert d["runs"][0]["decisions"] == [{k: float(v) for k, v in p.items()} for p in plays[0]]
    # the export carries it all inline, and asks for nothing
    page = c.get(f"/sessions/{sid}/debrief.html")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert not re.findall(r'(?:src|href|action)\s*=\s*"(?!data:)', html)
    assert set(re.findall(r"https?://[^\s\"']*", html)) == {
        "http://www.w3.org/2000/svg"
    }  # a name, not a request
    embedded = html.split('id="debrief-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(embedded)["runs"] == d["runs"]
    g.store.close()


def test_pages_and_assets_are_served_by_the_app(client, session):
    sid = session["session"]
    for path in (
        "/",
        f"/sessions/{sid}",
        f"/sessions/{sid}/summary",
        f"/sessions/{sid}/teams/1",
        f"/sessions/{sid}/debrief",
    ):
        r = client.get(path)
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        assert not re.findall(r"https?://", html)
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        for asset in [x.split('"', 1)[0] for x in html.split('src="')[1:] + html.split('href="')[1:]]:
            if asset.startswith("/static/"):
                assert client.get(asset).status_code == 200, asset
    assert client.get(f"/sessions/{sid}/teams/9").status_code == 404


def test_workshop_file_errors_name_the_file_and_field(model, tmp_path):
    text = default_workshop_path().read_text()
    cases = {
        'default = 600\nstep = 50\nhelp = "Pays NGO': (
            'default = 650\nstep = 50\nhelp = "Pays NGO',
            "add up to 2050",
        ),
        'constant = "share_audits"': ('constant = "share_audit"', "no constant 'share_audit'"),
        "rounds = 6": ("rounds = 7", "only 30"),
        "years_per_round = 5": ("years_per_round = 4.9", "whole number of the model's time steps"),
        "teams = 4": ("teams = 4\ncolour = 1", "unknown field 'colour'"),
        'better = "lower"': ('better = "less"', "better must be"),
        '"state_accountable"]': ('"state_led"]', "no scenario 'state_led'"),
        'loop = "impunity"': ('loop = "impunity_loop"', "no loop 'impunity_loop'"),
    }
    for old, (new, words) in cases.items():
        assert old in text, old
        p = tmp_path / "w.toml"
        p.write_text(text.replace(old, new, 1))
        with pytest.raises(ts.FileFormatError, match=words) as e:
            load_workshop(p, model)
        assert str(p) in str(e.value)
    p.write_text("[workshop\n")
    with pytest.raises(ts.FileFormatError, match="not valid TOML"):
        load_workshop(p, model)


def test_bound_checks_agree_at_the_edges(workshop):
    d = workshop.defaults()
    edge = dict(d, ngo_rescue=1200.0, ngo_shelter=0.0, shelter_stay=2.0)
    assert workshop.check_decision(edge) == edge
    assert math.isclose(sum(v for k, v in edge.items() if k != "shelter_stay"), 2000)


# ------------------------------------------------------------ the command
def test_command_is_registered_with_help():
    from trafficsys.cli import COMMANDS, build_parser

    assert "workshop" in COMMANDS
    text = build_parser()._subparsers._group_actions[0].choices["workshop"].format_help()
    for option in ("--workshop", "--port", "--host", "--state", "--no-blocks", "8050", "docs/workshop.md"):
        assert option in text.replace("\n", " ").replace("  ", " "), option


def test_command_needs_the_workshop_file_of_a_model_and_names_a_bad_one(tmp_path, capsys):
    from trafficsys.cli import main

    assert main(["workshop", str(DATA / "courts.toml"), "--state", str(tmp_path / "s.sqlite")]) == 2
    assert "--workshop FILE" in capsys.readouterr().err
    bad = tmp_path / "w.toml"
    bad.write_text(
        (DATA / "courts_workshop.toml")
        .read_text()
        .replace("default = 50\nstep = 5\n\n[levers.ngo]", "default = 60\nstep = 5\n\n[levers.ngo]")
    )
    assert (
        main(
            [
                "workshop",
                str(DATA / "courts.toml"),
                "--workshop",
                str(bad),
                "--state",
                str(tmp_path / "s.sqlite"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert str(bad) in err and "add up to 110" in err and "Traceback" not in err
    assert not (tmp_path / "s.sqlite").exists()


def test_the_guide_documents_every_field_and_endpoint():
    from trafficsys.workshop import config
    from trafficsys.workshop.app import create_app as real

    doc = (support.REPO / "docs" / "workshop.md").read_text()
    fmt = doc.split("## Writing a workshop file", 1)[1].split("\n## ", 1)[0]
    fields = config._WORKSHOP_KEYS | config._LEVER_KEYS | config._INDICATOR_KEYS | config._DEBRIEF_KEYS
    for field in fields - {"questions"}:
        assert re.search(rf"^{field} = ", fmt, flags=re.M), field
    assert "[[debrief.questions]]" in fmt
    m = ts.load(DATA / "courts.toml")
    g = Game(m, load_workshop(DATA / "courts_workshop.toml", m), ":memory:")
    rules = [r.rule for r in real(g, analyses=False).url_map.iter_rules() if not r.rule.startswith("/static")]
    assert len(rules) >= 14
    for rule in rules:
        assert rule.replace("<sid>", "{session}").replace("<team>", "{team}") in doc, rule


def test_runs_scored_together_get_the_numbers_they_get_alone(logistic_model):
    from trafficsys.workshop.debrief import dominance_summaries, dominance_summary

    runs = [ts.simulate(logistic_model, params={"r": r}) for r in (0.3, 0.5, 0.9)]
    together = dominance_summaries(logistic_model, runs, window=2)
    assert together == [dominance_summary(logistic_model, r, window=2) for r in runs]
    assert together[0]["periods"] != together[2]["periods"]  # the runs differ, and so do their stories
    with pytest.raises(ts.ModelError, match="same times"):
        dominance_summaries(logistic_model, [runs[0], runs[1].sel(time=slice(0, 10))])


def test_a_session_ended_before_any_round_has_a_debrief_that_says_so(game):
    c = create_app(game, analyses=True, blocks=False).test_client()
    sid = c.post("/api/sessions", json={"teams": 1}).get_json()["session"]
    assert c.get(f"/api/sessions/{sid}/debrief").get_json()["runs"][0]["dominance"]["status"] == "later"
    c.post(f"/api/sessions/{sid}/end", json={})
    d = c.get(f"/api/sessions/{sid}/debrief").get_json()
    assert all(r["dominance"] == {"status": "off", "reason": "no round was played"} for r in d["runs"])
    assert d["runs"][0]["decisions"] == [] and len(d["runs"][0]["series"]["time"]) == 1
    assert c.get(f"/sessions/{sid}/debrief.html").status_code == 200


@pytest.mark.parametrize(
    "host,room",
    [
        ("127.0.0.1", False),
        ("localhost", False),
        ("::1", False),
        ("127.0.0.2", False),
        ("0.0.0.0", True),
        ("192.168.1.5", True),
        ("::", True),
        ("laptop.local", True),
    ],
)
def test_only_an_address_beyond_this_computer_is_room_mode(host, room):
    from trafficsys.commands.workshop import _loopback

    assert _loopback(host) is not room
