"""XMILE 1.0 in and out (``.xmile``, ``.stmx``, ``.itmx``, ``.xml``).

Reading follows the pipeline PySD made readable: safe XML -> plain records
-> :class:`~trafficsys.model.Model`.  Namespaces vary between vendors (the
OASIS one, the older ``systemdynamics.org`` one, none at all), so every tag is
matched by its local name.  What the reader understands:

* ``sim_specs``: start, stop, dt (also ``reciprocal="true"``), save interval,
  method (Euler, RK4), time units;
* stocks (inflows, outflows, non-negative), flows (uniflow / biflow),
  auxiliaries, graphical functions (``gf``, also stand-alone), units, docs,
  the model-wide ``<behavior><non_negative/>`` default;
* arrays: ``<dimensions>``, arrayed variables with apply-to-all and
  per-element (``<element subscript=...>``) equations, Stella's ``1, 2, 3``
  list form (see :mod:`trafficsys.model.arrays`);
* modules: each instance of a sub-model becomes variables named
  ``module.variable``, and ``<connect>`` turns a module input into an
  auxiliary equal to its source;
* macros (``<macro>`` with ``<parm>`` and ``<eqn>``): a single expression is
  inlined at each call; a macro with ``<variables>`` of its own (stocks,
  flows, auxiliaries) gets a copy of them per call site, named
  ``caller.macroK.variable``, so each call keeps its own state;
* diagram positions, kept in ``model.metadata["xmile_views"]``;
* the writing tool's dialect: in a file whose ``<header>`` names Vensim
  (Vensim's export and xmutil), ``INT`` and ``MOD`` are Vensim's INTEGER and
  MODULO (truncation toward zero) and read as those builtins; everywhere else
  they keep XMILE's meaning (floor; remainder with the divisor's sign).

Everything else (conveyors, queues, ovens, unknown
integration methods...) raises :class:`~trafficsys.errors.UnsupportedFeatureError`
naming the feature and the variable.
"""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

from ... import limits
from ...errors import FileFormatError, ParseError, UnsupportedFeatureError
from ...model import ast
from ...model.elements import (
    Aux,
    Constant,
    Distribution,
    Extrapolation,
    Flow,
    Link,
    Lookup,
    NamedLoop,
    Scenario,
    Stock,
)
from ...model.model import Model
from ...model.names import canonical
from ...model.parser import numeric_literal, parse
from ...model.printer import to_xmile
from ..companion import companion_paths
from ..xmlsafe import local, read_xml
from .namespaces import TS_NS

__all__ = ["read_xmile"]

_METHODS = {"euler": "euler", "rk4": "rk4"}
_UNSUPPORTED_VARS = {"conveyor", "queue", "oven", "group_input"}


# ============================================================== helpers
def _kids(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local(c.tag) == name]


def _kid(el: ET.Element, name: str) -> ET.Element | None:
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def _text(el: ET.Element | None) -> str | None:
    if el is None:
        return None
    return "".join(el.itertext())


def _attr(el: ET.Element, name: str, default: str | None = None) -> str | None:
    for k, v in el.attrib.items():
        if local(k) == name:
            return v
    return default


def _clean_name(name: str) -> str:
    r"""Return a display name as written in a file, without quotes, ``\n`` and runs of spaces."""
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    name = name.replace("\\n", " ").replace("\n", " ").replace("\r", " ")
    return re.sub(r"\s+", " ", name).strip()


_COMMENT = re.compile(r"\{[^{}]*\}")
_STELLA_BREAK = re.compile(r"(?<!\\)((?:\\\\)*)\\n")


def _clean_eqn(text: str | None) -> str:
    r"""Remove Stella-isms from an equation: ``{comments}``, line breaks, ``\n`` in names."""
    if text is None:
        return ""
    raw = text
    text = _COMMENT.sub(" ", text)
    # Stella's \n in a name, but not an escaped backslash followed by n ("a\\nb" names a\nb)
    text = _STELLA_BREAK.sub(r"\1 ", text).replace("\r", " ").replace("\n", " ").replace("\t", " ")
    if "\n" in raw or "{" in raw or "\t" in raw or "\r" in raw:
        text = re.sub(r"\s{2,}", " ", text)  # line breaks and comments leave runs of spaces
    return text.strip()


def _float(text: str | None, what: str, file: str | None, variable: str | None = None) -> float:
    try:
        v = float((text or "").strip())
    except ValueError:
        raise FileFormatError(
            f"{what} must be a number, got {text!r}", file=file, variable=variable
        ) from None
    if not math.isfinite(v):
        raise FileFormatError(f"{what} must be finite, got {text!r}", file=file, variable=variable)
    return v


def _number_list(el: ET.Element, what: str, file: str | None, variable: str) -> list[float]:
    sep = _attr(el, "sep", ",") or ","
    raw = [p for p in (_text(el) or "").split(sep) if p.strip()]
    return [_float(p, what, file, variable) for p in raw]


# ============================================================== reading
def read_xmile(path: str | os.PathLike, *, macros=None) -> Model:
    """Read an XMILE model file (Stella ``.stmx``/``.itmx``, ``.xmile``, ``.xml``).

    Parameters
    ----------
    path
        The file.
    macros
        Files (one path or a list) holding macros the model calls but does not
        define: XMILE files (their ``<macro>`` elements; XMILE 1.0 lets macros
        live in a file of their own) or Vensim ``.mdl`` files (their ``:MACRO:``
        blocks, translated by :func:`~trafficsys.io.vensim.xmile_macros`).  A
        file translated from Vensim by xmutil calls the model's macros without
        their definitions; ``macros="model.mdl"`` gives them back.  A macro the
        file defines itself wins.  In the model's folder or below it
        (:mod:`trafficsys.io.companion`).

    Returns
    -------
    Model
        The model; arrayed models keep their dimensions (``model.dimensions``).

    Raises
    ------
    FileFormatError
        Hostile or malformed XML, a missing ``<model>``, bad numbers.
    UnsupportedFeatureError
        A feature trafficsys does not implement; the message names it and the
        variable that uses it.
    ParseError
        An equation that is not valid XMILE (file, variable and column named).

    Examples
    --------
    >>> m = read_xmile("teacup.xmile")  # doctest: +SKIP
    """
    path = os.fspath(path)
    root = read_xml(path)
    reader = _Reader(root, path)
    for lib in companion_paths(path, macros, "macro file"):
        found = _library_macros(lib)
        if not found:
            raise FileFormatError(
                "the macro file defines no macros (no <macro> element, no :MACRO: block)", file=str(lib)
            )
        reader.library.extend(found)
    return reader.build()


