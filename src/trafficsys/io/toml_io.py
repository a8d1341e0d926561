"""Read and write the TOML model format (``docs/model-format.md``).

Reading checks the file's structure strictly -- every table and key is known
(a misspelt key gets a did-you-mean), every value has the right type -- and
parses every equation, so a mistake is reported with the file, the table, the
key and (where TOML gives one) the line.  Semantic checks (unknown names,
algebraic loops, units...) are :func:`trafficsys.model.validate.validate`'s job.

Writing is lossless: ``read_toml(write_toml(m))`` equals ``m`` (``Model.__eq__``),
equation text is kept character for character, and the variables keep their
order (their tables are written in the model's order and read back in the
order of their headers in the file).
"""

from __future__ import annotations

import datetime
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tomli_w

from .. import limits
from ..errors import FileFormatError, ModelError
from ..io.output import write_text
from ..model.elements import (
    SAMPLE_MODES,
    Aux,
    Constant,
    Distribution,
    Element,
    Extrapolation,
    Flow,
    Kind,
    Lookup,
    Scenario,
    Stock,
)
from ..model.model import Model, SimSpecs
from ..model.names import canonical, suggest

__all__ = [
    "read_toml",
    "write_toml",
    "loads",
    "dumps",
    "read_scenarios",
    "SECTIONS",
]

#: Element table -> the kind of variable it holds, in the order files list them.
SECTIONS: dict[str, Kind] = {
    "constants": Kind.CONSTANT,
    "stocks": Kind.STOCK,
    "flows": Kind.FLOW,
    "auxiliaries": Kind.AUX,
    "lookups": Kind.LOOKUP,
}
_SECTION_OF = {k: s for s, k in SECTIONS.items()}
_TOP_LEVEL = (
    "model",
    "dimensions",
    *SECTIONS,
    "scenarios",
    "loops",
    "sectors",
    "variables",
    "links",
    "metadata",
)
_DISTRIBUTIONS = ("uniform", "triangular", "normal", "lognormal", "loguniform")


# ----------------------------------------------------------------- value checks
class _Bad(Exception):
    """A value of the wrong type; ``expected`` says what was wanted."""

    def __init__(self, expected: str):
        self.expected = expected


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad("text (a quoted string)")
    return v


def _num(v: Any) -> float:
    if not _is_num(v):
        raise _Bad("a number")
    try:
        return float(v)
    except OverflowError:  # an integer of hundreds of digits
        raise _Bad("a number within the range of a double (about 1.8e308)") from None


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad("true or false")
    return v


def _eqn(v: Any) -> str:
    if _is_num(v):
        from ..model.model import _eqn as number_text

        return number_text(v)
    if not isinstance(v, str):
        raise _Bad("a number or equation text")
    return v


