"""XMILE name normalisation.

XMILE identifiers are case-insensitive, and spaces and underscores are the same
character (XMILE 1.0, section 3.2.2).  Every name is stored and compared in its
*canonical* form: lowercase, with runs of whitespace and underscores folded to a
single ``_`` and surrounding quotes removed.  Display names keep what the user
wrote.
"""

from __future__ import annotations

import re

__all__ = ["canonical", "is_plain_identifier", "display"]

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
    return '"' + name.replace('"', "") + '"'
