"""XMILE name normalisation.

XMILE identifiers are case-insensitive, and spaces and underscores are the same
character (XMILE 1.0, section 3.2.2).  Every name is stored and compared in its
*canonical* form: lowercase, with runs of whitespace and underscores folded to a
single ``_`` and surrounding quotes removed.  Display names keep what the user
wrote.
"""

from __future__ import annotations

import re

__all__ = ["canonical", "is_plain_identifier", "display", "quote", "unescape"]

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
    name = name.strip()
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        name = name[1:-1]
    name = name.replace("\\n", " ")
    return _FOLD.sub("_", name.strip()).lower()


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