def _names(v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _Bad('a list of names, e.g. ["a", "b"]')
    return list(v)


def _range(v: Any) -> tuple[float, float]:
    if not isinstance(v, list) or len(v) != 2 or not all(_is_num(x) for x in v):
        raise _Bad("[low, high], two numbers")
    return float(v[0]), float(v[1])


def _points(v: Any) -> list[tuple[float, float]]:
    ok = (
        isinstance(v, list)
        and len(v) >= 1
        and all(isinstance(p, list) and len(p) == 2 and all(_is_num(x) for x in p) for p in v)
    )
    if not ok:
        raise _Bad("a list of [x, y] pairs of numbers, e.g. [[0, 0.1], [1, 0.9]]")
    return [(float(x), float(y)) for x, y in v]


def _distribution(v: Any) -> Distribution:
    if isinstance(v, str):
        kind, params = v, {}
    elif isinstance(v, dict):
        params = dict(v)
        kind = params.pop("kind", "uniform")
        if not isinstance(kind, str) or not all(_is_num(x) for x in params.values()):
            raise _Bad(
                'a kind name or a table like { kind = "triangular", mode = 0.05 } with numeric parameters'
            )
    else:
        raise _Bad('a kind name or a table like { kind = "triangular", mode = 0.05 }')
    if kind not in _DISTRIBUTIONS:
        raise _Bad(f"one of {', '.join(_DISTRIBUTIONS)}{suggest(kind, _DISTRIBUTIONS)} (got {kind!r})")
    dist = Distribution.from_value({"kind": kind, **params})
    assert dist is not None  # a mapping with a kind always gives a distribution
    return dist


def _overrides(v: Any) -> dict[str, float | str]:
    if not isinstance(v, dict) or not all(_is_num(x) or isinstance(x, str) for x in v.values()):
        raise _Bad('a table of name = number or name = "equation", e.g. { raid_intensity = 0.1 }')
    return {k: (x if isinstance(x, str) else float(x)) for k, x in v.items()}


def _per_element(v: Any) -> dict[str, str]:
    if not isinstance(v, dict) or not all(_is_num(x) or isinstance(x, str) for x in v.values()):
        raise _Bad('a table of element = "equation", e.g. { north = "10", "north,women" = "5" }')
    return {k: _eqn(x) for k, x in v.items()}


def _element_points(v: Any) -> dict[str, list[tuple[float, float]]]:
    if not isinstance(v, dict):
        raise _Bad("a table of element = [[x, y], ...], e.g. { north = [[0, 1], [10, 2]] }")
    return {k: _points(x) for k, x in v.items()}


def _choice(*options: str) -> Callable[[Any], str]:
    def check(v: Any) -> str:
        if not isinstance(v, str) or v not in options:
            hint = suggest(v, options) if isinstance(v, str) else ""
            raise _Bad(f"one of {', '.join(repr(o) for o in options)}{hint}")
        return v

    return check


def _any(v: Any) -> Any:
    return v


_COMMON = {"units": _str, "doc": _str, "role": _str, "dimensions": _names, "per_element": _per_element}
#: table -> key -> checker/converter
_FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "model": {
        "name": _str,
        "doc": _str,
        "start": _num,
        "stop": _num,
        "dt": _num,
        "saveper": _num,
        "method": _choice("euler", "rk4"),
        "time_units": _str,
    },
    "constants": {
        "value": _num,
        "range": _range,
        "distribution": _distribution,
        "source": _str,
        "sample": _choice(*SAMPLE_MODES),
        **_COMMON,
    },
    "stocks": {"initial": _eqn, "inflows": _names, "outflows": _names, "non_negative": _bool, **_COMMON},
    "flows": {"equation": _eqn, "non_negative": _bool, **_COMMON},
    "auxiliaries": {"equation": _eqn, **_COMMON},
    "lookups": {
        "points": _points,
        "extrapolation": _choice(*(e.value for e in Extrapolation)),
        "input": _eqn,
        "element_points": _element_points,
        **_COMMON,
    },
    "scenarios": {"doc": _str, "set": _overrides},
    "loops": {"variables": _names, "polarity": _choice("R", "B"), "doc": _str},
    "sectors": {"variables": _names, "doc": _str},
    "variables": {"doc": _str, "role": _str, "units": _str},
    "links": {
        "from": _str,
        "to": _str,
        "polarity": _choice("+", "-", "?"),
        "delay": _bool,
        "note": _str,
        "strength": _num,
    },
}
_REQUIRED = {
    "constants": ("value",),
    "stocks": ("initial",),
    "flows": ("equation",),
    "auxiliaries": ("equation",),
    "lookups": ("points",),
    "loops": ("variables",),
    "sectors": ("variables",),
    "links": ("from", "to"),
}


# ------------------------------------------------------------------- locations
_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\')'
_HEADER = re.compile(r"^[ \t]*\[[ \t]*(" + _KEY + r")[ \t]*(?:\.[ \t]*(" + _KEY + r")[ \t]*)?\]", re.M)


