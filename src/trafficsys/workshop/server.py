"""Serving the workshop app: Werkzeug's threaded WSGI server on one address, refused cleanly when taken."""

from __future__ import annotations

import errno
from typing import Any

from ..errors import ModelError

__all__ = ["make_server", "PortInUseError"]


class PortInUseError(ModelError):
    """The address and port are taken (another workshop server, or another program)."""


def make_server(app: Any, host: str, port: int) -> Any:
    """Bind ``app`` to ``host:port`` (threaded); raise :class:`PortInUseError` with what to do when taken."""
    from werkzeug.serving import make_server as _make

    try:
        return _make(host, port, app, threaded=True)
    except OSError as e:
        if e.errno in (errno.EADDRINUSE, errno.EACCES) or "address already in use" in str(e).lower():
            what = "already in use" if e.errno != errno.EACCES else "not allowed for this user"
            raise PortInUseError(
                f"port {port} on {host} is {what} (is another workshop server running?); "
                f"stop it, or choose another port with --port N"
            ) from None
        raise
    except SystemExit:  # werkzeug exits when the port is taken on some platforms
        raise PortInUseError(
            f"port {port} on {host} is already in use; choose another with --port N"
        ) from None
