r"""The layout of a Vensim ``.mdl`` file: encoding, equations, macros, groups and the sketch.

A file is ``{UTF-8}`` (its encoding), then equations, each ending with
``|`` and made of fields split by ``~``::

    definition ~ units [min, max, step] ~ comment ~ :SUPPLEMENTARY |

then, after a line ``\\\\\\---///``, the sketch.  ``{...}`` in a definition is
a comment (it may hold anything), ``"..."`` a quoted name (with ``\\"``
escapes), a backslash at the end of a line continues it.  ``:MACRO: name(in :
out) ... :END OF MACRO:`` wraps a macro's equations, and a definition made of
asterisks with a ``.Name`` line is a group heading.  This module finds those
pieces and where each starts in the file; :mod:`.grammar` parses each
definition.
"""

from __future__ import annotations

import bisect
import codecs
import re
from dataclasses import dataclass, field

from ...errors import FileFormatError

__all__ = ["Chunk", "Macro", "Layout", "decode", "layout", "SKETCH"]

#: Vensim's line between the equations and the sketch
SKETCH = re.compile(r"\\{2,}---///")
_HEADER = re.compile(rb"\s*\{([A-Za-z0-9_.:-]+)\}")
_MACRO = re.compile(r"\s*:MACRO:\s*(?P<name>[^(]+?)\s*\((?P<args>[^)]*)\)", re.IGNORECASE)
_END_MACRO = re.compile(r"\s*:END OF MACRO:", re.IGNORECASE)
_DEF_SPECIAL = re.compile(r'["{\\~|]')
_FIELD_SPECIAL = re.compile(r"[~|]")
_QUOTED = re.compile(r'"(?:[^"\\\n]|\\(?:.|\n))*"?')
_CONTINUATION = re.compile(r"\\[ \t]*\r?\n")
_FLAGS = re.compile(r":(SUPPLEMENTARY|IGNORE|HIDDEN|DEVELOPER|NO[ _]?CONNECT)\b:?", re.IGNORECASE)


@dataclass
class Chunk:
    """One equation: its definition text (comments blanked), units, comment, and where it starts."""

    definition: str
    units: str
    comment: str
    line: int  #: 1-based line of the definition's first character in the file
    column: int  #: 1-based column of that character
    group: str | None = None
    flags: tuple[str, ...] = ()


