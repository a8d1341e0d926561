"""``trafficsys workshop``: the trainers' simulation game, served on this computer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ModelError
from ._args import MODEL_HELP

__all__ = ["add_arguments", "run", "DEFAULT_PORT", "DEFAULT_STATE"]

DEFAULT_PORT = 8050
DEFAULT_STATE = "trafficsys-workshop.sqlite"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is from 1 to 65535, got {value}")
    return value


def _loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the command's options."""
    parser.description = (
        "Serve the workshop simulator: a facilitator's page, one page per team (with a join code) and a debrief "
        "with the reference strategies. Teams decide each round how to spend the budget; each team's run is the "
        "model stepped round by round with its decisions. Without arguments: the reference model and its shipped "
        "workshop file. Every action is saved to the state file before it is acknowledged, so a stopped server "
        "resumes where it was. See docs/workshop.md."
    )
    parser.add_argument("model", nargs="?", help=MODEL_HELP + " (give its workshop file with --workshop)")
    parser.add_argument(
        "--workshop",
        metavar="FILE",
        help="workshop file: rounds, years per round, budget, levers, teams, indicators, debrief "
        "(default: the one shipped for the reference model)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port to serve on (default {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--host",
        metavar="ADDR",
        help="address to serve on, e.g. 0.0.0.0 for teams on the room's network (default: "
        "127.0.0.1, this computer only); teams then type their join codes",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        default=DEFAULT_STATE,
        help=f"SQLite file holding every session (default ./{DEFAULT_STATE}; created if missing, "
        "resumed if present)",
    )
    parser.add_argument(
        "--no-blocks",
        action="store_true",
        help="leave systemic blocks out of the debrief (each team's takes tens of seconds)",
    )


def run(args: argparse.Namespace) -> int:
    """Load the model and workshop file, open the state file and serve until Ctrl-C."""
    import trafficsys as ts

    from ..workshop import Game, create_app, default_workshop_path, load_workshop
    from ..workshop.server import check_address, make_server

    if args.model and not args.workshop:
        raise ModelError(
            "give the workshop file for this model with --workshop FILE (rounds, budget, levers...; "
            "docs/workshop.md shows how to write one)",
            file=args.model,
        )
    model = ts.load(args.model) if args.model else ts.load_default()
    workshop = load_workshop(args.workshop or default_workshop_path(), model)
    host = args.host or "127.0.0.1"
    room = not _loopback(host)  # --host 127.0.0.1 (or localhost) is the default, said explicitly
    check_address(host, args.port)  # a taken port is refused before the state file is created
    game = Game(model, workshop, args.state)
    app = create_app(game, room=room, blocks=not args.no_blocks, own_addresses={host})
    server = make_server(app, host, args.port)
    shown = f"[{host}]" if ":" in host else host
    wildcard = host in ("0.0.0.0", "::")
    print(f"trafficsys workshop: {workshop.title}")
    print(f"  model: {model.name}; workshop file: {workshop.file}")
    print(f"  state: {Path(game.store.path).resolve()} ({len(game.session_ids())} session(s) resumed)")
    if room:
        print(
            f"  WARNING: serving on {host}, not only this computer: anyone on this network can open the team "
            "pages. Each team needs its join code (shown on the facilitator's page); the facilitator's pages and "
            "actions answer only on this computer. Teams open this computer's network address"
            f"{'' if wildcard else f' (http://{shown}:{args.port}/)'} followed by their team's link.",
            file=sys.stderr,
            flush=True,
        )
    print(f"http://{'127.0.0.1' if wildcard else shown}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print(f"\nstopped; every acknowledged action is in {Path(game.store.path).resolve()}")
    finally:
        server.server_close()
        game.store.close()
    return 0
