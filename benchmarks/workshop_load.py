"""Load on the workshop server: 30 teams submitting at once, for 10 rounds, on loopback.

Starts ``trafficsys workshop`` as a real server (its own process, a fresh state
file, the reference model with a 10-round variant of the shipped workshop
file), then each round every team's thread submits its decision at the same
moment and the facilitator plays the round.  Prints the p50/p95/p99 latency of
a decision and of an advance, side by side with the ratio to the median, and
checks that every decision sent is in the state exactly once, as sent (the
API's view and the rows of the state file).  Bounded: ``--teams`` at most 60,
``--rounds`` at most 30, and the whole run must finish within ``--timeout``.

    python benchmarks/workshop_load.py [--teams 30] [--rounds 10] [--timeout 600]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def call(base: str, method: str, path: str, body=None, timeout: float = 120) -> tuple[int, dict, float]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
    )
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            out = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        out = e.code, json.loads(e.read())
    return (*out, time.perf_counter() - t0)


def workshop_file(rounds: int, folder: Path) -> Path:
    """The shipped workshop file with ``rounds`` rounds over the model's 30 years (and room for 60 teams)."""
    import trafficsys as ts
    from trafficsys.workshop import default_workshop_path

    text = default_workshop_path().read_text()
    data = tomllib.loads(text)
    horizon = ts.load_default().specs.stop
    years = horizon / rounds
    old = data["workshop"]
    path = folder / "load_workshop.toml"
    path.write_text(
        text.replace(f"rounds = {old['rounds']}\n", f"rounds = {rounds}\n", 1).replace(
            f"years_per_round = {old['years_per_round']}\n", f"years_per_round = {years!r}\n", 1
        )
    )
    return path


def decision(levers: dict, team: int, rnd: int) -> dict:
    """A decision unique to (team, round): money moves from raids to collectives and audits."""
    d = {k: v["default"] for k, v in levers.items()}
    move = 10 * ((team * 7 + rnd * 3) % 50)  # 0..490, multiples of 10
    d["ngo_rescue"] -= move
    d["survivor_collectives"] += move // 2
    d["audits"] += move - move // 2
    d["shelter_stay"] = 0.25 + 0.25 * ((team + rnd) % 8)
    return d


def percentiles(xs: list[float]) -> tuple[float, float, float]:
    a = np.asarray(xs) * 1000
    return tuple(float(np.percentile(a, q)) for q in (50, 95, 99))


def main(teams: int = 30, rounds: int = 10, timeout: float = 600) -> int:
    if not 1 <= teams <= 60 or not 1 <= rounds <= 30:
        raise SystemExit("--teams must be 1..60 and --rounds 1..30")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wfile = workshop_file(rounds, folder)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        state = folder / "state.sqlite"
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])
        )
        log = open(folder / "server.log", "w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "trafficsys.cli",
                "workshop",
                "--workshop",
                str(wfile),
                "--port",
                str(port),
                "--state",
                str(state),
                "--no-blocks",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        try:
            while True:
                try:
                    call(base, "GET", "/api/sessions", timeout=2)
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(
                            "the server did not start:\n" + (folder / "server.log").read_text()
                        ) from None
                    time.sleep(0.2)
            status, created, _ = call(base, "POST", "/api/sessions", {"teams": teams})
            assert status == 201, created
            sid, levers = created["session"], created["levers"]
            codes = {t["team"]: t["code"] for t in created["teams"]}
            decide_lat: list[float] = []
            advance_lat: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            t_start = time.perf_counter()
            for rnd in range(1, rounds + 1):
                barrier = threading.Barrier(teams)

                def submit(team: int, rnd: int = rnd, barrier: threading.Barrier = barrier) -> None:
                    barrier.wait()
                    body = {"round": rnd, "code": codes[team], "decisions": decision(levers, team, rnd)}
                    st, ans, dt = call(base, "POST", f"/api/sessions/{sid}/teams/{team}/decisions", body)
                    with lock:
                        decide_lat.append(dt)
                        if st != 200:
                            errors.append(f"team {team} round {rnd}: {st} {ans}")

                threads = [threading.Thread(target=submit, args=(t,)) for t in codes]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(max(1.0, deadline - time.monotonic()))
                if time.monotonic() > deadline or any(t.is_alive() for t in threads):
                    raise SystemExit(f"over the time bound ({timeout:g} s) in round {rnd}")
                st, ans, dt = call(base, "POST", f"/api/sessions/{sid}/advance", {})
                assert st == 200, ans
                advance_lat.append(dt)
            total = time.perf_counter() - t_start
            _, final, _ = call(base, "GET", f"/api/sessions/{sid}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        # every decision sent is in the state exactly once, as sent
        assert not errors, errors[:5]
        lost, duplicated, changed = [], [], []
        for t in final["teams"]:
            for rnd in range(1, rounds + 1):
                got = t["decisions"].get(str(rnd))
                if got is None or got["source"] != "team":
                    lost.append((t["team"], rnd))
                    continue
                if got["submissions"] != 1:
                    duplicated.append((t["team"], rnd, got["submissions"]))
                if got["decisions"] != decision(levers, t["team"], rnd):
                    changed.append((t["team"], rnd))
        db = sqlite3.connect(state)
        rows = db.execute(
            "SELECT team, round, COUNT(*) FROM decisions WHERE session = ? AND source = 'team' "
            "GROUP BY team, round",
            (sid,),
        ).fetchall()
        db.close()
        assert final["status"] == "finished" and final["played"] == rounds
        assert not lost, f"lost decisions: {lost[:10]}"
        assert not duplicated, f"duplicated decisions: {duplicated[:10]}"
        assert not changed, f"decisions stored other than sent: {changed[:10]}"
        assert len(rows) == teams * rounds and all(n == 1 for _, _, n in rows), "state file rows disagree"
    d50, d95, d99 = percentiles(decide_lat)
    a50, a95, a99 = percentiles(advance_lat)
    print(
        f"workshop load: {teams} teams x {rounds} rounds on loopback, {len(decide_lat)} decisions in {total:.1f} s"
    )
    print(f"  {'':<26}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'p95/p50':>9}{'p99/p50':>9}")
    print(
        f"  {f'decision ({teams} at once)':<26}{d50:>9.1f}{d95:>9.1f}{d99:>9.1f}{d95 / d50:>9.1f}{d99 / d50:>9.1f}"
    )
    print(f"  {'advance (all teams)':<26}{a50:>9.1f}{a95:>9.1f}{a99:>9.1f}{a95 / a50:>9.1f}{a99 / a50:>9.1f}")
    print(f"  advance / decision at p50: {a50 / d50:.1f}x")
    print(f"  no decision lost, duplicated or changed ({teams * rounds} sent, {teams * rounds} kept once)")
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teams", type=int, default=30)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--timeout", type=float, default=600, help="seconds the whole run may take")
    a = p.parse_args()
    sys.exit(main(a.teams, a.rounds, a.timeout))