def _library_macros(path) -> list[ET.Element]:
    """Return the macros of a macro file: XMILE ``<macro>`` elements, or a Vensim file's translated."""
    if path.suffix.lower() == ".mdl":
        from ..vensim import xmile_macros

        return xmile_macros(path)
    root = read_xml(os.fspath(path))
    if local(root.tag) != "xmile":
        raise FileFormatError(
            f"the root element is <{local(root.tag)}>, not <xmile>; a macro file is an XMILE file with "
            "<macro> elements or a Vensim .mdl file with :MACRO: blocks",
            file=str(path),
        )
    return _kids(root, "macro")


class _Reader:
    def __init__(self, root: ET.Element, file: str | None):
        self.root = root
        self.file = file
        if local(root.tag) != "xmile":
            raise FileFormatError(
                f"the root element is <{local(root.tag)}>, not <xmile>; this is not an XMILE model file",
                file=file,
            )
        self.models = _kids(root, "model")
        if not self.models:
            raise FileFormatError("the file has no <model> element", file=file)
        self.macros: dict[str, tuple[tuple[str, ...], ast.Expr]] = {}
        self.stateful: dict[str, list[ET.Element]] = {}  #: macros with variables of their own
        self.instances: dict[str, int] = {}  #: calls of such macros expanded so far, by caller
        self.macro_depth = 0
        #: macros from macro files (``read_xmile(..., macros=...)``): used where the file defines none
        self.library: list[ET.Element] = []
        self.m: Model | None = None
        self.stock_nonneg = False
        self.flow_nonneg = False
        self.views: dict[str, dict[str, Any]] = {}
        self.hidden: list[str] = []
        self.vensim = _written_by_vensim(root)

    # -------------------------------------------------------------- top level
    def build(self) -> Model:
        root = self.root
        header = _kid(root, "header")
        name = _text(_kid(header, "name")) if header is not None else None
        if not name or not name.strip():
            name = os.path.splitext(os.path.basename(self.file or "model"))[0]
        m = Model(name.strip())
        m.file = self.file
        self.m = m
        self._sim_specs(m)
        behavior = _kid(root, "behavior")
        if behavior is not None:
            # <behavior><non_negative/> applies to stocks and flows; <stock>/<flow> wrappers to one kind
            for c in behavior:
                tag = local(c.tag)
                if tag == "non_negative":
                    self.stock_nonneg = self.flow_nonneg = _bool_el(c, True)
                elif tag in ("stock", "flow"):
                    nn = _kid(c, "non_negative")
                    if nn is not None:
                        setattr(self, f"{tag}_nonneg", _bool_el(nn, True))
        self._dimensions(m)
        for mac in self.library:
            self._macro(mac)
        for mac in _kids(root, "macro"):  # the file's own definitions win
            self.stateful.pop(canonical(_attr(mac, "name") or ""), None)
            self._macro(mac)
        by_name = {(_attr(md, "name") or ""): md for md in self.models}
        used = set()
        for md in self.models:
            for v in md.iter():
                if local(v.tag) == "module":
                    used.add(canonical(_attr(v, "model_name") or _attr(v, "name") or ""))
        main = [md for md in self.models if not _attr(md, "name")]
        if not main:
            main = [
                md for md in self.models if canonical(_attr(md, "name") or "") not in used
            ] or self.models[:1]
        self._check_module_sizes(main[0], by_name)
        self._model_into(m, main[0], prefix="", by_name=by_name, depth=0)
        self._flows_from_auxes(m)
        self._check_calls(m)
        if self.views:
            m.metadata["xmile_views"] = self.views
        ext = _kid(root, "trafficsys")
        if ext is not None:
            order = self._extension(m, ext)
            if order:  # restore the definition order of the original model
                m = m.with_elements(m[k] for k in order)
        return m

    def _flows_from_auxes(self, m: Model) -> None:
        # xmutil (Vensim -> XMILE) writes some flows as <aux>; a stock's inflow or outflow is a flow
        import dataclasses

        for s in m.stocks:
            for f in (*s.inflows, *s.outflows):
                if f not in m:
                    raise FileFormatError(
                        f"stock '{s.name}' lists flow '{f}', which the file does not define",
                        file=self.file,
                        variable=s.name,
                    )
                e = m[f]
                if isinstance(e, Aux):
                    m.add(
                        Flow(
                            e.name, e.units, e.doc, e.role, e.dimensions, e.per_element, equation=e.equation
                        ),
                        replace=True,
                    )
                elif isinstance(e, Constant):
                    m.add(
                        Flow(
                            e.name,
                            e.units,
                            e.doc,
                            e.role,
                            e.dimensions,
                            e.per_element,
                            equation=_num_text(e.value),
                        ),
                        replace=True,
                    )
        # a flow drawn out of (or into) several stocks: each stock gets its own copy of the flow
        # (the XMILE reading PySD and Stella share), so material is not created twice silently
        seen: dict[tuple[str, str], str] = {}
        for s in list(m.stocks):
            changed = False
            lists = {"inflows": list(s.inflows), "outflows": list(s.outflows)}
            for role, names in lists.items():
                for i, f in enumerate(names):
                    k = (role, canonical(f))
                    if k not in seen:
                        seen[k] = s.name
                        continue
                    fl = m[f]
                    copy = f"{fl.name} ({s.name})"
                    if copy not in m:
                        m.add(
                            dataclasses.replace(
                                fl, name=copy, doc=f"copy of flow {fl.name} for stock {s.name}"
                            )
                        )
                    names[i] = copy
                    changed = True
            if changed:
                m.add(
                    dataclasses.replace(
                        s, inflows=tuple(lists["inflows"]), outflows=tuple(lists["outflows"])
                    ),
                    replace=True,
                )

    def _check_calls(self, m: Model) -> None:
        # a lower-case call that is no lookup of the model is an undefined macro or a vendor
        # function we do not know: list them all with their users, as the error contract asks
        unknown: dict[str, list[str]] = {}
        for key in m.names():
            e = m[key]
            texts = [m.equation_text(key) or ""] + [t for _, t in e.per_element]
            for text in texts:
                if not text:
                    continue
                for fn in ast.calls(parse(text, variable=e.name, file=self.file)):
                    if fn.isupper():
                        continue
                    if fn not in m or not isinstance(m[fn], Lookup):
                        unknown.setdefault(fn, []).append(e.name)
        if unknown:
            parts = "; ".join(
                f"{fn}() used by {', '.join(sorted(set(v)))}" for fn, v in sorted(unknown.items())
            )
            raise UnsupportedFeatureError(
                f"unsupported or undefined functions: {parts}. Macros must be defined in the file "
                "(<macro>) or given from a macro file (ts.load(path, macros=FILE) or trafficsys run --macros FILE: "
                "an XMILE file with <macro> "
                "elements or the Vensim .mdl the file was translated from); other vendor functions are not "
                "supported",
                file=self.file,
                variable=next(iter(unknown.values()))[0],
            )

    def _sim_specs(self, m: Model) -> None:
        specs = _kid(self.root, "sim_specs")
        if specs is None:
            return
        changes: dict[str, Any] = {}
        for key in ("start", "stop"):
            el = _kid(specs, key)
            if el is not None:
                changes[key] = _float(_text(el), f"sim_specs <{key}>", self.file)
        dt_el = _kid(specs, "dt")
        if dt_el is not None:
            dt = _float(_text(dt_el), "sim_specs <dt>", self.file)
            if (_attr(dt_el, "reciprocal") or "").lower() == "true":
                if dt == 0:
                    raise FileFormatError("sim_specs <dt reciprocal='true'> is 0", file=self.file)
                dt = 1.0 / dt
            if dt <= 0:
                raise FileFormatError(f"sim_specs <dt> must be positive, got {dt}", file=self.file)
            changes["dt"] = dt
        save = _kid(specs, "savestep")
        if save is None:
            save = _kid(specs, "save_interval")
        if save is None and _attr(specs, "save_interval"):
            changes["saveper"] = _float(_attr(specs, "save_interval"), "sim_specs save_interval", self.file)
        elif save is not None:
            changes["saveper"] = _float(_text(save), "sim_specs save interval", self.file)
        method = (_attr(specs, "method") or "euler").strip().lower()
        if method not in _METHODS:
            raise UnsupportedFeatureError(
                f"integration method '{_attr(specs, 'method')}' is not supported; use Euler or RK4 "
                "(change <sim_specs method=...>)",
                file=self.file,
            )
        changes["method"] = _METHODS[method]
        tu = _attr(specs, "time_units")
        if tu:
            changes["time_units"] = tu.strip()
        m.set_specs(**changes)

    def _dimensions(self, m: Model) -> None:
        dims = _kid(self.root, "dimensions")
        if dims is None:
            return
        for d in _kids(dims, "dim"):
            name = _attr(d, "name") or ""
            elems = [_clean_name(_attr(e, "name") or "") for e in _kids(d, "elem")]
            if elems:
                m.dimension(name, elems)
            elif _attr(d, "size"):
                m.dimension(name, int(_float(_attr(d, "size"), f"dimension '{name}' size", self.file)))
            else:
                raise FileFormatError(f"dimension '{name}' has no <elem> and no size", file=self.file)

    def _macro(self, mac: ET.Element) -> None:
        name = canonical(_attr(mac, "name") or "")
        parms = tuple(canonical(_text(p) or "") for p in _kids(mac, "parm"))
        variables = _kid(mac, "variables")
        eqn = _clean_eqn(_text(_kid(mac, "eqn")))
        if not eqn:
            raise UnsupportedFeatureError(f"macro '{name}' has no <eqn>", file=self.file, variable=name)
        self.macros[name] = (parms, parse(eqn, variable=f"macro {name}", file=self.file))
        if variables is not None and len(variables):
            items = list(variables)
            for v in items:
                if local(v.tag) not in ("stock", "flow", "aux"):
                    raise UnsupportedFeatureError(
                        f"macro '{name}' defines a <{local(v.tag)}>; a macro's own variables may be stocks, "
                        "flows and auxiliaries",
                        file=self.file,
                        variable=name,
                    )
            self.stateful[name] = items

    def _instance(
        self, fn: str, args: tuple[ast.Expr, ...], caller: str, prefix: str, local_names: set[str]
    ) -> ast.Expr:
        """Expand one call of a macro with variables of its own: a copy of them for this call site.

        The copy's variables are named ``caller.macroK.variable`` (the K-th call in the caller's
        equation), so each call keeps its own stocks; the call becomes the macro's equation over them.
        """
        parms, body = self.macros[fn]
        items = self.stateful[fn]
        m = self.m
        assert m is not None  # set by build() before any equation is read
        k = self.instances.get(caller, 0) + 1
        self.instances[caller] = k
        inst = f"{caller}.{fn}{k}"
        key = canonical(inst)
        inner = {canonical(_clean_name(_attr(v, "name") or "")) for v in items}
        outer_args = {p: _prefix_names(a, prefix, local_names) if prefix else a for p, a in zip(parms, args)}

        def rename(tree: ast.Expr, args_by_parm: dict[str, ast.Expr]) -> ast.Expr:
            def visit(n: ast.Expr) -> ast.Expr:
                if isinstance(n, ast.Name) and n.name in inner:
                    return ast.Name(f"{key}.{n.name}")
                return n

            return _substitute(ast.transform(tree, visit), args_by_parm)

        self.macro_depth += 1
        try:
            if self.macro_depth > 20:
                raise UnsupportedFeatureError(
                    "macros call each other more than 20 deep (a recursive macro?)",
                    file=self.file,
                    variable=caller,
                )
            for v in items:
                tag = local(v.tag)
                vname = f"{inst}.{_clean_name(_attr(v, 'name') or '')}"
                text = _clean_eqn(_text(_kid(v, "eqn"))) or "0"
                tree = rename(parse(self._space_calls(text), variable=vname, file=self.file), outer_args)
                tree, _ = self._inline_macros(tree, vname, "", set())
                eqn = to_xmile(tree)
                units = (_text(_kid(v, "units")) or "").strip() or None
                if tag == "stock":
                    nn = _kid(v, "non_negative")
                    flows = {
                        d: tuple(f"{key}.{canonical(_clean_name(_text(f) or ''))}" for f in _kids(v, d))
                        for d in ("inflow", "outflow")
                    }
                    m.add(
                        Stock(
                            vname,
                            units,
                            f"in macro {fn}",
                            initial=eqn,
                            inflows=flows["inflow"],
                            outflows=flows["outflow"],
                            non_negative=self.stock_nonneg if nn is None else _bool_el(nn, True),
                        )
                    )
                elif tag == "flow":
                    nn = _kid(v, "non_negative")
                    m.add(
                        Flow(
                            vname,
                            units,
                            f"in macro {fn}",
                            equation=eqn,
                            non_negative=self.flow_nonneg if nn is None else _bool_el(nn, True),
                        )
                    )
                else:
                    m.add(Aux(vname, units, f"in macro {fn}", equation=eqn))
        finally:
            self.macro_depth -= 1
        return rename(body, dict(zip(parms, args)))

    # ------------------------------------------------------------ one model
    def _model_into(
        self,
        m: Model,
        md: ET.Element,
        prefix: str,
        by_name: dict,
        depth: int,
        connects: dict[str, str] | None = None,
    ) -> None:
        if depth > 20:
            raise UnsupportedFeatureError(
                "modules nest deeper than 20 levels (recursive modules?)", file=self.file
            )
        connects = connects or {}
        variables = _kid(md, "variables")
        local_names: set[str] = set()
        items = list(variables) if variables is not None else []
        for v in items:
            n = _attr(v, "name")
            if n:
                local_names.add(canonical(_clean_name(n)))
        for v in items:
            tag = local(v.tag)
            if tag in ("stock", "flow", "aux", "gf"):
                self._variable(m, v, tag, prefix, local_names, connects)
            elif tag == "module":
                self._module(m, v, prefix, by_name, depth, local_names)
            elif tag in _UNSUPPORTED_VARS or tag == "group":
                if tag == "group":
                    continue  # a diagram grouping (sector), not a variable
                raise UnsupportedFeatureError(
                    f"<{tag}> is not supported (Stella {tag}s have no trafficsys equivalent); model it with "
                    "stocks and flows",
                    file=self.file,
                    variable=_attr(v, "name"),
                )
        views = _kid(md, "views")
        if views is not None:
            self._keep_views(views, prefix)

    def _check_module_sizes(self, main: ET.Element, by_name: dict) -> None:
        """Count module instances and the variables they bring, before expanding any (a fan-out bomb)."""
        memo: dict[int, tuple[int, int]] = {}

        def sub_model(v: ET.Element) -> ET.Element | None:
            name = _attr(v, "model_name") or _attr(v, "name") or ""
            return by_name.get(name) or next(
                (md for n, md in by_name.items() if canonical(n) == canonical(name)), None
            )

        def count(md: ET.Element, depth: int) -> tuple[int, int]:
            # (instances, variables) one copy of ``md`` expands to; a missing model or a cycle is
            # reported by the expansion itself
            if id(md) in memo:
                return memo[id(md)]
            if depth > 20:
                return 0, 0
            instances = variables = 0
            items = _kid(md, "variables")
            for v in items if items is not None else ():
                tag = local(v.tag)
                if tag == "module":
                    sub = sub_model(v)
                    i, n = count(sub, depth + 1) if sub is not None else (0, 0)
                    instances += 1 + i
                    variables += n
                elif tag in ("stock", "flow", "aux", "gf"):
                    variables += 1
            memo[id(md)] = (instances, variables)
            return instances, variables

        instances, variables = count(main, 0)
        limits.check(
            "module_instances",
            instances,
            "the model with its modules expanded",
            "use fewer or less deeply nested modules",
            file=self.file,
        )
        limits.check(
            "variables",
            variables,
            "the model with its modules expanded",
            "use fewer or smaller modules",
            file=self.file,
        )

    def _module(self, m, v, prefix, by_name, depth, local_names):
        inst = canonical(_clean_name(_attr(v, "name") or ""))
        sub_name = _attr(v, "model_name") or _attr(v, "name") or ""
        sub = by_name.get(sub_name)
        if sub is None:
            sub = next((md for n, md in by_name.items() if canonical(n) == canonical(sub_name)), None)
        if sub is None:
            raise UnsupportedFeatureError(
                f"module '{inst}' refers to model '{sub_name}', which the file does not contain "
                "(modules in other files are not supported)",
                file=self.file,
                variable=inst,
            )
        conn: dict[str, str] = {}
        for c in _kids(v, "connect") + _kids(v, "connect2"):
            to = _attr(c, "to") or ""
            frm = _attr(c, "from") or ""
            # names are relative: "to" is inside the module, "from" in the parent ("." = parent root)
            to_c = canonical(_clean_name(to))
            frm_c = canonical(_clean_name(frm.lstrip(".")))
            if to_c.startswith(inst + "."):
                to_c = to_c[len(inst) + 1 :]
            conn[to_c] = prefix + frm_c
        self._model_into(m, sub, prefix + inst + ".", by_name, depth + 1, conn)

    def _keep_views(self, views: ET.Element, prefix: str) -> None:
        for view in _kids(views, "view"):
            for el in view:
                n = _attr(el, "name")
                x, y = _attr(el, "x"), _attr(el, "y")
                if not n or x is None or y is None:
                    continue
                try:
                    pos = {"x": float(x), "y": float(y), "type": local(el.tag)}
                except ValueError:
                    continue
                key = prefix + canonical(_clean_name(n))
                self.views.setdefault(key, pos)
            break  # the first view is the stock-flow diagram

    # ------------------------------------------------------------ variables
    def _variable(
        self, m: Model, v: ET.Element, tag: str, prefix: str, local_names: set[str], connects: dict[str, str]
    ) -> None:
        raw = _attr(v, "name")
        if not raw:
            raise FileFormatError(f"a <{tag}> has no name attribute", file=self.file)
        disp = _clean_name(raw)
        key = canonical(disp)
        name = prefix + disp if prefix else disp
        units = _text(_kid(v, "units"))
        units = units.strip() if units and units.strip() else None
        doc = (_text(_kid(v, "doc")) or "").strip()
        dims = tuple(
            canonical(_attr(d, "name") or "") for d in _kids(_kid(v, "dimensions") or ET.Element("x"), "dim")
        )
        for d in dims:
            if d not in m.dimensions:
                raise FileFormatError(
                    f"dimension '{d}' is not declared in <dimensions>", file=self.file, variable=name
                )
        ext = self._ts_ext(v)

        def eq(text: str | None, what: str = "equation") -> str:
            return self._equation(_clean_eqn(text), name, prefix, local_names, what)

        if key in connects:
            # a module input: its value comes from the parent model
            m.add(Aux(name, units, doc, dimensions=dims, equation=_name_text(connects[key])))
            return

        per: list[tuple[str, str]] = []
        tables: list[tuple[str, tuple[float, ...], tuple[float, ...]]] = []
        table_extraps: list[Extrapolation] = []
        for el in _kids(v, "element"):
            sub = _attr(el, "subscript") or ""
            skey = ",".join(canonical(s) for s in sub.split(","))
            egf = _kid(el, "gf")
            if egf is not None:  # a graphical function of its own for this element
                if tag == "flow":
                    raise UnsupportedFeatureError(
                        "per-element graphical functions of a flow are not supported; "
                        "give the table its own variable",
                        file=self.file,
                        variable=name,
                    )
                xs_e, ys_e, ex_e = self._gf(egf, name)
                table_extraps.append(ex_e)
                tables.append((skey, xs_e, ys_e))
            if _kid(el, "eqn") is not None or egf is None:
                per.append((skey, eq(_text(_kid(el, "eqn")))))
        eqn_el = _kid(v, "eqn")
        eqn_raw = _clean_eqn(_text(eqn_el))
        eqns = _kids(v, "eqn")
        if dims and not per and len(eqns) > 1:
            # xmutil writes one <eqn> per element, in element order, without <element> wrappers
            combos = _combos(m, dims)
            if len(combos) != len(eqns):
                raise FileFormatError(
                    f"{len(eqns)} <eqn> elements for {len(combos)} array elements",
                    file=self.file,
                    variable=name,
                )
            per = [(k, eq(_text(x))) for k, x in zip(combos, eqns)]
            eqn_raw = ""
        if dims and not per and _is_number_list(eqn_raw):
            per = self._list_to_elements(m, dims, eqn_raw, name)
            eqn_raw = ""
        # our own files keep an equation that other tools could not read beside its portable form
        if isinstance(ext.get("eqn"), str):
            eqn_raw = _clean_eqn(ext["eqn"])
        if isinstance(ext.get("element_eqn"), dict):
            own = {k: v for k, v in ext["element_eqn"].items() if isinstance(v, str)}
            per = [(k, eq(own[k]) if k in own else t) for k, t in per]
        if isinstance(ext.get("filled"), list):  # our own file wrote these out from the variable's equation
            filled = set(ext["filled"])
            per = [(k, t) for k, t in per if k not in filled]
        gf = _kid(v, "gf") if tag != "gf" else v
        nonneg_el = _kid(v, "non_negative")
        default = self.flow_nonneg if tag == "flow" else self.stock_nonneg
        nonneg = default if nonneg_el is None else _bool_el(nonneg_el, True)
        if _kid(v, "conveyor") is not None or _kid(v, "queue") is not None:
            raise UnsupportedFeatureError(
                "Stella conveyors and queues are not supported; use a DELAYN flow",
                file=self.file,
                variable=name,
            )

        if tag == "stock":
            init = eq(eqn_raw, "initial value") if eqn_raw else ("0" if not per else "0")
            infl = tuple(self._ref(_text(f) or "", prefix) for f in _kids(v, "inflow"))
            outf = tuple(self._ref(_text(f) or "", prefix) for f in _kids(v, "outflow"))
            st = Stock(
                name,
                units,
                doc,
                ext.get("role"),
                dims,
                tuple(per),
                initial=init,
                inflows=infl,
                outflows=outf,
                non_negative=nonneg,
            )
            m.add(st)
            return
        if gf is not None and _kid(gf, "ypts") is None and tables:
            gf = None  # an arrayed table given only element by element
        if gf is not None or tables:
            if gf is not None:
                xs, ys, extrap = self._gf(gf, name)
            else:  # every element has its own table: the first one stands for the shared one
                xs, ys, extrap = tables[0][1], tables[0][2], table_extraps[0]
            if any(x is not extrap for x in table_extraps):
                raise UnsupportedFeatureError(
                    "per-element graphical functions with different extrapolation types are not supported",
                    file=self.file,
                    variable=name,
                )
            if tag == "gf" or (tables and not eqn_raw and not per):
                m.add(
                    Lookup(
                        name,
                        units,
                        doc,
                        ext.get("role"),
                        dims,
                        xs=xs,
                        ys=ys,
                        extrapolation=extrap,
                        tables=tuple(tables),
                    )
                )
                return
            inp = eq(eqn_raw) if eqn_raw else None
            if tag == "flow":
                table = self._hidden_name(m, name, local_names)
                m.add(
                    Lookup(
                        table,
                        None,
                        f"graphical function of flow {name}",
                        None,
                        xs=xs,
                        ys=ys,
                        extrapolation=extrap,
                    )
                )
                call = f"{_name_text(canonical(table))}({inp or 'TIME'})"
                m.add(
                    Flow(
                        name,
                        units,
                        doc,
                        ext.get("role"),
                        dims,
                        tuple(per),
                        equation=call,
                        non_negative=nonneg,
                    )
                )
                return
            if inp is None:
                inp = "TIME"
            m.add(
                Lookup(
                    name,
                    units,
                    doc,
                    ext.get("role"),
                    dims,
                    tuple(per),
                    xs=xs,
                    ys=ys,
                    extrapolation=extrap,
                    input=inp,
                    tables=tuple(tables),
                )
            )
            return
        if not eqn_raw and not per:
            raise FileFormatError(
                "the variable has no <eqn>; give it an equation (0 if unknown)", file=self.file, variable=name
            )
        equation = eq(eqn_raw) if eqn_raw else "0"
        if tag == "flow":
            m.add(
                Flow(
                    name,
                    units,
                    doc,
                    ext.get("role"),
                    dims,
                    tuple(per),
                    equation=equation,
                    non_negative=nonneg,
                )
            )
            return
        value = numeric_literal(equation) if not per else None
        if value is not None and ext.get("kind") != "aux":
            rng = ext.get("range")
            m.add(
                Constant(
                    name,
                    units,
                    doc,
                    ext.get("role"),
                    dims,
                    (),
                    value=value,
                    range=tuple(rng) if rng else None,
                    distribution=Distribution.from_value(ext.get("distribution")),
                    source=ext.get("source", ""),
                )
            )
            return
        m.add(Aux(name, units, doc, ext.get("role"), dims, tuple(per), equation=equation))

    def _ts_ext(self, v: ET.Element) -> dict[str, Any]:
        for c in v:
            if local(c.tag) == "ts_extra" or (
                c.tag.startswith("{" + TS_NS + "}") and local(c.tag) == "extra"
            ):
                name = _attr(v, "name")
                data = _ext_json(_text(c), "<ts:extra>", self.file, name)
                _check_fields(data, _VARIABLE_EXT, "<ts:extra>", self.file, name)
                return data
        return {}

    def _hidden_name(self, m: Model, name: str, local_names: set[str]) -> str:
        base = f"{name} table"
        cand, i = base, 2
        while canonical(cand) in m or canonical(cand) in local_names:
            cand = f"{base} {i}"
            i += 1
        return cand

    def _list_to_elements(self, m, dims, text, name):
        combos = _combos(m, dims)
        values = [p.strip() for p in text.split(",")]
        if len(values) != len(combos):
            raise FileFormatError(
                f"the list gives {len(values)} values for {len(combos)} array elements",
                file=self.file,
                variable=name,
            )
        return list(zip(combos, values))

    def _ref(self, text: str, prefix: str) -> str:
        n = _clean_name(text)
        return prefix + canonical(n) if prefix else n

    def _gf(self, gf: ET.Element, name: str) -> tuple[tuple[float, ...], tuple[float, ...], Extrapolation]:
        ypts = _kid(gf, "ypts")
        if ypts is None:
            raise FileFormatError("graphical function without <ypts>", file=self.file, variable=name)
        ys = _number_list(ypts, "a <ypts> value", self.file, name)
        xpts = _kid(gf, "xpts")
        if xpts is not None:
            xs = _number_list(xpts, "an <xpts> value", self.file, name)
        else:
            xscale = _kid(gf, "xscale")
            if xscale is None:
                raise FileFormatError(
                    "graphical function with neither <xpts> nor <xscale>", file=self.file, variable=name
                )
            lo = _float(_attr(xscale, "min"), "xscale min", self.file, name)
            hi = _float(_attr(xscale, "max"), "xscale max", self.file, name)
            n = len(ys)
            xs = [lo + (hi - lo) * i / (n - 1) for i in range(n)] if n > 1 else [lo]
        if len(xs) != len(ys) or not ys:
            raise FileFormatError(
                f"graphical function has {len(xs)} x points and {len(ys)} y points; they must match",
                file=self.file,
                variable=name,
            )
        if any(b < a for a, b in zip(xs, xs[1:])):
            raise FileFormatError("graphical function x points must increase", file=self.file, variable=name)
        kind = (_attr(gf, "type") or "").lower()
        if not kind:
            kind = "discrete" if (_attr(gf, "discrete") or "").lower() == "true" else "continuous"
        try:
            extrap = Extrapolation(kind)
        except ValueError:
            raise UnsupportedFeatureError(
                f"graphical function type '{kind}' is not supported (use continuous, "
                "extrapolate or discrete)",
                file=self.file,
                variable=name,
            ) from None
        return tuple(xs), tuple(ys), extrap

    # ------------------------------------------------------------ equations
    def _equation(self, text: str, name: str, prefix: str, local_names: set[str], what: str) -> str:
        if not text:
            raise FileFormatError(f"empty {what}", file=self.file, variable=name)
        text = self._space_calls(text)
        tree = parse(text, variable=name, file=self.file)
        changed = False
        if self.macros or any(isinstance(n, ast.Call) and not n.func.isupper() for n in ast.walk(tree)):
            tree, ch = self._inline_macros(tree, name, prefix, local_names)
            if ch:  # inlining shares sub-trees, so it is quick; printing the result is not
                limits.check(
                    "expression_nodes",
                    _expanded_size(tree),
                    "the equation with its macros inlined",
                    "write the repeated part as an auxiliary variable",
                    file=self.file,
                    variable=name,
                )
            changed |= ch
        if self.vensim:
            tree, ch = _vensim_rounding(tree)
            changed |= ch
        if "inf" not in local_names and any(
            isinstance(n, ast.Name) and n.name == "inf" for n in ast.walk(tree)
        ):
            # XMILE's INF is a constant written bare; a model variable named inf keeps its name
            tree = ast.transform(
                tree, lambda n: ast.Call("INF", ()) if isinstance(n, ast.Name) and n.name == "inf" else n
            )
            changed = True
        if prefix:
            tree = _prefix_names(tree, prefix, local_names)
            changed = True
        return to_xmile(tree) if changed else text

    _SPACED_CALL = re.compile(r"(?<![\w\"])([A-Za-z_][\w]*(?:[ \t]+[A-Za-z_][\w]*)+)\s*\(")

    def _space_calls(self, text: str) -> str:
        # xmutil writes macro calls with spaces in the name: EXPRESSION MACRO(a, b)
        def fix(mm: re.Match) -> str:
            words = mm.group(1).split()
            if any(w.lower() in ("if", "then", "else", "and", "or", "not", "mod") for w in words):
                return mm.group(0)
            return "_".join(words) + "("

        return self._SPACED_CALL.sub(fix, text)

    def _inline_macros(
        self, tree: ast.Expr, name: str, prefix: str = "", local_names: set[str] | None = None
    ) -> tuple[ast.Expr, bool]:
        changed = False

        def visit(n: ast.Expr) -> ast.Expr:
            nonlocal changed
            if isinstance(n, ast.Call) and n.func in self.macros:
                parms, body = self.macros[n.func]
                if len(n.args) != len(parms):
                    raise ParseError(
                        f"macro {n.func} takes {len(parms)} arguments, got {len(n.args)}",
                        file=self.file,
                        variable=name,
                    )
                changed = True
                if n.func in self.stateful:
                    return self._instance(n.func, n.args, name, prefix, local_names or set())
                return _substitute(body, dict(zip(parms, n.args)))
            return n

        out = ast.transform(tree, visit)
        return out, changed

    # ------------------------------------------------------------ extension
    def _extension(self, m: Model, ext: ET.Element) -> list[str] | None:
        where = "<ts:trafficsys>"
        data = _ext_json(_text(ext), where, self.file)
        _check_fields(data, _MODEL_EXT, where, self.file)
        for key, spec in (
            ("scenarios", _SCENARIO_EXT),
            ("loops", _LOOP_EXT),
            ("sectors", _SECTOR_EXT),
            ("links", _LINK_EXT),
        ):
            for i, item in enumerate(data.get(key, [])):
                _check_fields(item, spec, f"{where} {key}[{i}]", self.file, required=spec["_required"])
        m.doc = data.get("doc", m.doc)
        if "name" in data:
            m.name = data["name"]
        if "saveper" in data:
            m.set_specs(saveper=data["saveper"])
        for sc in data.get("scenarios", []):
            m.scenarios[sc["name"]] = Scenario(
                sc["name"], tuple((k, v) for k, v in sc["set"]), sc.get("doc", "")
            )
        for lp in data.get("loops", []):
            m.loops[lp["name"]] = NamedLoop(
                lp["name"], tuple(lp["variables"]), lp.get("polarity"), lp.get("doc", "")
            )
        for sc in data.get("sectors", []):
            m.sector(sc["name"], sc["variables"], doc=sc.get("doc", ""))
        for lk in data.get("links", []):
            m.links.append(
                Link(
                    lk["source"],
                    lk["target"],
                    lk.get("polarity", "+"),
                    lk.get("delay", False),
                    lk.get("note", ""),
                    lk.get("strength"),
                )
            )
        m.cld_variables.update(data.get("cld_variables", {}))
        for k, v in data.get("metadata", {}).items():
            m.metadata.setdefault(k, v)
        order = data.get("order")
        # the original model's definition order, when it names exactly the variables read
        return list(order) if order and set(order) == {canonical(e.name) for e in m} else None


