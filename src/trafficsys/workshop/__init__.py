"""The trainers' workshop simulator: ``trafficsys workshop``.

Teams play a programme round by round, each a :class:`~trafficsys.Simulation`
stepped with its decisions; the facilitator locks and advances rounds; the
debrief sets every team beside the reference strategies with the loops that
dominated and the blocks found.  A local Flask app (``create_app``) with a
JSON API, every action kept in SQLite (``Store``) before it is acknowledged.
Flask is an optional dependency (``pip install "trafficsys[workshop]"``):
this package imports it only in :func:`create_app`.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelError
from .config import DecisionError, Indicator, Lever, Question, Workshop, default_workshop_path, load_workshop
from .game import ActionError, Game, Session, play_round, replay, team_scenario
from .store import Store

__all__ = [
    "Workshop",
    "Lever",
    "Indicator",
    "Question",
    "DecisionError",
    "load_workshop",
    "default_workshop_path",
    "Game",
    "Session",
    "ActionError",
    "Store",
    "replay",
    "play_round",
    "team_scenario",
    "create_app",
]


def create_app(game: Game, **kwargs: Any) -> Any:
    """Build the Flask app (see :func:`trafficsys.workshop.app.create_app`); needs Flask."""
    try:
        from .app import create_app as _create
    except ModuleNotFoundError as e:  # flask is in the workshop and test extras
        if (e.name or "").startswith("trafficsys"):
            raise  # our own module is missing: not Flask's fault
        raise ModelError(
            f'the workshop needs Flask ({e.name} is missing): pip install "trafficsys[workshop]"'
        ) from None
    return _create(game, **kwargs)