@dataclass
class Macro:
    """A ``:MACRO:`` block: its name, inputs, extra outputs and equations."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    line: int
    chunks: list[Chunk] = field(default_factory=list)


@dataclass
class Layout:
    """The pieces of a file: main equations, macros, the sketch text and the text after the last ``|``."""

    chunks: list[Chunk]
    macros: list[Macro]
    sketch: str
    tail: str
    groups: dict[str, list[Chunk]]


def decode(raw: bytes, path: str) -> str:
    """Return the text of a model file in the encoding its first line names (``{UTF-8}``).

    Raises
    ------
    FileFormatError
        For an encoding Python does not know, or bytes that are not text in it.
    """
    bad = raw.find(b"\x00")
    declared = _HEADER.match(raw)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise FileFormatError(
            f"the file declares the encoding {{{encoding}}}, which is not a known text "
            "encoding; save it from Vensim as {UTF-8}",
            file=path,
        ) from None
    text = ""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        bad = e.start if bad < 0 else min(bad, e.start)
    if bad >= 0:
        raise FileFormatError(
            f"this is not a Vensim text model: byte {bad} is not {encoding} text (a .mdl file is "
            "text, usually starting with {UTF-8}); check that it is the model, not a "
            "packaged .vpm/.vmf or another binary file",
            file=path,
        )
    if declared:
        text = " " * len(declared.group(0).decode("ascii", "replace")) + text[len(declared.group(0)) :]
    return text


def layout(text: str) -> Layout:
    """Split a file's text into equations (with their positions), macros, groups and the sketch."""
    parts = SKETCH.split(text, maxsplit=1)
    eqs, sketch = parts[0], (parts[1] if len(parts) > 1 else "")
    raw_chunks, tail = _split(eqs)
    breaks = [k.start() for k in re.finditer("\n", eqs)]  # offsets of the line breaks, for line numbers
    main: list[Chunk] = []
    macros: list[Macro] = []
    groups: dict[str, list[Chunk]] = {}
    current: Macro | None = None
    group: str | None = None
    for fields, start in raw_chunks:
        definition = fields[0]
        offset = start
        while True:  # macro markers sit before a definition, outside the |-ended equations
            m = _END_MACRO.match(definition)
            if m:
                current = None
                definition, offset = definition[m.end() :], offset + m.end()
                continue
            m = _MACRO.match(definition)
            if m:
                inputs, _, outputs = m.group("args").partition(":")
                current = Macro(
                    " ".join(m.group("name").split()),
                    _names(inputs),
                    _names(outputs),
                    bisect.bisect_right(breaks, offset + m.start("name")) + 1,
                )
                macros.append(current)
                definition, offset = definition[m.end() :], offset + m.end()
                continue
            break
        lead = len(definition) - len(definition.lstrip())
        offset += lead
        definition = definition.strip()
        if not definition and len(fields) == 1:
            continue
        line = bisect.bisect_right(breaks, offset - 1) + 1 if offset else 1
        column = offset - (breaks[line - 2] + 1 if line > 1 else 0) + 1
        if definition.startswith("*"):  # a group heading: ****\n .Name\n ****
            name = re.search(r"^\s*\.(.+?)\s*$", definition, re.MULTILINE)
            group = name.group(1).strip() if name else None
            continue
        units = fields[1] if len(fields) > 1 else ""
        comment = fields[2] if len(fields) > 2 else ""
        flags = tuple(f.group(1).upper() for extra in fields[2:] for f in _FLAGS.finditer(extra))
        comment = _FLAGS.sub("", comment)
        chunk = Chunk(
            definition,
            units.strip(),
            comment.strip(),
            line,
            column,
            group if current is None else None,
            flags,
        )
        if current is not None:
            current.chunks.append(chunk)
        else:
            main.append(chunk)
            if group:
                groups.setdefault(group, []).append(chunk)
    tail_text = _END_MACRO.sub("", tail).strip()
    return Layout(main, macros, sketch, tail_text, groups)


def _names(text: str) -> tuple[str, ...]:
    return tuple(" ".join(x.split()) for x in text.split(",") if x.strip())


def _split(text: str) -> tuple[list[tuple[list[str], int]], str]:
    """Split the equations' text at ``|`` into fields split at ``~``; comments become spaces.

    Quotes and braces are honoured in the definition (the first field); a
    backslash ending a line is a continuation (the line break is kept, so
    positions stay right).  Returns ``([(fields, start offset)...], tail)``.
    """
    out: list[tuple[list[str], int]] = []
    buf: list[str] = []
    fields: list[str] = []
    start = 0
    i, n = 0, len(text)
    while i < n:
        m = (_DEF_SPECIAL if not fields else _FIELD_SPECIAL).search(text, i)
        if m is None:
            buf.append(text[i:])
            break
        buf.append(text[i : m.start()])
        i = m.start()
        ch = text[i]
        if ch == '"':  # a quoted name, to its closing quote (or the end of the line)
            q = _QUOTED.match(text, i)
            end = q.end() if q else n
            buf.append(re.sub(r"\\[ \t]*(\r?\n)", r" \1", text[i:end]))  # a name continued on the next line
            i = end
        elif ch == "{":  # a comment: blanked, its line breaks kept so that positions stay right
            j = text.find("}", i)
            j = n - 1 if j < 0 else j
            buf.append(re.sub(r"[^\n]", " ", text[i : j + 1]))
            i = j + 1
        elif ch == "\\":
            buf.append(" " if _CONTINUATION.match(text, i) else ch)
            i += 1
        elif ch == "~":
            fields.append("".join(buf))
            buf = []
            i += 1
        else:  # "|"
            fields.append("".join(buf))
            out.append((fields, start))
            fields, buf = [], []
            i += 1
            start = i
    tail = "".join(fields) + "".join(buf)
    return out, tail
