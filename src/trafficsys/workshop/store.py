"""The workshop's durable record: one SQLite file, written before any action is acknowledged.

The record is a log: sessions (with the workshop they were played with),
teams and their join codes, every accepted decision, and the facilitator's
actions.  Everything else (the simulations, the indicator series) is rebuilt
from it, so killing the server at any moment loses nothing that was
acknowledged.  Derived analyses for the debrief are cached in it too; they are
recomputed when missing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, created REAL NOT NULL, workshop TEXT NOT NULL, workshop_digest TEXT NOT NULL,
    model_digest TEXT NOT NULL, round INTEGER NOT NULL, played INTEGER NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS teams (
    session TEXT NOT NULL, team INTEGER NOT NULL, code TEXT NOT NULL, PRIMARY KEY (session, team));
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, team INTEGER NOT NULL, round INTEGER NOT NULL,
    decision TEXT NOT NULL, source TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_by_session ON decisions (session, team, round);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, kind TEXT NOT NULL, round INTEGER NOT NULL,
    at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS analyses (
    scope TEXT NOT NULL, run TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
    PRIMARY KEY (scope, run, kind));
"""


class Store:
    """The SQLite file; every method that writes commits (with a full sync) before it returns."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it is on disk when the block ends, or none of it."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------ writes
    def create_session(
        self,
        sid: str,
        workshop: dict[str, Any],
        workshop_digest: str,
        model_digest: str,
        codes: dict[int, str],
    ) -> None:
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, 1, 0, 'open')",
                (sid, now, json.dumps(workshop), workshop_digest, model_digest),
            )
            db.executemany("INSERT INTO teams VALUES (?, ?, ?)", [(sid, t, c) for t, c in codes.items()])
            db.execute("INSERT INTO events (session, kind, round, at) VALUES (?, 'create', 1, ?)", (sid, now))

    def add_decision(
        self, sid: str, team: int, rnd: int, decision: dict[str, float], source: str = "team"
    ) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO decisions (session, team, round, decision, source, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sid, team, rnd, json.dumps(decision), source, time.time()),
            )
            return int(cur.lastrowid or 0)

    def set_status(
        self,
        sid: str,
        kind: str,
        rnd: int,
        played: int,
        status: str,
        carried: Sequence[tuple[int, dict[str, float], str]] = (),
    ) -> None:
        """Record a facilitator's action (and, for an advance, the decisions carried into the played round)."""
        now = time.time()
        with self.transaction() as db:
            for team, decision, source in carried:
                db.execute(
                    "INSERT INTO decisions (session, team, round, decision, source, at) VALUES (?, ?, ?, ?, ?, ?)",
                    (sid, team, played, json.dumps(decision), source, now),
                )
            db.execute(
                "UPDATE sessions SET round = ?, played = ?, status = ? WHERE id = ?",
                (rnd, played, status, sid),
            )
            db.execute(
                "INSERT INTO events (session, kind, round, at) VALUES (?, ?, ?, ?)", (sid, kind, rnd, now)
            )

    def put_analysis(self, scope: str, run: str, kind: str, payload: Any) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO analyses VALUES (?, ?, ?, ?)", (scope, run, kind, json.dumps(payload))
            )

    # ------------------------------------------------------------ reads
    def sessions(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, workshop, workshop_digest, model_digest, round, played, "
                "status FROM sessions ORDER BY created"
            ).fetchall()
        keys = ("id", "created", "workshop", "workshop_digest", "model_digest", "round", "played", "status")
        return [dict(zip(keys, r)) for r in rows]

    def teams(self, sid: str) -> dict[int, str]:
        with self._lock:
            return dict(
                self._db.execute("SELECT team, code FROM teams WHERE session = ? ORDER BY team", (sid,))
            )

    def decisions(self, sid: str) -> list[dict[str, Any]]:
        """Every recorded decision of a session, in the order they were accepted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, team, round, decision, source, at FROM decisions WHERE session = ? ORDER BY seq",
                (sid,),
            ).fetchall()
        return [
            {"seq": s, "team": t, "round": r, "decision": json.loads(d), "source": src, "at": at}
            for s, t, r, d, src, at in rows
        ]

    def analysis(self, scope: str, run: str, kind: str) -> Any:
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM analyses WHERE scope = ? AND run = ? AND kind = ?", (scope, run, kind)
            ).fetchone()
        return None if row is None else json.loads(row[0])
