"""Vensim ``.mdl`` files, read by our own grammar into a :class:`~trafficsys.model.Model`.

The pipeline, one module a step::

    text.layout(decode(bytes))   the file's pieces: equations (with positions), macros, groups, sketch
    grammar.parse_definition     each equation's definition, a lark LALR grammar -> plain data and our AST
    macros.expand                each macro call becomes its own copy of the macro's variables
    convert.build                Vensim semantics -> Model (stocks and flows, builtins, arrays, tables)
    sketch.read                  the diagram: positions, and causal links with their signs

Nothing in the file is ever run: lookups hold numbers only, and equations
become AST nodes.  A model made of ``A FUNCTION OF`` variables (a causal
sketch) is read as a causal-loop diagram: :func:`read_vensim` returns a model
whose :meth:`~trafficsys.Model.cld` is that diagram, and
:func:`read_vensim_cld` the diagram itself.
"""

from __future__ import annotations

import math
import os
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import replace

from ...errors import FileFormatError, ModelError, ModelWarning, ParseError, UnsupportedFeatureError
from ...limits import check_file_size
from ...model import ast
from ...model.model import Model
from ...model.names import canonical
from ..companion import companion_paths
from ..datafile import read_data_file
from . import convert, sketch
from . import macros as macro_blocks
from .grammar import Definition, Lhs, RangeDef, parse_definition
from .text import Chunk, decode, layout

__all__ = ["RenamedVariableWarning", "read_vensim", "read_vensim_cld", "xmile_macros"]

_CONTROLS = ("INITIAL TIME", "FINAL TIME", "TIME STEP")
_VIEW_TYPES = {"stock": "stock", "flow": "flow"}


def read_vensim(path: str | os.PathLike, *, macros=None, data=None) -> Model:
    """Read a Vensim ``.mdl`` model.

    Parameters
    ----------
    path
        The ``.mdl`` file.
    macros
        Other ``.mdl`` files (one path or a list) whose ``:MACRO:`` blocks the
        model may call, as a Vensim user keeps a macro library in a file of its
        own; a macro the model defines itself wins.  In the model's folder or
        below it (:mod:`trafficsys.io.companion`).
    data
        A data file (one path or a list: ``.tab``, ``.csv``, ``.xlsx``) whose
        time series fill the model's data variables, as Vensim's *Data source*
        setting does (:mod:`trafficsys.io.datafile`).

    Returns
    -------
    Model
        A stock-flow model; for a causal sketch (variables defined as
        ``A FUNCTION OF(...)``), a model of hand-drawn links, whose
        :meth:`~trafficsys.Model.cld` is the diagram.

    Raises
    ------
    UnsupportedFeatureError
        Listing every unsupported function (or construct) with the variables
        that use it.
    ParseError
        An equation the grammar cannot read, with its variable, line and column.
    FileFormatError
        A file that is not Vensim text, or is cut off.
    """
    path = os.fspath(path)
    parts = _layout(path)
    ranges, elements, groups = _read_chunks(parts.chunks, path)
    _check_complete(parts.tail, elements, path)
    defined = {re.sub(r"[\s_]+", " ", e.name).upper() for e in elements}
    sketch_data = sketch.read(parts.sketch)
    if _is_causal_sketch(elements):
        return sketch.causal_model(convert.model_name(path), path, elements, sketch_data)
    missing = [c for c in _CONTROLS if c not in defined]
    if missing:
        last = elements[-1].name if elements else None
        after = f" after '{last}', the last complete variable" if last else ""
        raise FileFormatError(
            f"the time settings {', '.join(missing)} are missing{after}; a Vensim model "
            "defines INITIAL TIME, FINAL TIME and TIME STEP (the file may be cut off)",
            file=path,
        )
    macro_defs = {}
    for lib in companion_paths(path, macros, "macro file"):
        if lib.suffix.lower() != ".mdl":
            raise FileFormatError(
                "a Vensim model takes its macros from .mdl files (:MACRO: blocks); XMILE <macro> "
                "definitions are for XMILE models",
                file=str(lib),
            )
        found = _macros_of(_layout(str(lib)), str(lib))
        if not found:
            raise FileFormatError("the macro file defines no macros (no :MACRO: block)", file=str(lib))
        macro_defs.update(found)
    macro_defs.update(_macros_of(parts, path))  # the model's own definitions win
    unsupported: dict[str, set[str]] = {}
    if macro_defs:
        elements = macro_blocks.expand(elements, macro_defs, unsupported, _range_keys(ranges))
    elements, renamed = _rename_clock_names(elements, path)
    tables = [read_data_file(f) for f in companion_paths(path, data, "data file")]
    model = convert.build(convert.model_name(path), path, ranges, elements, unsupported, tables)
    _add_groups(model, groups)
    if sketch_data.positions:
        # the positions Vensim draws each variable at: the diagram's layout, kept when saved to XMILE
        positions = {renamed.get(k, k): v for k, v in sketch_data.positions.items()}
        model.metadata["xmile_views"] = {
            k: {**v, "type": _VIEW_TYPES.get(model[k].kind.value, "aux")}
            for k, v in positions.items()
            if k in model
        }
    return model


