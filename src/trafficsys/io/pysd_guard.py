"""Make PySD's translators safe to run on untrusted model files.

PySD's Vensim and XMILE translators call Python's ``eval`` on pieces of the
model text: the range of a lookup (``[(0,0)-(1,1)]``), its points, numbers,
strings and argument lists.  A crafted file can put any Python expression
there (``[(__import__('os').system('...'),0)-(1,1)]``) and PySD runs it while
*reading* the file.  This module closes that in two layers:

1. **No eval.**  :func:`install` binds the name ``eval`` in the namespace of
   each PySD translator module that calls it to :func:`literal`, an evaluator
   of plain literals (numbers, quoted strings, tuples and lists of them) that
   never compiles code for execution.  Python looks a global name up in the
   module before the builtins, so PySD's call of ``eval`` on a text becomes
   ``literal(text)``; anything else is refused with a
   :class:`~trafficsys.errors.FileFormatError` quoting the text.
2. **A tripwire.**  While :func:`translating` is active, an audit hook
   (:pep:`578`) refuses, in this thread, the execution of code compiled from a
   string by a frame inside PySD's translators, and any attempt to start a
   process, load a shared library or open a socket.  A future PySD release
   that adds another ``eval`` fails loudly instead of running the file's code.

The PySD bridge (:mod:`trafficsys.io.pysd_bridge`) writes our own model into a
Python module that PySD imports; :func:`inert_doc` makes a variable's
documentation harmless there (PySD puts it between triple quotes).

trafficsys reads Vensim files with its own grammar (:mod:`trafficsys.io.vensim`),
never through PySD's translator; the guard serves the bridge, which hands the
XMILE we write to PySD's XMILE translator.
"""

from __future__ import annotations

import ast
import contextlib
import contextvars
import importlib
import os
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

from ..errors import FileFormatError

__all__ = ["literal", "install", "translating", "inert_doc", "UNSAFE_EVENTS", "Refused"]

#: PySD modules that call ``eval`` on model text (PySD 3.x); each gets :func:`literal` instead.
_EVALUATING_MODULES = (
    "pysd.translators.vensim.vensim_element",
    "pysd.translators.xmile.xmile_element",
)

#: audit events refused while a translator runs: starting programs, native code, the network
UNSAFE_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        "subprocess.Popen",
        "pty.spawn",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.call_function",
        "socket.connect",
        "socket.bind",
        "socket.getaddrinfo",
        "urllib.Request",
        "webbrowser.open",
        "os.kill",
        "os.killpg",
        "shutil.rmtree",
        "os.remove",
        "os.rmdir",
        "os.rename",
    }
)

#: the longest text :func:`literal` accepts (a lookup of 100,000 points is about 2 MB)
MAX_LITERAL = 4_000_000

_active: contextvars.ContextVar[bool] = contextvars.ContextVar("trafficsys_pysd_translating", default=False)
_hooked = False
_installed: set[str] = set()
_PYSD_TRANSLATORS = None


def literal(text: Any, *_ignored: Any) -> Any:
    """Evaluate ``text`` as a plain literal, or refuse it.

    Accepts what PySD's translators legitimately hand to ``eval``: numbers
    (with a sign), quoted strings, and tuples and lists of them, nested.
    Nothing is compiled for execution: the text is parsed into a Python syntax
    tree and only the node kinds above are turned into values.

    Parameters
    ----------
    text
        The text PySD would have evaluated.

    Returns
    -------
    int, float, str, tuple or list

    Raises
    ------
    FileFormatError
        When ``text`` is anything other than such a literal; the message quotes it.

    Examples
    --------
    >>> literal("[(0,0),(1,-2.5)]")
    [(0, 0), (1, -2.5)]
    """
    if not isinstance(text, str):
        raise _refuse(repr(text), "is not text")
    if len(text) > MAX_LITERAL:
        raise _refuse(text, f"is longer than {MAX_LITERAL:,} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _refuse(text, "is not a number, a quoted string or a list of them") from None
    try:
        return _value(tree.body)
    except _Refused:
        raise _refuse(text, "is not a number, a quoted string or a list of them") from None
    except RecursionError:
        raise _refuse(text, "is nested too deeply") from None


def _value(node: ast.AST) -> Any:
    # An explicit stack would do too; Python's own parser already refuses nesting deeper than ~200.
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, str):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        if type(operand) in (int, float):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Tuple):
        return tuple(_value(n) for n in node.elts)
    if isinstance(node, ast.List):
        return [_value(n) for n in node.elts]
    raise _Refused(ast.dump(node)[:80])


class _Refused(Exception):
    pass


class Refused(PermissionError):
    """Raised by the tripwire inside PySD's translator; the reader turns it into a FileFormatError."""


def _refuse(text: str, why: str) -> FileFormatError:
    shown = text if len(text) <= 120 else text[:117] + "..."
    err = FileFormatError(
        f"the text {shown!r} {why}; only numbers, quoted strings and lists of them may "
        "stand in a lookup range, a lookup's points or a number (the file may be damaged, "
        "or crafted to run code: it was not run)"
    )
    err.snippet = text  # type: ignore[attr-defined]  # lets the reader point at the variable
    return err


def install() -> None:
    """Replace ``eval`` in PySD's translator modules by :func:`literal` (idempotent)."""
    for name in _EVALUATING_MODULES:
        if name in _installed:
            continue
        try:
            module = importlib.import_module(name)  # a fixed PySD module name, never user text
        except ImportError:
            continue
        setattr(module, "eval", literal)  # noqa: B010  # shadows the builtin for that module only
        _installed.add(name)


def _pysd_translators() -> str | None:
    global _PYSD_TRANSLATORS
    if _PYSD_TRANSLATORS is None:
        try:
            import pysd.translators as t
        except ImportError:  # pragma: no cover - pysd is a declared extra
            return None
        _PYSD_TRANSLATORS = os.path.dirname(os.path.abspath(t.__file__))
    return _PYSD_TRANSLATORS


def _hook(event: str, args: tuple) -> None:
    if not _active.get():
        return
    if event in UNSAFE_EVENTS:
        raise Refused(
            f"trafficsys refused '{event}' while translating a model file: reading a "
            "model never starts programs, loads native code or uses the network"
        )
    if event == "exec":
        code = args[0] if args else None
        if getattr(code, "co_filename", None) != "<string>":
            return  # imports run module files; only code compiled from a string is suspect here
        root = _pysd_translators()
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            if root and os.path.abspath(frame.f_code.co_filename).startswith(root):
                raise Refused(
                    "trafficsys refused to execute text from a model file inside PySD's "
                    "translator (a file may hold code: it was not run)"
                )
            frame = frame.f_back


@contextlib.contextmanager
def translating() -> Iterator[None]:
    """Run PySD's translator with :func:`install` done and the audit-hook tripwire on, in this context."""
    global _hooked
    install()
    if not _hooked:
        sys.addaudithook(_hook)
        _hooked = True
    token = _active.set(True)
    try:
        yield
    finally:
        _active.reset(token)


def inert_doc(text: str | None) -> str:
    r"""Return ``text`` made harmless inside a Python triple-quoted string.

    PySD writes a variable's documentation between ``\"\"\"`` into the module it
    then imports, turning backslashes into line breaks.  Quotes and
    backslashes are replaced by look-alike characters that cannot end the
    string or escape anything.
    """
    if not text:
        return text or ""
    return text.replace("\\", "/").replace('"', "\u201d").replace("'", "\u2019").replace("\x00", "")