# ----------------------------------------------------------- our extension data
def _ext_json(text: str | None, where: str, file: str | None, variable: str | None = None) -> dict[str, Any]:
    """Parse the JSON of one of our extension elements: an object, or a FileFormatError naming it."""
    try:
        data = json.loads(text or "{}")
    except (ValueError, RecursionError) as e:  # malformed, or nested too deep to parse
        why = "nested too deeply" if isinstance(e, RecursionError) else "not valid JSON"
        raise FileFormatError(
            f"the trafficsys extension data in {where} is {why}; remove the element or "
            "save the model again with trafficsys",
            file=file,
            variable=variable,
        ) from None
    if not isinstance(data, dict):
        raise FileFormatError(
            f"the trafficsys extension data in {where} must be a JSON object, got {type(data).__name__}",
            file=file,
            variable=variable,
        )
    return data


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _list_of(pred):
    return lambda v: isinstance(v, list) and all(pred(x) for x in v)


def _dict_of(pred):
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and pred(x) for k, x in v.items())


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (str, bool)) or _is_num(v)


#: what each field of our extension data must hold: (test, description)
_VARIABLE_EXT = {
    "role": (lambda v: v is None or _is_str(v), "text"),
    "kind": (_is_str, "text"),
    "source": (_is_str, "text"),
    "eqn": (_is_str, "equation text"),
    "element_eqn": (_dict_of(_is_str), "an object of equation texts"),
    "filled": (_list_of(_is_str), "a list of element keys"),
    "range": (
        lambda v: v is None or (isinstance(v, list) and len(v) == 2 and all(map(_is_num, v))),
        "a list of two numbers",
    ),
    "distribution": (
        lambda v: v is None or _is_str(v) or _dict_of(lambda x: _is_str(x) or _is_num(x))(v),
        "a distribution name or an object of its parameters",
    ),
}
_MODEL_EXT = {
    "doc": (_is_str, "text"),
    "name": (_is_str, "text"),
    "saveper": (_is_num, "a number"),
    "scenarios": (_list_of(lambda x: isinstance(x, dict)), "a list of objects"),
    "loops": (_list_of(lambda x: isinstance(x, dict)), "a list of objects"),
    "sectors": (_list_of(lambda x: isinstance(x, dict)), "a list of objects"),
    "links": (_list_of(lambda x: isinstance(x, dict)), "a list of objects"),
    "cld_variables": (_dict_of(_dict_of(lambda x: True)), "an object of objects (a CLD variable's fields)"),
    "metadata": (_dict_of(lambda x: True), "an object"),
    "order": (_list_of(_is_str), "a list of names"),
}
_SCENARIO_EXT = {
    "_required": ("name", "set"),
    "name": (_is_str, "text"),
    "doc": (_is_str, "text"),
    "set": (
        _list_of(lambda p: isinstance(p, list) and len(p) == 2 and _is_str(p[0]) and _is_scalar(p[1])),
        "a list of [name, value] pairs",
    ),
}
_LOOP_EXT = {
    "_required": ("name", "variables"),
    "name": (_is_str, "text"),
    "doc": (_is_str, "text"),
    "variables": (_list_of(_is_str), "a list of names"),
    "polarity": (lambda v: v is None or _is_str(v), "text"),
}
_SECTOR_EXT = {
    "_required": ("name", "variables"),
    "name": (_is_str, "text"),
    "doc": (_is_str, "text"),
    "variables": (_list_of(_is_str), "a list of names"),
}
_LINK_EXT = {
    "_required": ("source", "target"),
    "source": (_is_str, "a name"),
    "target": (_is_str, "a name"),
    "polarity": (_is_str, "text"),
    "delay": (lambda v: isinstance(v, bool), "true or false"),
    "note": (_is_str, "text"),
    "strength": (lambda v: v is None or _is_num(v), "a number"),
}