def _key_text(raw: str) -> str:
    """Return the key a TOML key token denotes (quotes and escapes resolved)."""
    if raw[0] in "\"'":
        try:
            return next(iter(tomllib.loads(f"{raw} = 0")))
        except tomllib.TOMLDecodeError:
            return raw[1:-1]
    return raw


def _headers(text: str) -> list[tuple[int, str, str | None]]:
    """``(line, table, name)`` for every ``[table]`` / ``[table.name]`` header line."""
    out = []
    line, pos = 1, 0
    for m in _HEADER.finditer(text):
        line += text.count("\n", pos, m.start())  # from the previous header on: linear in the file's size
        pos = m.start()
        out.append((line, _key_text(m.group(1)), _key_text(m.group(2)) if m.group(2) else None))
    return out


class _Doc:
    """The file being read: its name, text and header lines (for error locations)."""

    def __init__(self, text: str, file: str | None):
        self.text = text
        self.file = file
        self.headers = _headers(text)

    def line_of(self, table: str, name: str | None = None, key: str | None = None) -> int | None:
        start = None
        for line, t, n in self.headers:
            if t == table and (name is None or n == name):
                start = line
                break
        if start is None or key is None:
            return start
        lines = self.text.splitlines()
        pat = re.compile(r"^[ \t]*[\"']?" + re.escape(key) + r"[\"']?[ \t]*=")
        for i in range(start, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if pat.match(lines[i]):
                return i + 1
        return start

    def error(
        self,
        message: str,
        table: str,
        name: str | None = None,
        key: str | None = None,
        *,
        variable: str | None = None,
        cls: type[ModelError] = FileFormatError,
    ) -> ModelError:
        line = self.line_of(table, name, key)
        where = f"[{table}.{name}]" if name is not None else f"[{table}]"
        if key is not None:
            where += f" {key}"
        at = f" (line {line})" if line else ""
        return cls(f"{where}{at}: {message}", file=self.file, variable=variable)


# ------------------------------------------------------------------- reading
def read_toml(path: str | os.PathLike) -> Model:
    """Read a TOML model file.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    Model
        With ``model.file`` set; every equation already parsed.

    Raises
    ------
    FileFormatError
        Missing, too large, not UTF-8 or not TOML (with line and column), an
        unknown table or key (with a did-you-mean), a value of the wrong type.
    ParseError
        An equation that does not parse (file, variable and column named).
    DuplicateVariableError
        Two variables whose names differ only in case, spaces or underscores.
    """
    p = Path(path)
    return loads(_read_text(p), file=str(p), default_name=p.stem)


def _read_text(p: Path) -> str:
    data = limits.read_file(p)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise FileFormatError(
            f"the file is not UTF-8 text (bad byte at line {line}); save it as UTF-8", file=str(p)
        ) from None


def _parse_toml(text: str, file: str | None) -> dict[str, Any]:
    limits.check("file_size", len(text), "the model text", "split the model into smaller files", file=file)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        detail = msg
        if m:
            line, col = int(m.group(1)), int(m.group(2))
            src = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
            detail = (
                f"not valid TOML at line {line}, column {col}: {msg[: m.start()].strip()}\n"
                f"    {src[:200]}\n    {' ' * (col - 1)}^"
            )
        raise FileFormatError(
            f"{detail}\n(check quotes around text, '=' between key and value, and brackets; "
            "see docs/model-format.md)",
            file=file,
        ) from None
    except RecursionError:
        raise FileFormatError("the TOML nests too deeply", file=file) from None


def loads(text: str, *, file: str | None = None, default_name: str = "model") -> Model:
    """Build a :class:`Model` from TOML text (see :func:`read_toml`).

    ``file`` is named in error messages; ``default_name`` names the model when
    the text has no ``[model] name``.
    """
    data = _parse_toml(text, file)
    doc = _Doc(text, file)
    for top in data:
        if top not in _TOP_LEVEL:
            raise doc.error(
                f"unknown table '{top}'{suggest(top, _TOP_LEVEL)}; the tables are {', '.join(_TOP_LEVEL)}",
                top,
            )

    spec = _table(doc, data, "model")
    checked = _fields(doc, "model", None, spec)
    model = Model(
        checked.get("name", default_name),
        start=checked.get("start", 0.0),
        stop=checked.get("stop", SimSpecs.stop),
        dt=checked.get("dt", SimSpecs.dt),
        saveper=checked.get("saveper"),
        method=checked.get("method", "euler"),
        time_units=checked.get("time_units", SimSpecs.time_units),
        doc=checked.get("doc", ""),
    )
    model.file = file
    dims = _table(doc, data, "dimensions")
    for name, elements in dims.items():
        if not isinstance(elements, list) or not elements or not all(isinstance(x, str) for x in elements):
            raise doc.error(
                f'dimension \'{name}\' must list its element names, e.g. {name} = ["north", "south"]',
                "dimensions",
                None,
                name,
            )
        model.dimension(name, elements)

    entries: list[
        tuple[int, int, str, str, dict[str, Any]]
    ] = []  # (position, sequence, section, name, fields)
    positions = {(t, n): line for line, t, n in reversed(doc.headers) if n is not None}
    seq = 0
    for section in SECTIONS:
        last = 0
        for name, body in _table(doc, data, section).items():
            if not isinstance(body, dict):
                raise doc.error(
                    f"'{name}' must be a table of keys ([{section}.{name}] followed by "
                    f"key = value lines), not {type(body).__name__}",
                    section,
                )
            fields = _fields(doc, section, name, body)
            last = positions.get((section, name), last)
            entries.append((last, seq, section, name, fields))
            seq += 1
    for _, _, section, name, f in sorted(entries):
        try:
            model.add(_element(section, name, f))
        except ModelError as e:
            raise doc.error(e.message, section, name, variable=name, cls=type(e)) from None

    for name, body in _table(doc, data, "scenarios").items():
        f = _fields(doc, "scenarios", name, _subtable(doc, "scenarios", name, body))
        model.scenario(name, f.get("set", {}), doc=f.get("doc", ""))
    for name, body in _table(doc, data, "loops").items():
        f = _fields(doc, "loops", name, _subtable(doc, "loops", name, body))
        model.loop(name, f["variables"], polarity=f.get("polarity"), doc=f.get("doc", ""))
    for name, body in _table(doc, data, "sectors").items():
        f = _fields(doc, "sectors", name, _subtable(doc, "sectors", name, body))
        model.sector(name, f["variables"], doc=f.get("doc", ""))
    for name, body in _table(doc, data, "variables").items():
        f = _fields(doc, "variables", name, _subtable(doc, "variables", name, body))
        key = canonical(name)
        if key in model.cld_variables:
            raise doc.error(
                f"'{name}' is described twice (names ignore case, spaces and underscores)",
                "variables",
                name,
                variable=name,
            )
        if name != key:
            f["label"] = name
        model.cld_variables[key] = f
    links = data.get("links", [])
    if not isinstance(links, list):
        raise doc.error("links are written as [[links]] tables, one per link", "links")
    for i, body in enumerate(links):
        if not isinstance(body, dict):
            raise doc.error(f"link {i + 1} must be a table with from, to, polarity", "links")
        f = _fields(doc, "links", None, body, what=f"link {i + 1}")
        model.link(
            f["from"],
            f["to"],
            f.get("polarity", "+"),
            delay=f.get("delay", False),
            note=f.get("note", ""),
            strength=f.get("strength"),
        )
    meta = data.get("metadata", {})
    if not isinstance(meta, dict):
        raise doc.error("metadata must be a table", "metadata")
    model.metadata.update(meta)

    _parse_equations(model, doc)
    return model


def _table(doc: _Doc, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise doc.error(
            f"'{name}' must be a table ([{name}] or [{name}.<name>] headers), not {type(value).__name__}",
            name,
        )
    return value


def _subtable(doc: _Doc, section: str, name: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise doc.error(f"'{name}' must be a table ([{section}.{name}])", section)
    return body


def _fields(
    doc: _Doc, section: str, name: str | None, body: dict[str, Any], *, what: str | None = None
) -> dict[str, Any]:
    allowed = _FIELDS[section]
    out: dict[str, Any] = {}
    label = what or (f"'{name}'" if name is not None else f"[{section}]")
    for key, value in body.items():
        check = allowed.get(key)
        if check is None:
            raise doc.error(
                f"unknown key '{key}' in {label}{suggest(key, allowed)}; allowed keys: {', '.join(allowed)}",
                section,
                name,
                key,
                variable=name,
            )
        try:
            out[key] = check(value)
        except _Bad as bad:
            raise doc.error(
                f"must be {bad.expected}, got {value!r}"[:300], section, name, key, variable=name
            ) from None
    for key in _REQUIRED.get(section, ()):
        if key not in out:
            raise doc.error(f"{label} needs '{key}'", section, name, variable=name)
    return out


def _element(section: str, name: str, f: dict[str, Any]) -> Element:
    common = dict(
        units=f.get("units"),
        doc=f.get("doc", ""),
        role=f.get("role"),
        dimensions=tuple(f.get("dimensions", ())),
        per_element=tuple(f.get("per_element", {}).items()),
    )
    if section == "constants":
        return Constant(
            name,
            **common,
            value=f["value"],
            range=f.get("range"),
            distribution=f.get("distribution"),
            source=f.get("source", ""),
            sample=f.get("sample", "per_element"),
        )
    if section == "stocks":
        return Stock(
            name,
            **common,
            initial=f["initial"],
            inflows=tuple(f.get("inflows", ())),
            outflows=tuple(f.get("outflows", ())),
            non_negative=f.get("non_negative", False),
        )
    if section == "flows":
        return Flow(name, **common, equation=f["equation"], non_negative=f.get("non_negative", False))
    if section == "auxiliaries":
        return Aux(name, **common, equation=f["equation"])
    pts = f["points"]
    tables = tuple(
        (k, tuple(x for x, _ in p), tuple(y for _, y in p)) for k, p in f.get("element_points", {}).items()
    )
    return Lookup(
        name,
        **common,
        xs=tuple(x for x, _ in pts),
        ys=tuple(y for _, y in pts),
        extrapolation=Extrapolation(f.get("extrapolation", "continuous")),
        input=f.get("input"),
        tables=tables,
    )


def _parse_equations(model: Model, doc: _Doc) -> None:
    """Parse every equation now, so syntax errors surface at load with the file named."""
    from ..model.parser import parse

    for e in model:
        if isinstance(e, Constant):
            continue
        model.ast(e.name)  # ParseError names file, variable and column
    for sc in model.scenarios.values():
        for name, value in sc.set:
            if isinstance(value, str):
                parse(value, variable=f"{name} (scenario '{sc.name}')", file=doc.file)


def read_scenarios(path: str | os.PathLike) -> list[Scenario]:
    """Read only the ``[scenarios.*]`` tables of a TOML file (a strategies file).

    The file may also hold a ``[model]`` table (ignored); any other table is an
    error.
    """
    p = Path(path)
    text = _read_text(p)
    data = _parse_toml(text, str(p))
    doc = _Doc(text, str(p))
    for top in data:
        if top not in ("model", "scenarios"):
            raise doc.error(f"a strategies file holds only [scenarios.*] tables, found '{top}'", top)
    out = []
    for name, body in _table(doc, data, "scenarios").items():
        f = _fields(doc, "scenarios", name, _subtable(doc, "scenarios", name, body))
        items = f.get("set", {})
        for k, v in items.items():
            if isinstance(v, str):
                from ..model.parser import parse

                parse(v, variable=f"{k} (scenario '{name}')", file=str(p))
        out.append(Scenario(name, tuple(items.items()), f.get("doc", "")))
    return out


# ------------------------------------------------------------------- writing
def _scalar(value: Any, *, multiline: bool = True) -> str:
    """TOML text of one value (strings escaped by tomli_w)."""
    if _is_num(value) and not isinstance(value, bool) and math.isfinite(value):
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
    return tomli_w.dumps({"v": value}, multiline_strings=multiline)[4:].rstrip("\n")


def _key(key: str) -> str:
    return tomli_w.dumps({key: 0})[: -len(" = 0\n")]


def _inline(d: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{_key(k)} = {_scalar(v, multiline=False)}" for k, v in d.items()) + " }"


def _array(values: Iterable[Any]) -> str:
    return "[" + ", ".join(_scalar(v, multiline=False) for v in values) + "]"


def _lines(fields: Iterable[tuple[str, str]]) -> str:
    return "".join(f"{_key(k)} = {v}\n" for k, v in fields)


def _common(e: Element) -> list[tuple[str, str]]:
    out = []
    if e.units is not None:
        out.append(("units", _scalar(e.units)))
    return out


def _tail(e: Element) -> list[tuple[str, str]]:
    out = []
    if e.dimensions:
        out.append(("dimensions", _array(e.dimensions)))
    if e.doc:
        out.append(("doc", _scalar(e.doc)))
    if e.role is not None:
        out.append(("role", _scalar(e.role)))
    return out


def _equation(text: str) -> str:
    """Write a number when the text is exactly how a number reads back, else the text as a string."""
    from ..model.model import _eqn as number_text

    try:
        v = float(text)
    except ValueError:
        return _scalar(text)
    if math.isfinite(v) and number_text(v) == text and _scalar(v) == text:
        return text
    return _scalar(text)


def _element_text(e: Element) -> str:
    section = _SECTION_OF[e.kind]
    f: list[tuple[str, str]] = []
    if isinstance(e, Constant):
        f.append(("value", _scalar(e.value)))
        f += _common(e)
        if e.range is not None:
            f.append(("range", _array(e.range)))
        if e.distribution is not None:
            d = e.distribution
            f.append(("distribution", _scalar(d.kind) if not d.params else _inline(d.to_dict())))
        if e.source:
            f.append(("source", _scalar(e.source)))
        if e.sample != "per_element":
            f.append(("sample", _scalar(e.sample)))
    elif isinstance(e, Stock):
        f.append(("initial", _equation(e.initial)))
        if e.inflows:
            f.append(("inflows", _array(e.inflows)))
        if e.outflows:
            f.append(("outflows", _array(e.outflows)))
        f += _common(e)
        if e.non_negative:
            f.append(("non_negative", "true"))
    elif isinstance(e, (Flow, Aux)):
        f.append(("equation", _equation(e.equation)))
        f += _common(e)
        if isinstance(e, Flow) and e.non_negative:
            f.append(("non_negative", "true"))
    elif isinstance(e, Lookup):
        pts = [_array(p) for p in e.points]
        if len(pts) <= 6:
            f.append(("points", "[" + ", ".join(pts) + "]"))
        else:
            f.append(("points", "[\n" + "".join(f"    {p},\n" for p in pts) + "]"))
        if e.extrapolation is not Extrapolation.CONTINUOUS:
            f.append(("extrapolation", _scalar(e.extrapolation.value)))
        if e.input is not None:
            f.append(("input", _equation(e.input)))
        f += _common(e)
    f += _tail(e)
    text = f"[{section}.{_key(e.name)}]\n{_lines(f)}"
    if e.per_element:
        text += f"[{section}.{_key(e.name)}.per_element]\n" + _lines(
            (k, _scalar(v)) for k, v in e.per_element
        )
    if isinstance(e, Lookup) and e.tables:
        text += f"[{section}.{_key(e.name)}.element_points]\n" + _lines(
            (k, "[" + ", ".join(_array(p) for p in zip(xs, ys)) + "]") for k, xs, ys in e.tables
        )
    return text


def dumps(model: Model) -> str:
    """Return the TOML text of ``model`` (see :func:`write_toml`)."""
    s = model.specs
    head = [("name", _scalar(model.name))]
    if model.doc:
        head.append(("doc", _scalar(model.doc)))
    head += [("start", _scalar(s.start)), ("stop", _scalar(s.stop)), ("dt", _scalar(s.dt))]
    if s.saveper is not None:
        head.append(("saveper", _scalar(s.saveper)))
    head += [("method", _scalar(s.method)), ("time_units", _scalar(s.time_units))]
    parts = [
        "# trafficsys model file; the format is described in docs/model-format.md\n",
        "[model]\n" + _lines(head),
    ]
    dims = getattr(model, "dimensions", {})
    if dims:
        parts.append("[dimensions]\n" + _lines((name, _array(elems)) for name, elems in dims.items()))
    parts += [_element_text(e) for e in model]
    for sc in model.scenarios.values():
        f = []
        if sc.doc:
            f.append(("doc", _scalar(sc.doc)))
        overrides = sc.overrides
        inline = _inline(overrides)
        if len(inline) <= 90 and "\n" not in inline:
            f.append(("set", inline))
            parts.append(f"[scenarios.{_key(sc.name)}]\n{_lines(f)}")
        else:
            text = f"[scenarios.{_key(sc.name)}]\n{_lines(f)}"
            text += f"[scenarios.{_key(sc.name)}.set]\n" + _lines(
                (k, _scalar(v)) for k, v in overrides.items()
            )
            parts.append(text)
    for lp in model.loops.values():
        f = [("variables", _array(lp.variables))]
        if lp.polarity is not None:
            f.append(("polarity", _scalar(lp.polarity)))
        if lp.doc:
            f.append(("doc", _scalar(lp.doc)))
        parts.append(f"[loops.{_key(lp.name)}]\n{_lines(f)}")
    for sector in model.sectors.values():
        f = [("variables", _array(sector.variables))]
        if sector.doc:
            f.append(("doc", _scalar(sector.doc)))
        parts.append(f"[sectors.{_key(sector.name)}]\n{_lines(f)}")
    for key, info in model.cld_variables.items():
        info = dict(info)
        label = info.pop("label", key)
        f = [(k, _scalar(v)) for k, v in info.items() if k in _FIELDS["variables"]]
        parts.append(f"[variables.{_key(label)}]\n{_lines(f)}")
    for lk in model.links:
        f = [("from", _scalar(lk.source)), ("to", _scalar(lk.target)), ("polarity", _scalar(lk.polarity))]
        if lk.delay:
            f.append(("delay", "true"))
        if lk.note:
            f.append(("note", _scalar(lk.note)))
        if lk.strength is not None:
            f.append(("strength", _scalar(lk.strength)))
        parts.append(f"[[links]]\n{_lines(f)}")
    meta = _toml_safe(model.metadata)
    if meta:
        parts.append(tomli_w.dumps({"metadata": meta}, multiline_strings=True))
    return "\n".join(parts)


def _toml_safe(value: Any) -> Any:
    """Drop what TOML cannot hold (None, objects) from free-form metadata; dates and times are TOML values."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v2 = _toml_safe(v)
            if isinstance(k, str) and v2 is not None:
                out[k] = v2
        return out
    if isinstance(value, (list, tuple)):
        items = [_toml_safe(v) for v in value]
        return [v for v in items if v is not None]
    if isinstance(value, (str, bool, int, float, datetime.date, datetime.time)):  # datetime is a date
        return value
    return None


def write_toml(model: Model, path: str | os.PathLike) -> None:
    """Write ``model`` as a TOML model file (lossless: reading it back gives an equal model).

    Variables are written in the model's order, each as one table with its
    units, range, distribution, source and doc inline.
    """
    write_text(path, dumps(model))  # atomic: a failed write leaves the previous file intact
