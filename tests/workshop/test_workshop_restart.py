"""`kill -9` the workshop server mid-session and start it again on the same state file.

Every acknowledged decision is still there, every team's run is identical,
and the game goes on as if nothing had happened.  Also: a taken port is
refused with a message, not a traceback.
"""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import sys
import threading
import time

import pytest
from support.workshop_server import ROOT, Server

import trafficsys as ts

pytest.importorskip("flask")
from trafficsys.workshop import default_workshop_path, load_workshop, replay  # noqa: E402


def test_kill_9_and_restart_resumes_every_session_exactly(tmp_path):
    state = tmp_path / "state.sqlite"
    srv = Server(state, "--no-blocks")
    try:
        status, created = srv.call("POST", "/api/sessions", {"teams": 3})
        assert status == 201
        sid = created["session"]
        codes = {t["team"]: t["code"] for t in created["teams"]}
        levers = created["levers"]
        base = {k: v["default"] for k, v in levers.items()}
        for rnd in (1, 2):
            for team in (1, 2):
                d = dict(base, ngo_rescue=600 - 100 * team * rnd, survivor_collectives=100 + 100 * team * rnd)
                assert (
                    srv.call(
                        "POST",
                        f"/api/sessions/{sid}/teams/{team}/decisions",
                        {"round": rnd, "code": codes[team], "decisions": d},
                    )[0]
                    == 200
                )
            assert srv.call("POST", f"/api/sessions/{sid}/advance", {})[0] == 200
        # a burst of decisions for round 3, killed while it runs
        acked: dict[int, list[dict]] = {1: [], 2: [], 3: []}
        stop = threading.Event()

        def burst(team):
            i = 0
            while not stop.is_set():
                i += 1
                d = dict(base, audits=100 + (i % 20) * 5, ngo_shelter=600 - (i % 20) * 5)
                try:
                    st, body = srv.call(
                        "POST",
                        f"/api/sessions/{sid}/teams/{team}/decisions",
                        {"round": 3, "code": codes[team], "decisions": d},
                    )
                except Exception:  # the server died under us: that request was not acknowledged
                    return
                if st == 200:
                    acked[team].append(body["decisions"])

        threads = [threading.Thread(target=burst, args=(t,)) for t in (1, 2, 3)]
        for t in threads:
            t.start()
        while min(len(v) for v in acked.values()) < 3:
            time.sleep(0.02)
        before_kill = srv.call("GET", f"/api/sessions/{sid}")[1]
        srv.kill()
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        srv.stop()

    again = Server(state, "--no-blocks")
    try:
        status, after = again.call("GET", f"/api/sessions/{sid}")
        assert status == 200
        assert (after["round"], after["played"], after["status"]) == (3, 2, "open")
        for t in after["teams"]:
            # the rounds played: the same decisions, the same runs, to the last bit
            old = before_kill["teams"][t["team"] - 1]
            for k in ("1", "2"):
                assert t["decisions"][k] == old["decisions"][k]
            assert t["series"] == old["series"]
            # round 3: every acknowledged decision was kept (at most one more, sent but not acknowledged)
            got = t["decisions"]["3"]
            n = len(acked[t["team"]])
            assert n <= got["submissions"] <= n + 1, (n, got)
            if got["submissions"] == n:
                assert got["decisions"] == acked[t["team"]][-1]
        # and the game goes on: play round 3, check each run against its decision log replayed
        assert again.call("POST", f"/api/sessions/{sid}/advance", {})[0] == 200
        final = again.call("GET", f"/api/sessions/{sid}")[1]
    finally:
        again.stop()
    m = ts.load_default()
    w = load_workshop(default_workshop_path(), m)
    for t in final["teams"]:
        log = [t["decisions"][str(k)]["decisions"] for k in (1, 2, 3)]
        r = replay(m, w, log).results
        assert t["series"]["in_exploitation"] == [float(v) for v in r["in_exploitation"].values[:, 0]]
        assert t["series"]["cases_convicted"] == [float(v) for v in r["cases_convicted"].values[:, 0]]


def test_a_taken_port_is_refused_cleanly(tmp_path):
    srv = Server(tmp_path / "a.sqlite", "--no-blocks")
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "trafficsys.cli",
                "workshop",
                "--port",
                str(srv.port),
                "--state",
                str(tmp_path / "b.sqlite"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "src")},
        )
    finally:
        srv.stop()
    assert out.returncode == 2, out
    # one line, ours: not Werkzeug's own lines before it, no traceback
    assert out.stderr.splitlines() == [
        f"trafficsys workshop: error: port {srv.port} on 127.0.0.1 is already in use (is another workshop "
        "server running?); stop it, or choose another port with --port N"
    ], out.stderr
    assert out.stdout == ""
    assert not list(tmp_path.glob("b.sqlite*")), "a server that cannot start created a state file"


def test_a_port_taken_between_the_check_and_the_bind_is_refused_in_one_message():
    from trafficsys.workshop.server import PortInUseError, make_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use") as caught:
            with contextlib.redirect_stderr(io.StringIO()) as said:
                make_server(lambda env, start: [], "127.0.0.1", port)
    assert said.getvalue() == "", "Werkzeug's own message reached the terminal"
    assert "--port N" in str(caught.value)


def test_the_load_benchmark_runs_small(capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("workshop_load", ROOT / "benchmarks" / "workshop_load.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(teams=4, rounds=2, timeout=300) == 0
    out = capsys.readouterr().out
    assert (
        "4 teams x 2 rounds" in out and "no decision lost, duplicated or changed (8 sent, 8 kept once)" in out
    )