def _check_fields(
    data: Any, spec: dict, where: str, file: str | None, variable: str | None = None, *, required: Any = ()
) -> None:
    """Raise FileFormatError unless ``data`` is an object whose fields have the types ``spec`` names."""
    if not isinstance(data, dict):
        raise FileFormatError(
            f"{where} must be a JSON object, got {type(data).__name__}", file=file, variable=variable
        )
    for key in required:
        if key not in data:
            raise FileFormatError(f"{where} has no '{key}'", file=file, variable=variable)
    for key, value in data.items():
        rule = None if key.startswith("_") else spec.get(key)  # "_required" is the spec's, not a field
        if rule is not None and not rule[0](value):
            raise FileFormatError(
                f"{where}: '{key}' must be {rule[1]}, got {type(value).__name__}",
                file=file,
                variable=variable,
            )


def _written_by_vensim(root: ET.Element) -> bool:
    """Return True when ``<header>`` names Vensim (or Ventana Systems) as the product or vendor."""
    header = _kid(root, "header")
    if header is None:
        return False
    who = " ".join(_text(_kid(header, t)) or "" for t in ("product", "vendor")).lower()
    return "vensim" in who or "ventana" in who


def _vensim_rounding(tree: ast.Expr) -> tuple[ast.Expr, bool]:
    """Give ``INT`` and ``MOD`` of a Vensim-written file Vensim's meaning (``INTEGER``, ``MODULO``).

    Vensim (and xmutil, which shares its exporter) writes Vensim's INTEGER as
    ``INT`` and MODULO as ``MOD`` without translating them, but they truncate
    toward zero (INTEGER(-9.5) = -9, MODULO(-10, 3) = -1) where XMILE 1.0
    defines INT as the floor and MOD with the divisor's sign, as Stella
    computes them.  The file's ``<header>`` says which tool wrote it, so the
    equations of a Vensim-written file keep the meaning they had in Vensim.
    """
    changed = False

    def visit(n: ast.Expr) -> ast.Expr:
        nonlocal changed
        if isinstance(n, ast.Call) and n.func in ("INT", "MOD"):
            changed = True
            return ast.Call("INTEGER" if n.func == "INT" else "MODULO", n.args)
        if isinstance(n, ast.Binary) and n.op == "mod":
            changed = True
            return ast.Call("MODULO", (n.left, n.right))
        return n

    out = ast.transform(tree, visit)
    return out, changed


