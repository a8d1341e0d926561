"""Serving the workshop app: Werkzeug's threaded WSGI server on one address, refused cleanly when taken."""

from __future__ import annotations

import contextlib
import errno
import io
import socket
from typing import Any

from ..errors import ModelError

__all__ = ["make_server", "check_address", "PortInUseError"]


class PortInUseError(ModelError):
    """The address and port are taken (another workshop server, or another program)."""


def _refusal(host: str, port: int, code: int | None, reason: str = "") -> PortInUseError:
    if code in (None, errno.EADDRINUSE):
        why = "is already in use (is another workshop server running?); stop it, or"
    elif code == errno.EACCES:
        why = "is not allowed for this user (ports below 1024 need administrator rights);"
    else:
        why = f"cannot be served ({reason});"
    return PortInUseError(f"port {port} on {host} {why} choose another port with --port N")


def check_address(host: str, port: int) -> None:
    """Refuse, before anything is opened or written, an address the server could not bind.

    The server binds it again a moment later (Werkzeug sets ``SO_REUSEADDR`` as this does), so a
    program that takes the port in between is still reported by :func:`make_server`.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ModelError(f"--host {host}: not an address of this computer ({e.strerror})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as e:
            raise _refusal(host, port, e.errno, e.strerror or "") from None


def make_server(app: Any, host: str, port: int) -> Any:
    """Bind ``app`` to ``host:port`` (threaded); raise :class:`PortInUseError` with what to do when taken."""
    from werkzeug.serving import make_server as _make

    # Werkzeug prints its own two lines to stderr and exits when the bind fails: keep them out of the
    # user's terminal, and say once, in our words, what to do
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said):
            return _make(host, port, app, threaded=True)
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            raise _refusal(host, port, e.errno) from None
        raise
    except SystemExit:
        text = said.getvalue().lower()
        code = errno.EACCES if "permission" in text else None if "in use" in text or not text else -1
        raise _refusal(
            host, port, code, said.getvalue().strip().splitlines()[0] if code == -1 else ""
        ) from None