def _layout(path: str):
    """Read and split one ``.mdl`` file (size-checked, decoded)."""
    if not os.path.exists(path):
        raise FileFormatError("no such file; check the path", file=path)
    check_file_size(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    return layout(decode(raw, path))


def _macros_of(parts, path: str) -> dict[str, macro_blocks.Macro]:
    """Return the ``:MACRO:`` blocks of a split file, by canonical name."""
    out = {}
    for mac in parts.macros:
        _, m_elements, _ = _read_chunks(mac.chunks, path)
        out[canonical(mac.name)] = macro_blocks.Macro(mac.name, mac.inputs, mac.outputs, m_elements, mac.line)
    return out


def xmile_macros(path: str | os.PathLike) -> list[ET.Element]:
    """Return the ``:MACRO:`` blocks of a Vensim file as XMILE 1.0 ``<macro>`` elements.

    Each macro becomes a small model (its inputs as placeholders) read with
    Vensim's semantics, written as XMILE by :func:`~trafficsys.io.xmile.xmile_string`
    (so Vensim-only functions take their XMILE form), and wrapped as
    ``<macro name=...>`` with one ``<parm>`` per input: a macro of one
    expression is that expression, any other has ``<variables>`` of its own
    and returns the variable named like the macro.  Macros calling macros of
    the same file are expanded first.  This is how an XMILE file translated
    from Vensim without its macro definitions (xmutil drops them) gets them
    back: ``ts.load("model.xmile", macros="model.mdl")``.

    Raises
    ------
    UnsupportedFeatureError
        A macro with extra outputs (``MACRO(a : out)``), which XMILE macros do not have.
    """
    from ..xmile import xmile_string
    from ..xmile.namespaces import XMILE_NS

    path = os.fspath(path)
    defs = _macros_of(_layout(path), path)
    X = "{" + XMILE_NS + "}"
    out = []
    for key, mac in defs.items():
        if mac.outputs:
            raise UnsupportedFeatureError(
                f"macro {mac.name} has extra outputs ({', '.join(mac.outputs)}), which XMILE macros do not "
                "have; only macros returning one value can be given to an XMILE model",
                file=path,
                variable=mac.name,
            )
        unsupported: dict[str, set[str]] = {}
        others = {k: d for k, d in defs.items() if k != key}
        elements = [_global_refs(e) for e in mac.elements]
        if others:
            elements = macro_blocks.expand(elements, others, unsupported)
        inputs = {canonical(i) for i in mac.inputs}
        placeholders = [
            convert.Element(i, [Definition(Lhs(i, ()), "normal", ast.Num(0.0))], None, "", mac.line)
            for i in mac.inputs
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelWarning)
            small = convert.build(key, path, [], elements + placeholders, unsupported)
        if key not in small:
            raise FileFormatError(
                f"macro {mac.name} defines no variable named like itself, which is what a call returns",
                file=path,
                variable=mac.name,
            )
        odd = sorted(
            e.name
            for e in small
            if e.dimensions or e.kind.value == "lookup" and canonical(e.name) not in inputs
        )
        if odd:
            raise UnsupportedFeatureError(
                f"macro {mac.name} has lookups or subscripts ({', '.join(odd)}), which the XMILE macros "
                "read from a .mdl file do not carry; load the .mdl model itself",
                file=path,
                variable=mac.name,
            )
        tree = ET.fromstring(xmile_string(small))  # our own writer's text
        variables = [
            v
            for v in tree.iter(X + "variables")
            for v in list(v)
            if canonical(v.get("name") or "") not in inputs
        ]
        for v in list(variables):
            for u in v.findall(X + "units"):  # a macro's units are written in its own terms, not a model's
                v.remove(u)
            for f in v.findall(X + "inflow") + v.findall(X + "outflow"):
                if (
                    canonical(f.text or "") in inputs
                ):  # INTEG(input, ...): the input is no flow; one carries it
                    flow = ET.Element(X + "flow", {"name": f"{v.get('name')} {f.tag[len(X) :]} {f.text}"})
                    ET.SubElement(flow, X + "eqn").text = f.text
                    variables.append(flow)
                    f.text = flow.get("name")
        el = ET.Element(X + "macro", {"name": mac.name})
        for i in mac.inputs:
            ET.SubElement(el, X + "parm").text = i
        only = variables[0] if len(variables) == 1 else None
        expression = only.find(X + "eqn") if only is not None and only.tag == X + "aux" else None
        if expression is not None:
            ET.SubElement(el, X + "eqn").text = expression.text
        else:
            ET.SubElement(el, X + "eqn").text = key
            holder = ET.SubElement(el, X + "variables")
            holder.extend(variables)
        out.append(el)
    return out


def _global_refs(e: convert.Element) -> convert.Element:
    """Inside a macro, ``name$`` is the model's variable ``name``: drop the mark."""

    def walk(n):
        if isinstance(n, ast.Name) and n.name.endswith("$"):
            return ast.Name(canonical(n.name[:-1]))
        if isinstance(n, ast.Subscript) and n.name.endswith("$"):
            return ast.Subscript(canonical(n.name[:-1]), n.indices)
        return n

    defs = [
        replace(d, value=ast.transform(d.value, walk)) if isinstance(d.value, ast.Expr) else d
        for d in e.definitions
    ]
    return replace(e, definitions=defs)


#: names that are the clock in trafficsys but ordinary variables in Vensim (whose clock is TIME STEP...)
_CLOCK_NAMES = ("dt", "starttime", "stoptime")


class RenamedVariableWarning(ModelWarning):
    """The Vensim reader renamed a variable whose name is one of trafficsys's clock names."""


def _rename_clock_names(elements: list[convert.Element], path: str):
    """Return the elements with variables named ``DT``, ``STARTTIME`` or ``STOPTIME`` renamed, and the renames.

    In Vensim these are ordinary names (Vensim's clock is ``TIME STEP``,
    ``INITIAL TIME`` and ``FINAL TIME``), and models translated from DYNAMO
    define ``DT = TIME STEP``.  In trafficsys they are the clock in every
    equation, so such a variable becomes ``<name> (model variable)``, every
    use of it too, with a :class:`RenamedVariableWarning`.  TOML and XMILE
    files keep refusing these names: there the name already means the clock.
    """
    taken = {canonical(e.name) for e in elements}
    renamed: dict[str, str] = {}  # old key -> new key
    display: dict[str, str] = {}  # old key -> new name as written
    shown: list[str] = []
    for e in elements:
        key = canonical(e.name)
        if key in _CLOCK_NAMES:
            new = f"{e.name} (model variable)"
            while canonical(new) in taken:
                new += " 2"
            taken.add(canonical(new))
            renamed[key] = canonical(new)
            display[key] = new
            shown.append(f"'{e.name}' to '{new}'")
    if not renamed:
        return elements, renamed

    def walk(n):
        if isinstance(n, ast.Name) and n.name in renamed:
            return ast.Name(renamed[n.name])
        if isinstance(n, ast.Subscript) and n.name in renamed:
            return ast.Subscript(renamed[n.name], n.indices)
        if isinstance(n, ast.Call) and canonical(n.func) in renamed:
            return ast.Call(renamed[canonical(n.func)], n.args)
        return n

    out = []
    for e in elements:
        name = display.get(canonical(e.name), e.name)
        defs = [
            replace(
                d,
                lhs=replace(d.lhs, name=name),
                value=ast.transform(d.value, walk) if isinstance(d.value, ast.Expr) else d.value,
            )
            for d in e.definitions
        ]
        out.append(replace(e, name=name, definitions=defs))
    warnings.warn(
        RenamedVariableWarning(
            f"in {path}: renamed {', '.join(shown)} and every use: in trafficsys DT, STARTTIME and "
            "STOPTIME are the clock in every equation, in Vensim ordinary names (its clock is TIME STEP, "
            "INITIAL TIME and FINAL TIME)"
        ),
        stacklevel=3,
    )
    return out, renamed


def _range_keys(ranges: list[RangeDef]) -> frozenset[str]:
    return frozenset(canonical(r.name) for r in ranges)


def read_vensim_cld(path: str | os.PathLike):
    """Read a Vensim causal sketch (``A FUNCTION OF`` variables) as a :class:`~trafficsys.CausalLoopDiagram`.

    The links are the variables each one is a function of, signed by the
    sketch's arrow marks (``+``/``-``) where the file carries them, ``?``
    where it does not.  A stock-flow ``.mdl`` gives the diagram derived from
    its equations.
    """
    return read_vensim(path).cld()


def _read_chunks(chunks: list[Chunk], path: str):
    """Parse each equation; return the ranges, the variables (equations grouped by name) and the groups."""
    ranges: list[RangeDef] = []
    by_name: dict[str, convert.Element] = {}
    groups: dict[str, list[str]] = {}
    for ch in chunks:
        try:
            d = parse_definition(ch.definition)
        except ParseError as e:
            raise _located(e, ch, path) from None
        if isinstance(d, RangeDef):
            ranges.append(d)
            continue
        if d.kind in ("test_input", "constraint"):  # Vensim's test inputs and reality checks: not the model
            continue
        key = canonical(d.lhs.name)
        units, bracket, bounds = ch.units.partition("[")
        el = by_name.get(key)
        if el is None:
            el = by_name[key] = convert.Element(d.lhs.name, [], units.strip() or None, ch.comment, ch.line)
        else:
            el.units = el.units or units.strip() or None
            el.doc = el.doc or ch.comment
        if bracket:
            el.range = el.range or _unit_range(bounds, ch, path, d.lhs.name)
        el.definitions.append(d)
        if ch.group:
            groups.setdefault(ch.group, [])
            if key not in groups[ch.group]:
                groups[ch.group].append(key)
    return ranges, list(by_name.values()), groups


def _unit_range(text: str, ch: Chunk, path: str, name: str) -> tuple[float, float] | None:
    """Return the ``[min, max]`` (or ``[min, max, step]``) after a variable's units; None without both bounds.

    Vensim uses the range for its sliders and to warn when a value leaves it;
    here a constant's range is what Monte Carlo samples (as a TOML
    ``range = [low, high]``).  Numbers only: anything else is refused.
    """
    body, closed, _ = text.partition("]")
    parts = [p.strip() for p in body.split(",")]
    bounds: list[float | None] = []
    ok = bool(closed) and 2 <= len(parts) <= 3
    for p in parts:
        if p == "?" or (p == "" and len(bounds) == 2):  # no bound; an empty step
            bounds.append(None)
            continue
        try:
            v = float(p)
        except ValueError:
            ok = False
            break
        bounds.append(v if math.isfinite(v) else None)  # inf and nan, like ?, are no bound
    if not ok:
        raise ParseError(
            f"the range after the units, [{body}{closed}, is not [min, max] or [min, max, step] with "
            "numbers (or ? for no bound); fix it or delete it",
            text=ch.units,
            file=path,
            variable=name,
        )
    lo, hi = bounds[:2]
    if lo is None or hi is None or lo == hi:
        return None  # an open or empty range: nothing to sample
    if lo > hi:
        raise ParseError(
            f"the range after the units, [{body}], has its minimum above its maximum; swap them",
            text=ch.units,
            file=path,
            variable=name,
        )
    return (lo, hi)


def _located(e: ParseError, ch: Chunk, path: str) -> ParseError:
    """Return the parse error of one definition placed in the file: its line, column and variable."""
    text = ch.definition
    col = e.column or 1
    before = text[: col - 1]
    line = ch.line + before.count("\n")
    column = (col - before.rfind("\n") - 1) if "\n" in before else ch.column + col - 1
    line_text = text.split("\n")[before.count("\n")] if text else ""
    pad = column - (col - before.rfind("\n") - 1 if "\n" in before else col)
    head = re.match(r'\s*("(?:[^"\\]|\\.)*"|[^=(\[:~<]+)', text)
    variable = " ".join(head.group(1).strip().strip('"').split()) if head else None
    msg = f"line {line}: {e.message}"
    out = ParseError(
        msg, text=" " * max(pad, 0) + line_text, column=column, file=path, variable=variable or None
    )
    return out


def _check_complete(tail: str, elements: list[convert.Element], path: str) -> None:
    """Refuse a cut-off file: every equation of a Vensim file ends with ``|``."""
    if tail:
        last = elements[-1].name if elements else None
        after = f" after '{last}', the last complete variable" if last else ""
        raise FileFormatError(
            f"the file ends in the middle of an equation{after} (an equation ends with '|'); "
            "the file looks cut off: save it again from Vensim",
            file=path,
        )


def _is_causal_sketch(elements: list[convert.Element]) -> bool:
    """Tell whether the variables (the time settings aside) are all ``A FUNCTION OF`` or without equation."""
    names = {canonical(c) for c in _CONTROLS} | {"saveper"}
    rest = [e for e in elements if canonical(e.name) not in names]
    return (
        bool(rest)
        and all(
            any(
                isinstance(d, Definition)
                and isinstance(d.value, ast.Call)
                and d.value.func == "A_FUNCTION_OF"
                for d in e.definitions
            )
            or all(d.kind == "empty" for d in e.definitions)
            for e in rest
        )
        and any(
            any(isinstance(d.value, ast.Call) and d.value.func == "A_FUNCTION_OF" for d in e.definitions)
            for e in rest
        )
    )


def _add_groups(model: Model, groups: dict[str, list[str]]) -> None:
    """Vensim groups (``.Name`` headings) become sectors, each listing the model variables it heads."""
    for name, keys in groups.items():
        variables = [k for k in keys if k in model and model.sector_of(k) is None]
        if variables and name.lower() != "control":
            try:
                model.sector(name, variables)
            except ModelError:  # pragma: no cover - a group name the sector rules refuse: keep the model
                continue
