"""The workshop's web app (Flask): the pages and the JSON API they use.

``create_app(game)`` builds the app; :mod:`.server` serves it.  Every page,
script and style comes from this package (``templates/``, ``static/``); the
Content-Security-Policy header forbids anything else, and the exported
debrief carries its scripts, styles and data inline.

In room mode (``--host`` given) teams reach the server over the room's
network: the facilitator's actions and pages answer only on the facilitator's
own computer (loopback), team links carry no join code, and the session
state shown to others omits the codes.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from .debrief import Analyst, debrief
from .game import ActionError, Game

__all__ = ["create_app", "MAX_BODY"]

#: the largest request body accepted (a decision is a few hundred bytes)
MAX_BODY = 64 * 1024

_HERE = Path(__file__).resolve().parent
_PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_EXPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def create_app(
    game: Game, *, room: bool = False, analyses: bool = True, blocks: bool = True, own_addresses: Any = ()
) -> Flask:
    """Build the workshop app around a :class:`~.game.Game`.

    Parameters
    ----------
    game
        The sessions and their state file.
    room
        Teams connect over the network (``--host``): facilitator actions only
        from this computer, join codes typed by the teams.
    analyses
        Compute loop dominance (and blocks) for the debrief in a background thread.
    blocks
        Include ``ts.find_blocks`` in those analyses.
    own_addresses
        Addresses the server is bound to: a request from one of them comes
        from this computer (as do loopback requests).
    """
    app = Flask(__name__, static_folder=str(_HERE / "static"), template_folder=str(_HERE / "templates"))
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.config["JSON_SORT_KEYS"] = False
    app.json.sort_keys = False  # type: ignore[attr-defined]  # the default provider has it
    analyst = Analyst(game, blocks=blocks) if analyses else None
    app.extensions["trafficsys_workshop"] = {"game": game, "analyst": analyst, "room": room}

    own = {a for a in own_addresses if a not in ("0.0.0.0", "::")}

    def local_request() -> bool:
        try:
            return ipaddress.ip_address(request.remote_addr or "").is_loopback or request.remote_addr in own
        except ValueError:
            return False

    def facilitator_only() -> None:
        if room and not local_request():
            raise ActionError("only the facilitator's computer can do this", 403)

    @app.before_request
    def _guard() -> Any:
        if not room:  # a page elsewhere must not reach the local server by a name it controls (DNS rebinding)
            if urlsplit("//" + (request.host or "")).hostname not in _LOCAL_HOSTS:
                return _error(f"this server answers only on 127.0.0.1, not {request.host!r}", 403)
        if request.method == "POST":
            origin = request.headers.get("Origin")
            if origin and origin.split("//", 1)[-1] != request.host:
                return _error("requests from other sites are refused", 403)
        return None

    @app.after_request
    def _headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", _PAGE_CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        if request.path.startswith("/api/"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(ActionError)
    def _action_error(e: ActionError) -> Any:
        return _error(e.message, e.status)

    @app.errorhandler(HTTPException)
    def _http_error(e: HTTPException) -> Any:
        if e.code == 413:
            return _error(f"the request body is larger than {MAX_BODY // 1024} KB", 413)
        if request.path.startswith("/api/"):
            return _error(e.description or e.name, e.code or 500)
        return e

    def body() -> Any:
        """Return the JSON body (None when empty), or raise a 400/415 error; NaN and Infinity are not JSON."""
        raw = request.get_data(cache=True)
        if request.content_length is None and len(raw) >= MAX_BODY:
            # a chunked body has no length to refuse it by: Werkzeug stops reading at the limit and
            # hands on the first 64 KB, which would then be judged as truncated JSON
            raise ActionError(f"the request body is larger than {MAX_BODY // 1024} KB", 413)
        if not raw.strip():
            return None
        if not request.is_json:
            raise ActionError("send the body as JSON with Content-Type: application/json", 415)
        try:
            return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as e:
            raise ActionError(f"the body is not valid JSON: {e}", 400) from None
        except RecursionError:
            raise ActionError("the body is not valid JSON: nested too deeply", 400) from None

    # ------------------------------------------------------------ API
    @app.get("/api/sessions")
    def api_sessions() -> Any:
        facilitator_only()
        out = []
        for sid in game.session_ids():
            st = game.state(sid, codes=False)
            out.append(
                {
                    "session": sid,
                    "round": st["round"],
                    "rounds": st["rounds"],
                    "status": st["status"],
                    "teams": len(st["teams"]),
                }
            )
        return jsonify(
            {
                "sessions": out,
                "unavailable": game.unavailable(),
                "title": game.workshop.title,
                "default_teams": game.workshop.teams,
            }
        )

    @app.post("/api/sessions")
    def api_create() -> Any:
        facilitator_only()
        b = body()
        if b is not None and not isinstance(b, dict):
            raise ActionError('the body must be a JSON object such as {"teams": 4}', 400)
        extra = sorted(set(b or {}) - {"teams"})
        if extra:
            raise ActionError(f"unknown field '{extra[0]}'; the body may give \"teams\"", 400)
        s = game.create((b or {}).get("teams"))
        st = game.header(s)
        return jsonify(
            {
                "session": s.id,
                "teams": [{"team": t, "code": c} for t, c in s.codes.items()],
                "round": s.round,
                "rounds": st["rounds"],
                "levers": st["levers"],
                "budget": st["budget"],
            }
        ), 201

    @app.get("/api/sessions/<sid>")
    def api_state(sid: str) -> Any:
        return jsonify(game.state(sid, codes=not room or local_request()))

    @app.get("/api/sessions/<sid>/teams/<team>")
    def api_team(sid: str, team: str) -> Any:
        return jsonify(
            game.team_state(sid, team, request.args.get("code") or request.headers.get("X-Join-Code"))
        )

    @app.post("/api/sessions/<sid>/teams/<team>/decisions")
    def api_decide(sid: str, team: str) -> Any:
        b = body()
        if b is None:
            raise ActionError('the body is empty: send {"round": k, "code": ..., "decisions": {...}}', 400)
        return jsonify(game.decide(sid, team, b))

    def _action(sid: str, fn: Any) -> Any:
        facilitator_only()
        b = body()
        if b not in (None, {}):
            raise ActionError("this action takes no body (or {})", 400)
        fn(sid)
        return jsonify(game.state(sid))

    @app.post("/api/sessions/<sid>/lock")
    def api_lock(sid: str) -> Any:
        return _action(sid, game.lock)

    @app.post("/api/sessions/<sid>/unlock")
    def api_unlock(sid: str) -> Any:
        return _action(sid, lambda s: game.lock(s, False))

    @app.post("/api/sessions/<sid>/advance")
    def api_advance(sid: str) -> Any:
        return _action(sid, game.advance)

    @app.post("/api/sessions/<sid>/end")
    def api_end(sid: str) -> Any:
        return _action(sid, game.end)

    @app.get("/api/sessions/<sid>/debrief")
    def api_debrief(sid: str) -> Any:
        return jsonify(debrief(game, analyst, sid))

    # ------------------------------------------------------------ pages
    def page(name: str, **kw: Any) -> str:
        return render_template(name, title=game.workshop.title, room=room, **kw)

    @app.get("/")
    def home() -> Any:
        facilitator_only()
        return page("home.html")

    @app.get("/sessions/<sid>")
    def console(sid: str) -> Any:
        facilitator_only()
        game.get(sid)
        return page("console.html", sid=sid)

    @app.get("/sessions/<sid>/summary")
    def summary(sid: str) -> Any:
        facilitator_only()
        game.get(sid)
        return page("summary.html", sid=sid)

    @app.get("/sessions/<sid>/teams/<team>")
    def team_page(sid: str, team: str) -> Any:
        s = game.get(sid)
        t = game.team_of(s, team)
        return page("team.html", sid=sid, team=t)

    @app.get("/sessions/<sid>/debrief")
    def debrief_page(sid: str) -> Any:
        game.get(sid)
        return page("debrief.html", sid=sid, inline=None)

    @app.get("/sessions/<sid>/debrief.html")
    def debrief_export(sid: str) -> Any:
        data = debrief(game, analyst, sid)
        inline = {
            "css": _static("app.css"),
            "js": "\n".join(_static(f) for f in ("common.js", "charts.js", "debrief.js")),
            "data": json.dumps(data).replace("<", "\\u003c"),
        }
        resp = Response(page("debrief.html", sid=sid, inline=inline), mimetype="text/html")
        resp.headers["Content-Security-Policy"] = _EXPORT_CSP
        if request.args.get("download"):
            resp.headers["Content-Disposition"] = f'attachment; filename="debrief-{sid}.html"'
        return resp

    @app.errorhandler(404)
    def _not_found(e: Any) -> Any:
        if request.path.startswith("/api/"):
            return _error("no such API endpoint; see docs/workshop.md", 404)
        return e

    return app


def _static(name: str) -> str:
    return (_HERE / "static" / name).read_text(encoding="utf-8")


def _error(message: str, status: int) -> Any:
    resp = jsonify({"error": message})
    resp.status_code = status
    return resp


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows; send a finite number")
