"""Resource limits: how large an input or a job trafficsys accepts, decided in one place.

Every reader and every entry point asks this module before it starts work
whose size an input controls (reading a file, expanding macros, modules or
arrays, building delay chains, allocating the saved values of a run), and
refuses with a :class:`LimitError` that names the limit and how to raise it.
The defaults let every realistic model through and stop hostile or mistyped
inputs (a dimension of a billion elements, a macro that doubles forty times)
within a fraction of a second; ``docs/limits.md`` lists each one and why.

Raise a limit for a block of code::

    import trafficsys as ts
    with ts.limits.override(steps=100_000_000):
        r = ts.simulate(m)

or for the whole process with ``ts.limits.set(steps=...)``; on the command
line, every subcommand takes ``--limit steps=1e8`` (repeatable).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import FileFormatError, LimitError, ModelError

__all__ = [
    "Limits",
    "LimitError",
    "DEFAULTS",
    "current",
    "override",
    "applied",
    "set",
    "reset",
    "check",
    "check_file_size",
    "read_file",
    "check_memory",
    "available_memory",
    "parse_assignment",
    "format_bytes",
]

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """The resource limits in force (see ``docs/limits.md``).

    Attributes
    ----------
    file_size
        Bytes of one model file (TOML, XMILE, Vensim) or of model text given inline.
    expression_length
        Characters of one equation.
    expression_nodes
        Nodes of one equation after XMILE macros are inlined (macro expansion).
    variables
        Variables of one model after arrays and modules are expanded.
    array_elements
        Elements of one dimension, and of one arrayed variable (the product of
        its dimensions' sizes); also bounds Vensim numeric ranges ``(a1-a100)``.
    module_instances
        XMILE module instances, counting every nested instance.
    steps
        Integration steps of one run (``(stop - start) / dt``).
    runs
        Runs of one ensemble (parameter arrays, Monte Carlo ``n``).
    delay_order
        Order of ``DELAYN``/``SMTHN`` (the number of hidden stocks each builds).
    lookup_points
        Points of one graphical function (lookup table).
    memory
        Bytes one job may allocate for its results; ``None``: the memory the
        operating system reports as available when the job starts.
    """

    file_size: int = 16 * MiB
    expression_length: int = 20_000
    expression_nodes: int = 100_000
    variables: int = 100_000
    array_elements: int = 100_000
    module_instances: int = 10_000
    steps: int = 10_000_000
    runs: int = 10_000_000
    delay_order: int = 1_000
    lookup_points: int = 100_000
    memory: int | None = None


#: the limits a fresh process starts with
DEFAULTS = Limits()

_process = DEFAULTS
_scoped: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("trafficsys_limits", default=None)

#: what each limit counts, for messages
_WHAT = {
    "file_size": "bytes",
    "expression_length": "characters",
    "expression_nodes": "nodes",
    "variables": "variables",
    "array_elements": "elements",
    "module_instances": "module instances",
    "steps": "steps",
    "runs": "runs",
    "delay_order": "stages",
    "lookup_points": "points",
    "memory": "bytes",
}


def current() -> Limits:
    """Return the limits in force here (an :func:`override` block, else the process-wide ones).

    Examples
    --------
    >>> current().steps == DEFAULTS.steps
    True
    """
    return _scoped.get() or _process


def _validated(base: Limits, changes: Mapping[str, Any]) -> Limits:
    names = {f.name for f in dataclasses.fields(Limits)}
    for k, v in changes.items():
        if k not in names:
            raise ModelError(f"no resource limit called {k!r}; the limits are {', '.join(sorted(names))}")
        if v is None and k == "memory":
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 1:
            raise ModelError(f"limit {k} must be a number of at least 1, got {v!r}")
    new: dict[str, Any] = {k: (None if v is None else int(v)) for k, v in changes.items()}
    return dataclasses.replace(base, **new)


@contextlib.contextmanager
def override(**changes: int | None) -> Iterator[Limits]:
    """Change limits inside a ``with`` block (this thread or task only); yield the limits in force.

    Examples
    --------
    >>> with override(steps=10**8) as lim:
    ...     lim.steps
    100000000
    """
    token = _scoped.set(_validated(current(), changes))
    try:
        yield current()
    finally:
        _scoped.reset(token)


@contextlib.contextmanager
def applied(lim: Limits | None) -> Iterator[Limits]:
    """Put ``lim`` in force inside a ``with`` block (None: leave the limits as they are).

    Ensembles send the caller's limits with each chunk, so a worker thread or
    process applies the limits the caller raised, not the defaults.
    """
    if lim is None:
        yield current()
        return
    token = _scoped.set(lim)
    try:
        yield lim
    finally:
        _scoped.reset(token)


def set(**changes: int | None) -> Limits:  # noqa: A001 - ts.limits.set(...) reads as meant
    """Change limits for the whole process (until :func:`reset`); return the new limits."""
    global _process
    _process = _validated(_process, changes)
    return _process


def reset() -> Limits:
    """Restore the default limits for the whole process; return them."""
    global _process
    _process = DEFAULTS
    return _process


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _amount(name: str, n: float) -> str:
    if n != n or n in (float("inf"), float("-inf")):
        return f"an unbounded number of {_WHAT[name]}"
    return format_bytes(n) if name in ("file_size", "memory") else f"{int(n):,} {_WHAT[name]}"


def _how_to_raise(name: str) -> str:
    return (
        f"if you trust this input, raise the limit: ts.limits.override({name}=...) in Python, "
        f"--limit {name}=N on the command line (see docs/limits.md)"
    )


def check(
    name: str,
    value: float,
    what: str,
    advice: str = "",
    *,
    file: str | None = None,
    variable: str | None = None,
) -> None:
    """Raise :class:`LimitError` if ``value`` exceeds the limit ``name`` in force.

    Parameters
    ----------
    name
        A field of :class:`Limits`.
    value
        The size asked for, computed before the work that would use it.
    what
        What has that size, for the message ("dimension 'region'").
    advice
        How to make the input smaller, for the message.
    file, variable
        Where, for the message.

    Examples
    --------
    >>> check("steps", 10, "the run")
    >>> check("steps", 10**12, "the run")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    trafficsys.errors.LimitError: the run has 1,000,000,000,000 steps, over the limit (steps = 10,000,000 steps); ...
    """
    allowed = getattr(current(), name)
    if allowed is None or value <= allowed:
        return
    msg = f"{what} has {_amount(name, value)}, over the limit ({name} = {_amount(name, allowed)}); "
    if advice:
        msg += advice + "; "
    raise LimitError(
        msg + _how_to_raise(name), limit=name, value=value, allowed=allowed, file=file, variable=variable
    )


def check_file_size(path: str | os.PathLike) -> int:
    """Refuse a file larger than the ``file_size`` limit before reading it; return its size.

    A missing or unreadable file raises :class:`~trafficsys.errors.FileFormatError`.
    """
    try:
        size = os.stat(path).st_size
    except OSError as e:
        raise FileFormatError(
            f"cannot read the file ({e.strerror}); check the path", file=os.fspath(path)
        ) from None
    check("file_size", size, "the file", "split the model into smaller files", file=os.fspath(path))
    return size


def read_file(path: str | os.PathLike) -> bytes:
    """Read a model file within the ``file_size`` limit: the one guard every reader uses.

    The size is checked before reading, and the read stops one byte past the
    limit, so a file that grows after the check is refused too.
    """
    check_file_size(path)
    with open(path, "rb") as fh:
        data = fh.read(current().file_size + 1)
    check("file_size", len(data), "the file", "split the model into smaller files", file=os.fspath(path))
    return data


def available_memory() -> int | None:
    """Bytes of memory available to a new job now (``MemAvailable`` on Linux), or None if unknown."""
    try:
        with open("/proc/meminfo", "rb") as fh:
            for line in fh:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(nbytes: float, what: str, advice: str, file: str | None = None) -> None:
    """Refuse, before allocating, a job needing more than the ``memory`` limit (default: what is available).

    Raises
    ------
    LimitError
        Naming the estimate, the memory available and how to shrink the job.
    """
    allowed = current().memory
    if allowed is None:
        allowed = available_memory()
        if allowed is None:
            return
        source = "the memory available now"
    else:
        source = "the memory limit"
    if nbytes > allowed:
        raise LimitError(
            f"{what} would need about {format_bytes(nbytes)}, more than {source} "
            f"({format_bytes(allowed)}); {advice}; or, if the computer can hold it, "
            "raise the limit: ts.limits.override(memory=BYTES) in Python, --limit memory=64G on "
            "the command line (see docs/limits.md)",
            limit="memory",
            value=nbytes,
            allowed=allowed,
            file=file,
        )


_SUFFIX = {"": 1, "k": 1024, "m": MiB, "g": 1024 * MiB, "t": 1024 * 1024 * MiB}


def parse_assignment(text: str) -> tuple[str, int | None]:
    """Read ``NAME=VALUE`` as given to ``--limit``: ``steps=1e8``, ``memory=64G``, ``file_size=100M``.

    Examples
    --------
    >>> parse_assignment("steps=1e8")
    ('steps', 100000000)
    >>> parse_assignment("memory=2G")
    ('memory', 2147483648)
    """
    name, sep, value = text.partition("=")
    name = name.strip().replace("-", "_")
    names = [f.name for f in dataclasses.fields(Limits)]
    if not sep or name not in names:
        raise ValueError(f"expected NAME=VALUE with NAME one of {', '.join(names)}, got {text!r}")
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", value)
    if value.strip().lower() == "none" and name == "memory":
        return name, None
    try:
        number = float(m.group(1)) * _SUFFIX[m.group(2).lower()] if m else float("nan")
    except ValueError:
        number = float("nan")
    if not number >= 1 or number == float("inf"):
        raise ValueError(
            f"--limit {name}: expected a number of at least 1 (e.g. 1e8, or 64G for bytes), got {value!r}"
        )
    return name, int(number)
