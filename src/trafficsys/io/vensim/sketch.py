r"""The sketch section of a Vensim file: where each variable is drawn, and the arrows with their signs.

After the ``\\\\\\---///`` line, each view lists objects one per line,
comma-separated: ``10,id,name,x,y,...`` is a variable, ``1,id,from,to,shape,
hidden,polarity,...`` an arrow between two objects (by id), whose polarity is
the character code of its mark (``43`` is ``+``, ``45`` is ``-``; Vensim's
``S`` and ``O`` marks mean the same).  Only numbers and names are read.

A *causal sketch* is a model whose variables are all ``A FUNCTION OF(x,
y...)``: Vensim's way of drawing a causal-loop diagram.  It becomes a model
of hand-drawn links (:meth:`trafficsys.Model.link`), one per variable named,
signed by the sketch's arrow between the two where it carries a mark, and
``?`` where it does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...model import ast
from ...model.model import Model
from ...model.names import canonical

__all__ = ["Sketch", "read", "causal_model"]

_SIGNS = {43: "+", 83: "+", 45: "-", 79: "-"}


@dataclass
class Sketch:
    """Positions by canonical name (``{"x", "y"}``) and arrows ``(source, target) -> polarity``."""

    positions: dict[str, dict[str, float]] = field(default_factory=dict)
    arrows: dict[tuple[str, str], str] = field(default_factory=dict)


def _fields(line: str) -> list[str]:
    out, buf, quoted, i = [], [], False, 0
    while i < len(line):
        ch = line[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "\\" and quoted and i + 1 < len(line):
            buf.append(line[i : i + 2])
            i += 2
            continue
        elif ch == "," and not quoted:
            out.append("".join(buf))
            buf = []
            i += 1
            continue
        buf.append(ch)
        i += 1
    out.append("".join(buf))
    return out


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def read(text: str) -> Sketch:
    r"""Read the sketch section's text (everything after the ``\\\\\\---///`` line)."""
    out = Sketch()
    ids: dict[str, str] = {}
    arrows: list[tuple[str, str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("*"):  # a new view: object ids restart
            _resolve(out, ids, arrows)
            ids, arrows = {}, []
            continue
        if line.startswith("///---\\\\\\"):  # the end of the sketch
            break
        f = _fields(line)
        if len(f) >= 5 and f[0] == "10":
            name = " ".join(f[2].strip().strip('"').split())
            if not name:
                continue
            key = canonical(name)
            ids[f[1]] = key
            x, y = _number(f[3]), _number(f[4])
            if x is not None and y is not None:
                out.positions.setdefault(key, {"x": x, "y": y})
        elif len(f) >= 7 and f[0] == "1":
            arrows.append((f[2], f[3], f[6]))
    _resolve(out, ids, arrows)
    return out


def _resolve(out: Sketch, ids: dict[str, str], arrows: list[tuple[str, str, str]]) -> None:
    for a, b, pol in arrows:
        if a in ids and b in ids:
            code = _number(pol)
            sign = _SIGNS.get(int(code), "?") if code is not None and code.is_integer() else "?"
            prev = out.arrows.get((ids[a], ids[b]))
            if prev is None or prev == "?":
                out.arrows[(ids[a], ids[b])] = sign


def causal_model(name: str, file: str, elements, sk: Sketch) -> Model:
    """Return the model of a causal sketch: a link from each variable a variable is ``A FUNCTION OF``."""
    m = Model(name)
    m.file = file
    controls = {"initial_time", "final_time", "time_step", "saveper"}
    for e in elements:
        key = canonical(e.name)
        if key in controls:
            continue
        info = {"label": e.name} if e.name != key else {}
        if e.doc:
            info["doc"] = e.doc
        if e.units:
            info["units"] = e.units
        m.cld_variables[key] = info
        for d in e.definitions:
            if not (isinstance(d.value, ast.Call) and d.value.func == "A_FUNCTION_OF"):
                continue
            for arg in d.value.args:
                sign = "?"
                while isinstance(arg, ast.Unary) and arg.op in "+-":  # a sign written in the equation
                    sign = "-" if (arg.op == "-") != (sign == "-") else "+"
                    arg = arg.operand
                if not isinstance(arg, (ast.Name, ast.Subscript)):
                    continue
                src = arg.name
                drawn = sk.arrows.get((src, key), "?")
                m.link(src, key, drawn if drawn != "?" else sign)
    for lk in m.links:
        m.cld_variables.setdefault(lk.source, {})
    if sk.positions:
        m.metadata["xmile_views"] = {
            k: {**v, "type": "aux"} for k, v in sk.positions.items() if k in m.cld_variables
        }
    return m
