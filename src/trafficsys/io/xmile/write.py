"""XMILE 1.0 out: a model as a file that PySD and Stella open.

Writing produces ``<sim_specs>``, the variables, and a ``<views>`` section
that places every variable (kept positions, else the automatic layout of
:mod:`trafficsys.io.xmile.diagram`).  trafficsys-only data (constant ranges and
sources, scenarios, named loops, CLD links) travel in a ``<ts:...>`` extension
namespace other tools ignore, so ``load(save(m)) == m``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from ...errors import ParseError
from ...io.output import write_text
from ...model import ast
from ...model.elements import Aux, Constant, Element, Flow, Kind, Lookup, Stock
from ...model.model import Model
from ...model.names import canonical
from ...model.parser import numeric_literal, parse
from ...model.printer import to_xmile
from .diagram import layout
from .namespaces import TS_NS, XMILE_NS

__all__ = ["write_xmile", "xmile_string"]


def write_xmile(model: Model, path: str | os.PathLike) -> None:
    """Write ``model`` as an XMILE 1.0 file that PySD and Stella open.

    Parameters
    ----------
    model
        The model.
    path
        Where to write (``.xmile``, ``.stmx``...).

    Notes
    -----
    Every variable gets a place in the ``<views>`` section: kept positions of a
    model read from XMILE, else an automatic layered layout (stocks in a row,
    their flows beside them, auxiliaries above) from the stock-flow graph.
    """
    write_text(path, xmile_string(model))  # atomic: a failed write leaves the previous file intact


def xmile_string(model: Model) -> str:
    """Return the XMILE text of ``model`` (see :func:`write_xmile`)."""
    ET.register_namespace("", XMILE_NS)
    ET.register_namespace("ts", TS_NS)
    X = "{" + XMILE_NS + "}"
    root = ET.Element(X + "xmile", {"version": "1.0"})
    header = ET.SubElement(root, X + "header")
    ET.SubElement(header, X + "name").text = model.name
    ET.SubElement(header, X + "vendor").text = "trafficsys"
    ET.SubElement(header, X + "product", {"version": "0.1", "lang": "en"}).text = "trafficsys"
    sp = model.specs
    specs = ET.SubElement(
        root,
        X + "sim_specs",
        {"method": "RK4" if sp.method == "rk4" else "Euler", "time_units": sp.time_units},
    )
    ET.SubElement(specs, X + "start").text = _fmt(sp.start)
    ET.SubElement(specs, X + "stop").text = _fmt(sp.stop)
    ET.SubElement(specs, X + "dt").text = _fmt(sp.dt)
    if sp.saveper is not None:
        ET.SubElement(specs, X + "savestep").text = _fmt(sp.saveper)
    dims = getattr(model, "dimensions", {})
    if dims:
        de = ET.SubElement(root, X + "dimensions")
        for d, elems in dims.items():
            dim = ET.SubElement(de, X + "dim", {"name": d})
            for e in elems:
                ET.SubElement(dim, X + "elem", {"name": e})
    mod = ET.SubElement(root, X + "model")
    variables = ET.SubElement(mod, X + "variables")
    for e in model:
        variables.append(_element_xml(e, X, model))
    views = ET.SubElement(mod, X + "views")
    view = ET.SubElement(views, X + "view")
    _view(model, view, X)
    extra = _model_extension(model)
    if extra:
        ET.SubElement(root, "{" + TS_NS + "}trafficsys").text = json.dumps(
            extra
        )  # in order: metadata tables keep the order declared
    ET.indent(root, space="    ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


#: builtins of Vensim's that XMILE lacks: written in a portable form (see :func:`_portable`)
_VENSIM_ONLY = frozenset({"INTEGER", "MODULO", "DELAY_N", "SMOOTH_N", "POWER", "LOG", "SIGN"})


def _portable(text: str, model: Model, name: str) -> str | None:
    """Return ``text`` rewritten with XMILE builtins only, or None when it needs no rewriting.

    ``INTEGER(x)`` (truncation) becomes ``IF x < 0 THEN -INT(-x) ELSE INT(x)``,
    ``MODULO(a, b)`` (the sign of ``a``) becomes ``a - b * INTEGER(a / b)`` so
    rewritten, and ``DELAY_N(input, delay, initial, order)`` becomes
    ``DELAYN(input, delay, order, initial)`` with the order Vensim would lower
    it to for a constant delay time.  A DELAY_N whose delay time varies has no
    XMILE equivalent (Vensim drains each stage with the delay time the content
    entered with): it is written as DELAYN with a warning.
    """
    if not any(f in text.upper() for f in _VENSIM_ONLY) and "." not in text:
        return None
    try:
        tree = parse(text, variable=name)
    except ParseError:
        return None
    if not any(
        (isinstance(n, ast.Call) and n.func in _VENSIM_ONLY) or (isinstance(n, ast.Name) and "." in n.name)
        for n in ast.walk(tree)
    ):
        return None  # (a module's variable, ``module.x``, is written quoted: one name to every reader)

    def integer(x: ast.Expr) -> ast.Expr:
        return ast.If(
            ast.Binary("<", x, ast.Num(0.0)),
            ast.Unary("-", ast.Call("INT", (ast.Unary("-", x),))),
            ast.Call("INT", (x,)),
        )

    def constant_value(x: ast.Expr) -> float | None:
        v = ast.literal_value(x)
        if v is None and isinstance(x, ast.Name) and x.name in model:
            el = model[x.name]
            v = float(el.value) if isinstance(el, Constant) and not el.dimensions else None
        return v

    def rewrite(n: ast.Expr) -> ast.Expr:
        if not isinstance(n, ast.Call):
            return n
        if n.func == "INTEGER":
            return integer(n.args[0])
        if n.func == "MODULO":
            a, b = n.args
            return ast.Binary("-", a, ast.Binary("*", b, integer(ast.Binary("/", a, b))))
        if n.func == "SMOOTH_N":  # Vensim's argument order: input, delay time, initial value, order
            x, d, init, order = n.args
            return ast.Call("SMTHN", (x, d, order, init))
        if n.func == "POWER":
            return ast.Binary("^", n.args[0], n.args[1])
        if n.func == "LOG":  # LN / LN (PySD's XMILE lacks LOG10)
            base = n.args[1] if len(n.args) > 1 else ast.Num(10.0)
            return ast.Binary("/", ast.Call("LN", (n.args[0],)), ast.Call("LN", (base,)))
        if n.func == "SIGN":  # x / |x| is exactly 1 or -1; SAFEDIV gives 0 at 0
            x = n.args[0]
            return ast.Call("SAFEDIV", (x, ast.Call("ABS", (x,))))
        if n.func == "DELAY_N":
            x, d, init, order = n.args
            k, d0 = constant_value(order), constant_value(d)
            if k is not None and d0 is not None and d0 > 0:
                k = max(1, round(k))
                while k > 1 and k * model.specs.dt > d0:
                    k -= 1
                order = ast.Num(float(k))
            elif d0 is None:
                import warnings

                warnings.warn(
                    f"variable '{name}': Vensim's DELAY N with a varying delay time is written as "
                    "XMILE DELAYN, which drains every stage with the current delay time; other tools "
                    "will differ from trafficsys while the delay time changes",
                    stacklevel=4,
                )
            return ast.Call("DELAYN", (x, d, order, init))
        return n

    return to_xmile(ast.transform(tree, rewrite))


def _element_xml(e: Element, X: str, model: Model) -> ET.Element:
    tag = {Kind.STOCK: "stock", Kind.FLOW: "flow", Kind.AUX: "aux", Kind.CONSTANT: "aux", Kind.LOOKUP: "aux"}[
        e.kind
    ]
    if isinstance(e, Lookup) and e.input is None:
        tag = "gf"
    el = ET.Element(X + tag, {"name": e.name})
    extra: dict[str, Any] = {}
    if e.doc:
        ET.SubElement(el, X + "doc").text = e.doc
    if e.dimensions:
        de = ET.SubElement(el, X + "dimensions")
        for d in e.dimensions:
            ET.SubElement(de, X + "dim", {"name": d})
    main = e.initial if isinstance(e, Stock) else e.equation if isinstance(e, (Flow, Aux)) else None
    portable = _portable(main, model, e.name) if main else None
    if portable is not None:
        extra["eqn"] = main
        main = portable
    if isinstance(e, Stock):
        ET.SubElement(el, X + "eqn").text = main
        for f in e.inflows:
            ET.SubElement(el, X + "inflow").text = _flow_ref(f)
        for f in e.outflows:
            ET.SubElement(el, X + "outflow").text = _flow_ref(f)
        if e.non_negative:
            ET.SubElement(el, X + "non_negative")
    elif isinstance(e, Flow):
        ET.SubElement(el, X + "eqn").text = main
        if e.non_negative:
            ET.SubElement(el, X + "non_negative")
    elif isinstance(e, Aux):
        ET.SubElement(el, X + "eqn").text = main
        if numeric_literal(e.equation) is not None:
            extra["kind"] = "aux"
    elif isinstance(e, Constant):
        ET.SubElement(el, X + "eqn").text = repr(float(e.value))
        if e.range is not None:
            extra["range"] = list(e.range)
        if e.distribution is not None:
            extra["distribution"] = e.distribution.to_dict()
        if e.source:
            extra["source"] = e.source
    elif isinstance(e, Lookup):
        if e.input is not None:
            ET.SubElement(el, X + "eqn").text = e.input
        if tag == "gf":
            gf = el
            gf.set("type", e.extrapolation.value)
        else:
            gf = ET.SubElement(el, X + "gf", {"type": e.extrapolation.value})
        _gf_xml(gf, e.xs, e.ys, X)
    elements: dict[str, ET.Element] = {}
    for key, text in e.per_element:
        pe = elements[key] = ET.SubElement(el, X + "element", {"subscript": key})
        portable = _portable(text, model, e.name)
        if portable is not None:
            extra.setdefault("element_eqn", {})[key] = text
        ET.SubElement(pe, X + "eqn").text = text if portable is None else portable
    if elements and isinstance(e, (Stock, Flow, Aux)) and main:
        # the elements without an equation of their own take the variable's: written out, since XMILE
        # gives an arrayed variable either one equation or one per element, and other tools read only these
        filled = [
            key
            for key in (",".join(c) for c in itertools.product(*(model.dimensions[d] for d in e.dimensions)))
            if key not in elements
        ]
        for key in filled:
            ET.SubElement(ET.SubElement(el, X + "element", {"subscript": key}), X + "eqn").text = main
        if filled:
            extra["filled"] = filled
    if isinstance(e, Lookup):
        for key, xs, ys in e.tables:  # an element's own table
            found = elements.get(key)
            pe = found if found is not None else ET.SubElement(el, X + "element", {"subscript": key})
            elements[key] = pe
            _gf_xml(ET.SubElement(pe, X + "gf", {"type": e.extrapolation.value}), xs, ys, X)
    if e.units:
        ET.SubElement(el, X + "units").text = e.units
    if e.role:
        extra["role"] = e.role
    if extra:
        ET.SubElement(el, "{" + TS_NS + "}extra").text = json.dumps(extra, sort_keys=True)
    return el


def _gf_xml(gf: ET.Element, xs: tuple[float, ...], ys: tuple[float, ...], X: str) -> None:
    if _evenly_spaced(xs):
        # PySD reads <xscale> in preference to <xpts>: write it only when the two agree
        ET.SubElement(gf, X + "xscale", {"min": _fmt(min(xs)), "max": _fmt(max(xs))})
    ET.SubElement(gf, X + "yscale", {"min": _fmt(min(ys)), "max": _fmt(max(ys))})
    ET.SubElement(gf, X + "xpts").text = ",".join(repr(float(x)) for x in xs)
    ET.SubElement(gf, X + "ypts").text = ",".join(repr(float(y)) for y in ys)


def _evenly_spaced(xs: tuple[float, ...]) -> bool:
    if len(xs) < 2:
        return True
    step = (xs[-1] - xs[0]) / (len(xs) - 1)
    return all(abs(x - (xs[0] + i * step)) <= 1e-12 * max(1.0, abs(x)) for i, x in enumerate(xs))


def _model_extension(model: Model) -> dict[str, Any]:
    out: dict[str, Any] = {"order": [canonical(e.name) for e in model]}
    if model.doc:
        out["doc"] = model.doc
    if model.scenarios:
        out["scenarios"] = [
            {"name": s.name, "set": [list(kv) for kv in s.set], "doc": s.doc}
            for s in model.scenarios.values()
        ]
    if model.loops:
        out["loops"] = [
            {"name": lp.name, "variables": list(lp.variables), "polarity": lp.polarity, "doc": lp.doc}
            for lp in model.loops.values()
        ]
    if model.sectors:
        out["sectors"] = [
            {"name": sc.name, "variables": list(sc.variables), "doc": sc.doc} for sc in model.sectors.values()
        ]
    if model.links:
        out["links"] = [
            {
                "source": lk.source,
                "target": lk.target,
                "polarity": lk.polarity,
                "delay": lk.delay,
                "note": lk.note,
                "strength": lk.strength,
            }
            for lk in model.links
        ]
    if model.cld_variables:
        out["cld_variables"] = model.cld_variables
    meta = _json_safe({k: v for k, v in model.metadata.items() if k != "xmile_views"})  # views: in <views>
    if meta:
        out["metadata"] = meta
    return out


def _json_safe(value: Any) -> Any:
    """Free-form metadata as JSON: dates and times as ISO 8601 text; what JSON cannot hold is dropped."""
    import datetime

    if isinstance(value, dict):
        items = ((k, _json_safe(v)) for k, v in value.items() if isinstance(k, str))
        return {k: v for k, v in items if v is not None}
    if isinstance(value, (list, tuple)):
        return [v for v in map(_json_safe, value) if v is not None]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, bool, int, float)):
        return value
    return None


def _view(model: Model, view: ET.Element, X: str) -> None:
    pos = layout(model)
    for e in model:
        key = canonical(e.name)
        x, y = pos[key]
        tag = {Kind.STOCK: "stock", Kind.FLOW: "flow"}.get(e.kind, "aux")
        el = ET.SubElement(view, X + tag, {"name": e.name, "x": _fmt(round(x, 1)), "y": _fmt(round(y, 1))})
        if isinstance(e, Flow):
            ends = _flow_ends(model, key, pos)
            pts = ET.SubElement(el, X + "pts")
            for px, py in ends:
                ET.SubElement(pts, X + "pt", {"x": _fmt(round(px, 1)), "y": _fmt(round(py, 1))})
    uid = 1
    g = model.graph()
    for a, b, data in g.edges(data=True):
        if data.get("via") != "equation" or a not in pos or b not in pos:
            continue
        c = ET.SubElement(view, X + "connector", {"uid": str(uid), "angle": "0"})
        ET.SubElement(c, X + "from").text = model[a].name
        ET.SubElement(c, X + "to").text = model[b].name
        uid += 1


def _flow_ends(model: Model, flow: str, pos: dict[str, tuple[float, float]]) -> list[tuple[float, float]]:
    src = dst = None
    for s in model.stocks:
        if flow in {canonical(f) for f in s.outflows}:
            src = canonical(s.name)
        if flow in {canonical(f) for f in s.inflows}:
            dst = canonical(s.name)
    fx, fy = pos[flow]
    a = pos[src] if src else (fx - 60, fy)
    b = pos[dst] if dst else (fx + 60, fy)
    if a[1] == b[1]:  # a straight pipe through the valve (parallel flows have their own heights)
        a, b = (a[0], fy), (b[0], fy)
    return [a, b]


def _flow_ref(name: str) -> str:
    """Write a stock's <inflow>/<outflow> reference: quoted, as Stella writes it, unless a plain identifier.

    Other readers (PySD) parse the reference as an expression, where a name with spaces must be quoted.
    """
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or '"' in name:
        return name
    return f'"{name}"'