def _combos(m: Model, dims: tuple[str, ...]) -> list[str]:
    """Per-element keys of an arrayed variable, row-major: ``["a,x", "a,y", ...]``."""
    import itertools

    return [",".join(c) for c in itertools.product(*(m.dimensions[d] for d in dims))]


def _bool_el(el: ET.Element, default: bool) -> bool:
    t = (_text(el) or "").strip().lower()
    if not t:
        return default
    return t not in ("false", "0", "no")


_NUM_LIST = re.compile(r"^\s*[-+]?[\d.eE+-]+(\s*,\s*[-+]?[\d.eE+-]+)+\s*$")


def _is_number_list(text: str) -> bool:
    return bool(_NUM_LIST.match(text))


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def _name_text(name: str) -> str:
    return to_xmile(ast.Name(name))


def _expanded_size(tree: ast.Expr) -> int:
    """Nodes of ``tree`` counted as printed: a sub-tree shared ``k`` times counts ``k`` times.

    Macro inlining shares each argument's tree between the parameter's uses, so a
    macro doubling its argument, nested 40 deep, is a small graph that prints as
    2^40 nodes; this counts that without walking them (once per distinct node).
    """
    size: dict[int, int] = {}
    stack: list[tuple[ast.Expr, bool]] = [(tree, False)]
    while stack:
        n, ready = stack.pop()
        if id(n) in size:
            continue
        kids = ast.children(n)
        if ready:
            size[id(n)] = 1 + sum(size[id(k)] for k in kids)
        else:
            stack.append((n, True))
            stack.extend((k, False) for k in kids if id(k) not in size)
    return size[id(tree)]


def _substitute(body: ast.Expr, env: dict[str, ast.Expr]) -> ast.Expr:
    def visit(n):
        if isinstance(n, ast.Name) and n.name in env:
            return env[n.name]
        return None

    return ast.transform(body, pre=visit)


def _prefix_names(tree: ast.Expr, prefix: str, local_names: set[str]) -> ast.Expr:
    def local(name: str) -> bool:
        # a variable of this model, or one of a module instance of it (``exit.rate``)
        return name in local_names or name.split(".", 1)[0] in local_names

    def visit(n):
        if isinstance(n, ast.Name) and local(n.name):
            return ast.Name(prefix + n.name)
        if isinstance(n, ast.Subscript) and local(n.name):
            return ast.Subscript(prefix + n.name, n.indices)
        if isinstance(n, ast.Call) and local(n.func):
            return ast.Call(prefix + n.func, n.args)
        return n

    return ast.transform(tree, visit)
