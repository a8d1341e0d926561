"""XMILE name normalisation.

XMILE identifiers are case-insensitive, and spaces and underscores are the same
character (XMILE 1.0, section 3.2.2).  Every name is stored and compared in its
*canonical* form: lowercase, with runs of whitespace and underscores folded to a
single ``_`` and surrounding quotes removed.  Display names keep what the user
wrote.
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "suggest",
    "canonical",
    "is_plain_identifier",
    "display",
    "quote",
    "unescape",
    "name_problem",
    "RESERVED",
]

#: Names with a fixed meaning in every equation (the clock); a variable cannot take one.  Vensim's
#: control variables (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER) are ordinary variables there
#: and stay allowed.
RESERVED = frozenset({"time", "dt", "starttime", "stoptime"})

_FOLD = re.compile(r"[\s_]+")
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def canonical(name: str) -> str:
    """Return the canonical form of a variable name.

    Examples
    --------
    >>> canonical('"Police Capacity"')
    'police_capacity'
    >>> canonical("in__Exploitation")
    'in_exploitation'
    """
    if name.__class__ is str:  # the common case, looked up in a cache: analyses ask millions of times
        return _canonical_cached(name)
    return _canonical(name)


@functools.lru_cache(maxsize=1 << 16)
def _canonical_cached(name: str) -> str:
    return _canonical(name)


def _canonical(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        name = name[1:-1]
    name = name.replace("\\n", " ")
    return _FOLD.sub("_", name.strip()).lower()


def name_problem(name: object) -> str | None:
    r"""Return what is wrong with ``name`` as a variable name, or None when it is a valid name.

    The one rule for names, applied by :meth:`trafficsys.Model.add` and so by
    every reader and by the builder API:

    * a name is text with at least one character other than spaces,
      underscores and quotes;
    * it holds no control character (NUL, a line break, a tab...): such names
      cannot be written to XML or shown on one line (Stella's two-character
      line break ``\n`` is no control character: :meth:`~trafficsys.Model.add`
      stores it as a space, as equations read it);
    * it holds no brace: ``{...}`` is a comment in XMILE and Vensim equations,
      so the name could not be written in one;
    * it is not one of :data:`RESERVED` (``TIME``, ``DT``, ``STARTTIME``,
      ``STOPTIME``), whatever its case and spacing.

    Examples
    --------
    >>> name_problem("police capacity") is None
    True
    >>> name_problem("Time")
    "'Time' is reserved: TIME, DT, STARTTIME and STOPTIME are the clock in every equation; rename the variable"
    """
    if not isinstance(name, str):
        return f"a name must be text, got {type(name).__name__}"
    shown = name.encode("unicode_escape").decode("ascii")  # one printable line whatever the name holds
    for ch in name:
        if unicodedata.category(ch) == "Cc":
            return (
                f"'{shown}' contains the control character U+{ord(ch):04X}; names may not hold line "
                "breaks, tabs or other control characters"
            )
    if "{" in name or "}" in name:
        return f"'{shown}' contains a brace; braces start comments in equations, so use ( ) or [ ] instead"
    key = canonical(name)
    if not key or not key.strip('"_'):
        return "a variable needs a non-empty name"
    if key in RESERVED:
        return (
            f"'{shown}' is reserved: TIME, DT, STARTTIME and STOPTIME are the clock in every equation; "
            "rename the variable"
        )
    return None


def is_plain_identifier(name: str) -> bool:
    """Tell whether ``name`` can be written in an equation without quotes."""
    return bool(_PLAIN.match(name))


def display(name: str) -> str:
    """Return how ``name`` is written in an equation: bare when plain, quoted otherwise."""
    if is_plain_identifier(name):
        return name
    return quote(name)


_ESCAPED = re.compile(r'\\([\\"])')


def quote(name: str) -> str:
    r"""Return ``name`` in double quotes, with ``\`` and ``"`` escaped by a backslash.

    Names are data: any character may appear in one (Vensim's ``"a \"b\""`` included),
    and :func:`unescape` of the quoted text gives the name back.

    Examples
    --------
    >>> quote('say "hi" \\ bye')
    '"say \\"hi\\" \\\\ bye"'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unescape(text: str) -> str:
    r"""Return the name written between double quotes: ``\"`` is ``"``, ``\\`` is ``\``.

    Any other backslash stays as written (``\n`` is Stella's line break, folded
    by :func:`canonical`).
    """
    return _ESCAPED.sub(r"\1", text)


def suggest(name: str, candidates: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest candidate, or ``""``.

    Every "no such name" message in the package ends with this.

    Examples
    --------
    >>> suggest("recruitmnt", ["recruitment", "exit"])
    "; did you mean 'recruitment'?"
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
