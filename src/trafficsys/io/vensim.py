"""Vensim ``.mdl`` files, read through PySD's own translator.

PySD parses the file into its abstract model (``pysd.translators``: sections,
elements, components, and expression structures such as
``ArithmeticStructure`` or ``SmoothStructure``); this module turns that
abstract model into a :class:`~trafficsys.model.Model`:

* ``INTEG(net, initial)`` becomes a stock; when ``net`` is a sum and
  difference of auxiliaries, those become its inflows and outflows, else a
  flow ``<stock> net flow`` carries the whole expression;
* Vensim functions map to their XMILE equivalents (``IF THEN ELSE``,
  ``SMOOTH``/``SMOOTH3``/``SMOOTH N``, ``DELAY1``/``DELAY3``/``DELAY N``/
  ``DELAY FIXED``, ``TREND``, ``FORECAST``, ``INITIAL``, ``XIDZ``/``ZIDZ``,
  ``PULSE``, ``STEP``, ``RAMP``, ``MODULO``, ``INTEGER``, ``LOG``...); Vensim
  functions XMILE lacks become builtins with Vensim's names (``QUANTUM``,
  ``SAMPLE_IF_TRUE``, ``ACTIVE_INITIAL``, ``PROD``), ``ELMCOUNT`` a number and
  ``:NA:`` Vensim's number for it;
* lookups (stand-alone and inline ``WITH LOOKUP``) become graphical functions,
  one table per element where the file gives one;
* ``GET CONSTANTS``/``GET LOOKUPS``/``GET DATA`` (``GET XLS ...``, ``GET
  DIRECT ...``) are read when the file is, by PySD's spreadsheet readers, from
  files in the model's folder: numbers, tables, and tables of ``time``;
* subscripts become arrays (apply-to-all or per-element), with
  ``:EXCEPT:`` lists, equations over subranges or single elements (merged into
  the range that holds them all) and stocks with an ``INTEG`` per element;
  a subscript mapping (``src: s1, s2 -> tgt``) pairs elements by position: an
  equation over ``tgt`` that names ``src`` becomes one equation per element
  with ``src`` replaced by its paired element (mappings that list elements,
  ``-> (tgt: t2, t1)``, are not supported).

Everything else (``:DATA:`` from runs, ``ALLOCATE``, random numbers...) is
collected, and the import fails once with an
:class:`~trafficsys.errors.UnsupportedFeatureError` listing every
unsupported function with the variables that use it.
"""

from __future__ import annotations

import codecs
import itertools
import math
import os
import re
import warnings
from collections import defaultdict
from typing import Any

from ..errors import FileFormatError, ModelError, UnsupportedFeatureError
from ..limits import check, check_file_size
from ..model import ast
from ..model.elements import Aux, Constant, Extrapolation, Flow, Lookup, Stock
from ..model.model import Model
from ..model.names import canonical
from ..model.printer import to_xmile
from .pysd_guard import Refused, translating

__all__ = ["read_vensim"]

_CONTROL = {"initial_time": "start", "final_time": "stop", "time_step": "dt", "saveper": "saveper"}

#: Vensim function (PySD's reference name) -> XMILE builtin, same arguments
_SAME = {
    "abs": "ABS", "exp": "EXP", "ln": "LN", "sqrt": "SQRT", "sin": "SIN", "cos": "COS",
    "tan": "TAN", "arcsin": "ARCSIN", "arccos": "ARCCOS", "arctan": "ARCTAN", "min": "MIN", "max": "MAX",
    "modulo": "MODULO", "integer": "INTEGER", "step": "STEP", "ramp": "RAMP", "zidz": "SAFEDIV", "xidz": "SAFEDIV", "sum": "SUM",
    "prod": "PROD", "vmin": "MIN", "vmax": "MAX", "log10": "LOG10", "quantum": "QUANTUM",
    "active_initial": "ACTIVE_INITIAL",
}

#: Vensim's :NA: ("not available"), a number (-2^110) in Vensim's arithmetic; PySD reads it as NaN
NA = -1.298074214633707e33


def read_vensim(path: str | os.PathLike) -> Model:
    """Read a Vensim ``.mdl`` model through PySD's translator.

    Parameters
    ----------
    path
        The ``.mdl`` file.

    Returns
    -------
    Model

    Raises
    ------
    UnsupportedFeatureError
        Listing every unsupported function (or construct) with the variables
        that use it.
    FileFormatError
        When PySD cannot parse the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileFormatError("no such file; check the path", file=path)
    check_file_size(path)
    try:
        from pysd.translators.vensim.vensim_file import VensimFile
    except ImportError:  # pragma: no cover - pysd is a declared extra
        raise UnsupportedFeatureError("reading .mdl files needs PySD: pip install 'trafficsys[pysd]'",
                                      file=path) from None
    with open(path, "rb") as fh:
        raw = fh.read()
    bad = raw.find(b"\x00")
    declared = re.match(rb"\s*\{([A-Za-z0-9_.:-]+)\}", raw)  # Vensim's first line names the encoding
    encoding = declared.group(1).decode("ascii") if declared else "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        bad = e.start if bad < 0 else min(bad, e.start)
    if bad >= 0:
        raise FileFormatError(f"this is not a Vensim text model: byte {bad} is not {encoding} text (a .mdl file is "
                              "text, usually starting with {UTF-8}); check that it is the model, not a "
                              "packaged .vpm/.vmf or another binary file", file=path)
    _check_numeric_ranges(text, path)
    try:
        # PySD evaluates lookup ranges, points and numbers with Python's eval: the guard swaps that for a
        # literal-only reader and trips on any other attempt to run the file's text
        with warnings.catch_warnings(), translating():
            warnings.filterwarnings("ignore", message="No encoding specified")  # UTF-8 was checked above
            # PySD's note on a mapping with an element list; such a mapping is reported as unsupported
            warnings.filterwarnings("ignore", message="\nSubscript mapping detected")
            vf = VensimFile(path)
            vf.parse()
            _reparse_powers(vf)
            abstract = vf.get_abstract_model()
    except Exception as e:  # noqa: BLE001 - sorted below: ours, the tripwire's, or PySD's own
        raise _reading_error(e, path, text) from None
    _check_complete(text, path)  # after PySD, whose own parse errors say more about a garbled file
    return _Converter(abstract, path, text).build()


def _reading_error(e: BaseException, path: str, text: str) -> ModelError:
    """Turn what PySD's parser raised into one ModelError naming the file (and the variable when known)."""
    cause: BaseException | None = e
    while cause is not None and not isinstance(cause, (ModelError, Refused)):
        cause = cause.__cause__ or cause.__context__  # parsimonious wraps what a visitor raised
    if isinstance(cause, Refused):  # the guard's tripwire
        return FileFormatError(f"{cause}; the file was not read", file=path)
    if isinstance(cause, ModelError):
        e = cause
        snippet = getattr(e, "snippet", None)
        if snippet and not e.variable:
            line, variable = _locate(text, snippet)
            if variable:
                e.variable = variable
            if line:
                e.message = f"line {line}: {e.message}"
        return e.with_context(file=path)
    # PySD's parser raises many kinds; report them as a file problem
    return FileFormatError(f"PySD could not parse the Vensim file ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:200] if str(e) else ''})", file=path)


def _locate(text: str, snippet: str) -> tuple[int | None, str | None]:
    """Return the line and the variable of the equation holding ``snippet`` in a Vensim file's text."""
    at = text.find(snippet)
    if at < 0:
        at = text.find(snippet.replace("),(", ")-(", 1))  # PySD rewrites a range's ")-(" as "),("
    if at < 0:
        return None, None
    line = text.count("\n", 0, at) + 1
    start = max(text.rfind("|", 0, at), text.rfind("*****", 0, at)) + 1
    head = re.sub(r"^(\s|\*|\{[^}]*\})*", "", text[start:at])  # separators, the {UTF-8} line, comments
    m = re.match(r"\s*([^=(\[~|:]+)", head)
    name = m.group(1).strip().strip('"') if m else ""
    return line, (name or None)


_SKETCH = re.compile(r"\\{2,}---///")  # Vensim's line between the equations and the diagram
_CONTROLS = ("INITIAL TIME", "FINAL TIME", "TIME STEP")


def _check_complete(text: str, path: str) -> None:
    """Refuse a cut-off file: PySD reads one quietly, dropping the cut equation and the time settings.

    Every equation of a Vensim file ends with ``|``, and the time settings
    (INITIAL TIME, FINAL TIME, TIME STEP) are equations of the file too.
    """
    eqs = _SKETCH.split(text, maxsplit=1)[0]
    body = re.sub(r"(?s)\{.*?\}", " ", eqs)  # comments (and the {UTF-8} line) may hold anything
    chunks = body.split("|")
    complete = [c for c in chunks[:-1] if c.strip()]
    last = _equation_name(complete[-1]) if complete else None
    after = f" after '{last}', the last complete variable" if last else ""
    tail = chunks[-1].strip()
    if tail and not re.fullmatch(r"(?is)(:END OF MACRO:\s*)+", tail):
        raise FileFormatError(f"the file ends in the middle of an equation{after} (an equation ends with '|'); "
                              "the file looks cut off: save it again from Vensim", file=path)
    defined = {re.sub(r"[\s_]+", " ", _equation_name(c)).upper() for c in complete}
    missing = [c for c in _CONTROLS if c not in defined]
    if missing:
        raise FileFormatError(f"the time settings {', '.join(missing)} are missing{after}; a Vensim model "
                              "defines INITIAL TIME, FINAL TIME and TIME STEP (the file may be cut off)",
                              file=path)


def _equation_name(chunk: str) -> str:
    """Return the variable an equation defines: the text before its ``=``, ``(``, ``[``, ``:`` or ``~``."""
    head = re.split(r"[=(\[:~]", chunk.strip(), maxsplit=1)[0]
    return head.strip().strip('"')
#: a numeric subscript range ``(a1-a100)``: one prefix, two numbers
_NUMERIC_RANGE = re.compile(r"\((?>\s*)([A-Za-z_](?:\w*[A-Za-z_])?)(\d++)(?>\s*)-(?>\s*)\1(\d++)\s*\)")


def _check_numeric_ranges(text: str, path: str) -> None:
    """Refuse a numeric subscript range ``(a1-a10000000)`` over the ``array_elements`` limit before PySD expands it."""
    for mm in _NUMERIC_RANGE.finditer(text):
        lo, hi = mm.group(2), mm.group(3)
        size = 10.0 ** len(hi) if len(hi) > 15 else int(hi) - int(lo) + 1  # a 5,000-digit bound is no int()
        check("array_elements", size, f"the subscript range {mm.group(0)[:60]}",
              "list fewer elements", file=path)


def _reparse_powers(vf) -> None:
    """Parse again, with Vensim's precedence, the equations where PySD's would bind ``-`` before ``^``.

    In Vensim, ``^`` binds tighter than a leading minus: ``-2^2`` is -4 and
    ``30^-30^-x`` is ``30^-(30^-x)``.  PySD's equation visitor folds the minus
    into a number literal while parsing (``-2`` becomes the number -2), so the
    literal is raised to the power instead.  For an equation holding ``^`` we
    run PySD's grammar again with a visitor that keeps a literal's minus as an
    operator, which PySD then places around the power as it does for names.
    """
    try:
        from pysd.translators.vensim import vensim_element as ve
        from pysd.translators.vensim import vensim_utils as vu
        from pysd.translators.vensim.vensim_structures import parsing_ops

        ve.EquationVisitor.visit_neg_expr  # noqa: B018 - the hook this relies on
    except (ImportError, AttributeError):  # pragma: no cover - a PySD release with other internals
        if any("^" in (c.expression or "") for sec in getattr(vf, "sections", ())
               for c in getattr(sec, "components", ())):
            warnings.warn("this PySD version's parser could not be adjusted to Vensim's precedence of '^' "
                          "over a leading minus: check equations like -2^2 (Vensim: -4)", stacklevel=3)
        return

    class _Visitor(ve.EquationVisitor):
        def visit_neg_expr(self, n, vc):
            if vc[0] == "-":
                self.negatives.add(vc[2])
            return vc[2]

    for sec in getattr(vf, "sections", ()):
        for c in getattr(sec, "components", ()):
            if type(c) in (ve.Component, ve.UnchangeableConstant) and "^" in (c.expression or ""):
                tree = vu.Grammar.get("components", parsing_ops).parse(c.expression)
                c.ast = _Visitor(tree).translation


class _Unsupported(Exception):
    def __init__(self, what: str):
        self.what = what


class _Converter:
    def __init__(self, abstract, file: str, text: str = ""):
        self.abs = abstract
        self.file = file
        self.text = text  # the file's text, for what PySD's abstract model leaves out
        self.unsupported: dict[str, set[str]] = defaultdict(set)
        self._current = ""
        self.hidden: list[Any] = []

    def build(self) -> Model:
        sections = list(self.abs.sections)
        main = [s for s in sections if getattr(s, "section_type", "main") == "main"] or sections[:1]
        for s in sections:
            if getattr(s, "section_type", "main") == "macro":
                self.unsupported[f"macro :MACRO: {s.name}"].add("(definition)")
        sec = main[0]
        name = os.path.splitext(os.path.basename(self.file))[0]
        m = Model(name)
        m.file = self.file
        self.m = m
        self.positions: dict[str, str] = {}
        self._dims(m, sec)
        elems = list(sec.elements)
        self.names = {canonical(e.name) for e in elems}
        self.lookups = set()
        self.data: set[str] = set()
        for e in elems:
            for c in e.components:
                if type(c).__name__ == "AbstractLookup" or type(c.ast).__name__ == "LookupsStructure":
                    self.lookups.add(canonical(e.name))
                if type(c.ast).__name__ == "GetDataStructure":
                    self.data.add(canonical(e.name))  # a table of time: never a stock's flow
        # first pass: stocks decide which auxiliaries are their flows
        self.flows: dict[str, None] = {}
        self.splits: dict[str, tuple[list[str], list[str]]] = {}
        self.var_dims: dict[str, tuple[str, ...]] = {}
        records = []
        for e in elems:
            try:
                rec = self._element(m, e)
                self.var_dims[rec[1]] = rec[4]
                if type(rec[5]).__name__ == "IntegStructure" and not rec[6]:
                    self.splits[rec[1]] = self._split_net(rec[5].flow, rec[0], rec[0], m, rec[4])
                records.append(rec)
            except _Unsupported as u:
                self.unsupported[u.what].add(_disp(e.name))
        built = []
        for rec in records:
            self._current = rec[0]
            try:
                built.append(self._convert(rec))
            except _Unsupported as u:
                self.unsupported[u.what].add(rec[0])
        if self.unsupported:
            parts = "; ".join(f"{fn} used by {', '.join(sorted(v))}" for fn, v in sorted(self.unsupported.items()))
            raise UnsupportedFeatureError(f"the model uses features trafficsys does not support: {parts}",
                                          file=self.file, variable=sorted(next(iter(self.unsupported.values())))[0])
        for el in built:
            m.add(el)
        for el in self.hidden:
            m.add(el)
        self._specs(m)
        return m

    # ------------------------------------------------------------ structure
    def _dims(self, m: Model, sec) -> None:
        """Declare the subscript ranges; a range listed inside another, or copied (``a <-> b``), stands for its elements."""
        ranges = {canonical(r.name): r for r in getattr(sec, "subscripts", ()) or ()}

        def elements(key: str, seen: tuple[str, ...] = ()) -> list[str] | None:
            subs = ranges[key].subscripts
            if isinstance(subs, str):  # a copy of another range
                subs = [subs]
            if not isinstance(subs, (list, tuple)) or key in seen:
                return None
            out: list[str] = []
            for x in subs:
                c = canonical(x)
                inner = elements(c, (*seen, key)) if c in ranges else [x]
                if inner is None:
                    return None
                out += [y for y in inner if y not in out]
            return out

        for key, r in ranges.items():
            es = elements(key)
            if es is None:
                self.unsupported["subscript range defined from a file"].add(r.name)
                continue
            m.dimension(r.name, es)
        # a mapping "src: ... -> target": in an equation over target, src stands for the element at the same position
        self.maps: dict[str, list[str]] = {}
        explicit = _explicit_mappings(self.text) if any(getattr(r, "mapping", None) for r in ranges.values()) else set()
        for key, r in ranges.items():
            if not getattr(r, "mapping", None) or key not in m.dimensions:
                continue
            if key in explicit:
                self.unsupported["subscript mapping with an explicit element list"].add(r.name)
                continue
            for t in r.mapping:
                tk = canonical(str(t))
                if tk not in m.dimensions:
                    self.unsupported["subscript mapping to a range not declared in the file"].add(r.name)
                elif len(m.dimensions[tk]) != len(m.dimensions[key]):
                    self.unsupported["subscript mapping between ranges of different sizes"].add(r.name)
                else:
                    self.maps.setdefault(key, []).append(tk)

    def _element(self, m: Model, e):
        """One variable's components as (name, key, units, doc, dims, apply-to-all AST, per-element list).

        Each component covers the elements its subscripts name (whole ranges,
        subranges or single elements) less those of its ``:EXCEPT:`` lists.
        The variable is arrayed over, at each position, the range that holds
        every element its components cover.  Per-element entries are
        ``(elements, AST, {subrange: element})``: a subrange that is not the
        variable's own dimension is replaced by the entry's element.
        """
        comps = list(e.components)
        name = _disp(e.name)
        key = canonical(name)
        units = (e.units or "").strip() or None
        doc = (getattr(e, "documentation", "") or "").strip()
        parsed = []
        for c in comps:
            subs, exc = c.subscripts if c.subscripts else ([], [])
            kind = type(c).__name__
            if kind in ("AbstractData",) and type(c.ast).__name__ != "GetDataStructure":
                raise _Unsupported("data variables (:DATA:/GET DATA)")
            if getattr(c, "subtype", "") not in ("Normal", "Unchangeable", "Hardcoded", "", None):
                raise _Unsupported(f"{c.subtype} component")
            value = c.ast
            csubs = [self._sub(m, s) for s in subs]
            if type(value).__name__ in ("GetConstantsStructure", "GetLookupsStructure", "GetDataStructure"):
                value = self._external(value, csubs, name, getattr(c, "keyword", None))
            parsed.append((value, csubs, [[self._sub(m, s) for s in x] for x in exc]))
        ranks = {len(p[1]) for p in parsed}
        if len(ranks) > 1:
            raise _Unsupported("a variable defined with different numbers of subscripts")
        rank = ranks.pop() if ranks else 0
        dims = tuple(self._dimension_of(m, [p[1][i] for p in parsed]) for i in range(rank))
        main_ast = None
        per: list[tuple[str, Any, dict[str, str]]] = []
        for value, subs, exc in parsed:
            if not subs:
                if main_ast is not None:
                    raise _Unsupported("several equations for one variable")
                main_ast = value[()] if isinstance(value, _Tables) else value
                continue
            if isinstance(value, _Tables):  # external tables, one per element combination
                skip = _excluded(exc)
                for combo in itertools.product(*(es for _, es in subs)):
                    if combo not in skip:
                        idx = tuple(subs[i][1].index(combo[i]) for i, (r, _) in enumerate(subs) if r is not None)
                        per.append((",".join(combo), value[idx], {}))
                continue
            if type(value).__name__ == "ndarray":
                import numpy as np

                arr = np.asarray(value, dtype=float)
                free = [i for i, (r, _) in enumerate(subs) if r is not None]
                shape = tuple(len(subs[i][1]) for i in free)
                if arr.size != (int(np.prod(shape)) if shape else 1):
                    raise _Unsupported("an array constant whose shape does not match its subscripts")
                arr = arr.reshape(shape) if shape else arr.reshape(())
                skip = _excluded(exc)
                for combo in itertools.product(*(es for _, es in subs)):
                    if combo not in skip:
                        idx = tuple(subs[i][1].index(combo[i]) for i in free)
                        per.append((",".join(combo), float(arr[idx]), {}))
                continue
            if self._uses_mapping(value, {r for r, _ in subs}):
                # a mapped range in the equation: one equation per element, the mapped range replaced by its element
                skip = _excluded(exc)
                for combo in itertools.product(*(es for _, es in subs)):
                    if combo not in skip:
                        per.append((",".join(combo), value,
                                    {r: combo[i] for i, (r, _) in enumerate(subs) if r is not None}))
                continue
            if not exc and all(r == d for (r, _), d in zip(subs, dims)):
                if main_ast is not None:
                    raise _Unsupported("several apply-to-all equations for one variable")
                main_ast = value
                continue
            skip = _excluded(exc)
            moved = [(r, i) for i, (r, _) in enumerate(subs) if r is not None and r != dims[i]]
            for combo in itertools.product(*(es for _, es in subs)):
                if combo not in skip:
                    per.append((",".join(combo), value, {r: combo[i] for r, i in moved}))
        if per and main_ast is None and len(per) == 1 and not dims:
            main_ast = per[0][1]
            per = []
        return (name, key, units, doc, dims, main_ast, per)

    def _external(self, g, subs, var: str, keyword: str | None):
        """Read GET CONSTANTS / GET LOOKUPS / GET DATA values now, with PySD's spreadsheet readers.

        Constants become numbers (an array over the component's ranges);
        lookups and data become tables (data: tables of ``time``), as
        :class:`_Tables` indexed by position in the component's ranges.
        Only files in the model's folder (or below it) are read.
        """
        import pathlib

        import numpy as np
        from pysd.py_backend import external as ext
        from pysd.translators.structures.abstract_expressions import (
            InlineLookupsStructure,
            LookupsStructure,
            ReferenceStructure,
        )

        kind = type(g).__name__
        what = {"GetConstantsStructure": "GET CONSTANTS", "GetLookupsStructure": "GET LOOKUPS",
                "GetDataStructure": "GET DATA"}[kind]
        root = pathlib.Path(self.file).resolve().parent
        if str(g.file).startswith("?"):
            raise _Unsupported(f"{what} with an indirect file reference")
        target = (root / str(g.file)).resolve()
        if root != target.parent and root not in target.parents:
            raise _Unsupported(f"{what} of a file outside the model's folder")
        if not target.is_file():
            raise _Unsupported(f"{what} of a file that does not exist")
        # labels only: PySD reads the shape from the lengths, in this order
        coords = {f"_{i}": list(es) for i, (_, es) in enumerate(subs)}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "GetConstantsStructure":
                    obj = ext.ExtConstant(str(target), g.tab, g.cell, coords, root, coords, var)
                else:
                    series = g.x_row_or_col if kind == "GetLookupsStructure" else g.time_row_or_col
                    obj = ext.ExtLookup(str(target), g.tab, series, g.cell, coords, root, coords, var)
                obj.missing = "raise"
                obj.initialize()
        except Exception as e:  # PySD's readers raise many kinds; a value we cannot read is not supported
            raise _Unsupported(f"{what} that PySD's reader cannot read ({type(e).__name__})") from None
        shape = tuple(len(es) for r, es in subs if r is not None)
        if kind == "GetConstantsStructure":
            data = np.asarray(obj.data, dtype=float)
            return float(data) if not subs else data.reshape(shape) if shape else data.reshape(())
        ex = {None: "interpolate", "interpolate": "interpolate", "hold_backward": "hold_backward"}.get(
            keyword if kind == "GetDataStructure" else None)
        if ex is None:
            raise _Unsupported(f"GET DATA with :{str(keyword).upper().replace('_', ' ')}:")
        data = np.asarray(obj.data, dtype=float)
        xs = np.asarray(obj.data.coords[obj.data.dims[0]].values, dtype=float)
        data = data.reshape((len(xs), *shape))
        out = _Tables()
        for idx in itertools.product(*(range(n) for n in shape)):
            index: tuple[Any, ...] = (slice(None), *idx)
            ys = data[index]
            keep = ~np.isnan(ys)
            table = LookupsStructure(tuple(xs[keep]), tuple(ys[keep]), (np.nan, np.nan), (np.nan, np.nan), ex)
            out[idx] = table if kind == "GetLookupsStructure" else \
                InlineLookupsStructure(ReferenceStructure("time"), table)
        return out

    def _uses_mapping(self, value, bound: set[str | None]) -> bool:
        """Return True when ``value`` subscripts a variable by a range mapped to one of the ``bound`` ranges."""
        if not self.maps:
            return False
        found = False

        def walk(n, depth=0):
            nonlocal found
            if found or depth > 200 or isinstance(n, (str, int, float, bool)) or n is None:
                return
            if isinstance(n, (list, tuple)):
                for x in n:
                    walk(x, depth + 1)
                return
            if type(n).__name__ == "SubscriptsReferenceStructure":
                for x in n.subscripts:
                    c = canonical(str(x))
                    if c not in bound and any(t in bound for t in self.maps.get(c, ())):
                        found = True
                return
            if hasattr(n, "__dict__"):
                for x in vars(n).values():
                    walk(x, depth + 1)

        walk(value)
        return found

    def _mapped(self, dim: str, subst: dict[str, str]) -> str | None:
        """Return the element of ``dim`` that a mapping pairs with a bound element of its target range, if any."""
        for t in self.maps.get(dim, ()):
            if t in subst:
                return self.m.dimensions[dim][self.m.dimensions[t].index(subst[t])]
        return None

    def _sub(self, m, s) -> tuple[str | None, tuple[str, ...]]:
        """Return a subscript as (its range, or None for one element; the elements it covers)."""
        c = canonical(s)
        if c in m.dimensions:
            return c, tuple(m.dimensions[c])
        if not any(c in es for es in m.dimensions.values()):
            raise _Unsupported("subscript ranges not declared in the file")
        return None, (c,)

    def _dimension_of(self, m, subs) -> str:
        """Return the range a variable spans at one position: one a component names, else the smallest holding all."""
        covered = {x for _, es in subs for x in es}
        named = [r for r, _ in subs if r is not None and covered <= set(m.dimensions[r])]
        if named:
            return max(named, key=lambda r: len(m.dimensions[r]))
        holders = [d for d, es in m.dimensions.items() if covered <= set(es)]
        if not holders:
            raise _Unsupported("a variable whose elements no one subscript range holds")
        return min(holders, key=lambda d: len(m.dimensions[d]))

    def _convert(self, rec):
        name, key, units, doc, dims, main_ast, per = rec
        var = name
        node = main_ast
        cls = type(node).__name__
        integs = [a for _, a, _ in per if type(a).__name__ == "IntegStructure"]
        if integs:
            return self._per_element_stock(rec, integs)
        if any(type(a).__name__ in ("LookupsStructure", "InlineLookupsStructure") for _, a, _ in per):
            return self._per_element_tables(rec)
        if cls == "IntegStructure":
            init = self._text(node.initial, var)
            inflows, outflows = self.splits[key]
            return Stock(name, units, doc, None, dims, (), initial=init, inflows=tuple(inflows),
                         outflows=tuple(outflows), non_negative=bool(getattr(node, "non_negative", False)))
        if cls == "LookupsStructure":
            xs, ys, ex = self._table(node)
            return Lookup(name, units, doc, None, dims, xs=xs, ys=ys, extrapolation=ex)
        if cls == "InlineLookupsStructure":
            xs, ys, ex = self._table(node.lookups)
            return Lookup(name, units, doc, None, dims, xs=xs, ys=ys, extrapolation=ex,
                          input=self._text(node.argument, var))
        per_text = tuple((k, self._text(a, var, sub)) for k, a, sub in per)
        eq = self._text(node, var) if node is not None else "0"
        if key in self.flows:
            return Flow(name, units, doc, None, dims, per_text, equation=eq)
        if isinstance(node, (int, float)) and not isinstance(node, bool) and not per_text:
            return Constant(name, units, doc, None, dims, value=float(node))
        return Aux(name, units, doc, None, dims, per_text, equation=eq)

    def _per_element_tables(self, rec) -> Lookup:
        """Build an arrayed graphical function with a table per element (or group of elements).

        Data (tables of ``time``) may give some elements a constant: a
        one-point table, which holds its value everywhere.
        """
        name, key, units, doc, dims, main_ast, per = rec
        entries = [(k, a) for k, a, _ in per] + ([("", main_ast)] if main_ast is not None else [])
        kinds = {type(a).__name__ for _, a in entries}
        data = "InlineLookupsStructure" in kinds
        if not (kinds <= {"LookupsStructure"} or (data and kinds <= {"InlineLookupsStructure", "float", "int"})):
            raise _Unsupported("a variable that is a lookup for some of its elements only")

        def table(a):
            if isinstance(a, (int, float)):
                return (0.0,), (float(a),), None
            return self._table(a.lookups if data else a)

        tables = [(k, *table(a)) for k, a in entries]
        ex = next((t[3] for t in tables if t[3] is not None), Extrapolation.CONTINUOUS)
        if any(t[3] not in (ex, None) for t in tables):
            raise _Unsupported("lookups with different extrapolation in one variable")
        xs, ys = tables[-1][1:3] if main_ast is not None else tables[0][1:3]
        return Lookup(name, units, doc, None, dims, xs=xs, ys=ys, extrapolation=ex,
                      input="time" if data else None,
                      tables=tuple((k, x, y) for k, x, y, _ in tables if k))

    def _per_element_stock(self, rec, integs) -> Stock:
        """Build a stock with an INTEG per element (or group of elements), its net flow a hidden per-element flow."""
        name, key, units, doc, dims, main_ast, per = rec
        if len(integs) != len(per) or (main_ast is not None and type(main_ast).__name__ != "IntegStructure"):
            raise _Unsupported("a variable that is a stock for some of its elements only")
        flow = f"{name} net flow"
        self.hidden.append(Flow(flow, None, f"net flow of {name} (Vensim INTEG)", None, tuple(dims),
                                tuple((k, self._text(a.flow, name, sub)) for k, a, sub in per),
                                equation=self._text(main_ast.flow, name) if main_ast is not None else "0"))
        init = self._text(main_ast.initial, name) if main_ast is not None else "0"
        nonneg = any(bool(getattr(a, "non_negative", False)) for a in [main_ast, *integs] if a is not None)
        return Stock(name, units, doc, None, dims, tuple((k, self._text(a.initial, name, sub)) for k, a, sub in per),
                     initial=init, inflows=(flow,), outflows=(), non_negative=nonneg)

    def _split_net(self, node, var, stock, m, dims=()):
        terms: list[tuple[int, Any]] = []

        def collect(n, sign):
            if type(n).__name__ == "ArithmeticStructure":
                ops = list(n.operators)
                if ops == ["negative"]:
                    return collect(n.arguments[0], -sign)
                if all(o in "+-" for o in ops):
                    ok = collect(n.arguments[0], sign)
                    for o, a in zip(ops, n.arguments[1:]):
                        ok = collect(a, sign if o == "+" else -sign) and ok
                    return ok
                return False
            subs = tuple(canonical(str(x)) for x in n.subscripts.subscripts) \
                if type(n).__name__ == "ReferenceStructure" and n.subscripts is not None else ()
            if type(n).__name__ == "ReferenceStructure" and canonical(n.reference) in self.names \
                    and canonical(n.reference) not in self.lookups | self.data and subs == tuple(dims):
                terms.append((sign, canonical(n.reference)))
                return True
            return False

        if collect(node, 1) and terms and len({t for _, t in terms}) == len(terms):
            stocks = self._stock_names()
            if not any(t in stocks for _, t in terms):
                for _, t in terms:
                    self.flows[t] = None
                return ([t for s, t in terms if s > 0], [t for s, t in terms if s < 0])
        flow = f"{stock} net flow"
        self.hidden.append(Flow(flow, None, f"net flow of {stock} (Vensim INTEG)", None, tuple(dims),
                                equation=self._text(node, var)))
        return [flow], []

    def _stock_names(self) -> set[str]:
        out = set()
        for sec in self.abs.sections:
            for e in sec.elements:
                if any(type(c.ast).__name__ == "IntegStructure" for c in e.components):
                    out.add(canonical(e.name))
        return out

    def _table(self, lk) -> tuple[tuple[float, ...], tuple[float, ...], Extrapolation]:
        kind = {"interpolate": Extrapolation.CONTINUOUS, "extrapolate": Extrapolation.EXTRAPOLATE,
                "hold_backward": Extrapolation.DISCRETE}.get(getattr(lk, "type", "interpolate"))
        if kind is None:
            raise _Unsupported(f"lookup type {lk.type}")
        return tuple(float(x) for x in lk.x), tuple(float(y) for y in lk.y), kind

    def _specs(self, m: Model) -> None:
        vals: dict[str, float] = {}
        for key, field in _CONTROL.items():
            if key not in m:
                continue
            e = m[key]
            if isinstance(e, Constant):
                vals[field] = e.value
            else:
                ref = canonical(m.equation_text(key) or "")
                if ref in _CONTROL and _CONTROL[ref] in vals:
                    vals[field] = vals[_CONTROL[ref]]
        if "dt" in vals and "time_step" in m and m["time_step"].units:
            vals_tu = m["time_step"].units
        else:
            vals_tu = None
        changes: dict[str, Any] = {k: v for k, v in vals.items() if k in ("start", "stop", "dt")}
        if vals.get("saveper") and vals.get("saveper") != vals.get("dt"):
            changes["saveper"] = vals["saveper"]
        if vals_tu:
            changes["time_units"] = vals_tu
        m.set_specs(**changes)

    # ------------------------------------------------------------ expressions
    def _text(self, node, var, subst: dict[str, str] | None = None) -> str:
        out = self._expr(node, var)
        return to_xmile(self._put_elements(out, subst) if subst else out)

    def _put_elements(self, n: ast.Expr, subst: dict[str, str]) -> ast.Expr:
        """Replace each subrange of ``subst`` by its element: as an index the element, as a value its number."""
        if isinstance(n, ast.Subscript):
            def index(i):
                if isinstance(i, ast.Name) and i.name in subst:
                    return ast.Name(subst[i.name])
                if isinstance(i, ast.Name) and self._mapped(i.name, subst) is not None:
                    return ast.Name(self._mapped(i.name, subst))
                return self._put_elements(i, subst)
            return ast.Subscript(n.name, tuple(index(i) for i in n.indices))
        if isinstance(n, ast.Name) and n.name in subst:
            return ast.Num(float(self.m.dimensions[n.name].index(subst[n.name]) + 1))
        return ast.map_children(n, lambda c: self._put_elements(c, subst))

    def _expr(self, n, var) -> ast.Expr:  # noqa: C901 - one dispatch over PySD's structures
        if isinstance(n, bool):
            return ast.Num(1.0 if n else 0.0)
        if isinstance(n, (int, float)):
            v = float(n)
            if math.isnan(v):
                v = NA
            if not math.isfinite(v):
                raise _Unsupported("infinite constants")
            return ast.Num(v) if v >= 0 else ast.Unary("-", ast.Num(-v))
        cls = type(n).__name__
        if cls in ("ArithmeticStructure", "LogicStructure"):
            ops = list(n.operators)
            args = [self._expr(a, var) for a in n.arguments]
            if len(ops) == 1 and len(args) == 1:
                op = {"negative": "-", "positive": "+", ":not:": "not"}.get(ops[0].lower())
                if op is None:
                    raise _Unsupported(f"operator {ops[0]}")
                return ast.Unary(op, args[0])
            if set(ops) == {"^"}:
                # Vensim's ^ is right-associative: 2^3^2 = 2^9
                out = args[-1]
                for a in reversed(args[:-1]):
                    out = ast.Binary("^", a, out)
                return out
            out = args[0]
            for op, a in zip(ops, args[1:]):
                o = {":and:": "and", ":or:": "or", "==": "="}.get(op.lower(), op.lower())
                if o not in ast.BINARY_OPS:
                    raise _Unsupported(f"operator {op}")
                out = ast.Binary(o, out, a)
            return out
        if cls == "ReferenceStructure":
            ref = canonical(n.reference)
            if ref == "time":
                return ast.Name("time")
            if ref in self.m.dimensions and ref not in self.names and n.subscripts is None:
                return self._position(ref)
            if n.subscripts is not None:
                # "dim!" (iterate dim inside a SUM/PROD/VMIN/VMAX) stays a name: the flattener
                # iterates every "dim!" of a reduction's argument together (a[dim!] * b[dim!])
                subs = tuple(ast.Name(canonical(str(x))) for x in n.subscripts.subscripts)
                return ast.Subscript(ref, subs)
            return ast.Name(ref)
        if cls == "CallStructure":
            fn = canonical(n.function.reference) if type(n.function).__name__ == "ReferenceStructure" else "?"
            if fn == "elmcount":
                return self._elmcount(n.arguments)
            if fn in self.lookups and n.function.subscripts is not None:
                # table[d](x) with d its own ranges: the flattener applies the current element's table;
                # other subscripts (elements, other ranges) pick the table as LOOKUP(table[...], x) does
                keys = tuple(canonical(str(x)) for x in n.function.subscripts.subscripts)
                if keys != tuple(self.var_dims.get(fn, ())):
                    if len(n.arguments) != 1:
                        raise _Unsupported(f"lookup {fn} called with {len(n.arguments)} arguments")
                    return ast.Call("LOOKUP", (ast.Subscript(fn, tuple(ast.Name(x) for x in keys)),
                                               self._expr(n.arguments[0], var)))
            args = [self._expr(a, var) for a in n.arguments]
            return self._call(fn, args)
        if cls == "GameStructure":
            return self._expr(n.expression, var)
        if cls == "InitialStructure":
            return ast.Call("INIT", (self._expr(n.initial, var),))
        if cls == "SmoothStructure":
            f = {1: "SMTH1", 3: "SMTH3"}.get(int(n.order))
            if f is None:
                raise _Unsupported(f"SMOOTH of order {n.order}")
            return ast.Call(f, (self._expr(n.input, var), self._expr(n.smooth_time, var),
                                self._expr(n.initial, var)))
        if cls == "SmoothNStructure":
            return ast.Call("SMTHN", (self._expr(n.input, var), self._expr(n.smooth_time, var),
                                      self._expr(n.order, var), self._expr(n.initial, var)))
        if cls == "DelayStructure":
            f = {1: "DELAY1", 3: "DELAY3"}.get(int(n.order))
            if f is None:
                raise _Unsupported(f"DELAY of order {n.order}")
            return ast.Call(f, (self._expr(n.input, var), self._expr(n.delay_time, var),
                                self._expr(n.initial, var)))
        if cls == "DelayNStructure":
            # Vensim's own DELAY N (order reduced to fit DT, per-stage delay times), not XMILE's DELAYN
            return ast.Call("DELAY_N", (self._expr(n.input, var), self._expr(n.delay_time, var),
                                        self._expr(n.initial, var), self._expr(n.order, var)))
        if cls == "DelayFixedStructure":
            # Vensim evaluates DELAY FIXED's delay time once, at the initial time; XMILE's DELAY reads its
            # delay time every step, so the Vensim call becomes DELAY(input, INIT(delay time), initial)
            return ast.Call("DELAY", (self._expr(n.input, var), ast.Call("INIT", (self._expr(n.delay_time, var),)),
                                      self._expr(n.initial, var)))
        if cls == "TrendStructure":
            return ast.Call("TREND", (self._expr(n.input, var), self._expr(n.average_time, var),
                                      self._expr(n.initial_trend, var)))
        if cls == "ForecastStructure":
            return ast.Call("FORCST", (self._expr(n.input, var), self._expr(n.average_time, var),
                                       self._expr(n.horizon, var), self._expr(n.initial_trend, var)))
        if cls == "SampleIfTrueStructure":
            return ast.Call("SAMPLE_IF_TRUE", (self._expr(n.condition, var), self._expr(n.input, var),
                                               self._expr(n.initial, var)))
        if cls == "InlineLookupsStructure":
            raise _Unsupported("WITH LOOKUP inside a larger expression")
        if cls == "IntegStructure":
            raise _Unsupported("INTEG inside a larger expression")
        names = {"AllocateAvailableStructure": "ALLOCATE AVAILABLE",
                 "AllocateByPriorityStructure": "ALLOCATE BY PRIORITY", "DataStructure": "data variables",
                 "GetLookupsStructure": "GET LOOKUPS", "GetDataStructure": "GET DATA",
                 "GetConstantsStructure": "GET CONSTANTS", "LookupsStructure": "a lookup inside an expression"}
        raise _Unsupported(names.get(cls, cls))

    def _time_value(self, args: list[ast.Expr]) -> ast.Expr:
        """Vensim ``GET TIME VALUE(relative to, offset, measure)`` in the model's time (measure 0).

        Relative to 0: the current time plus the offset; 1: the initial time
        plus the offset.  The computer's clock (2) and calendar measures are
        not model time and stay unsupported.
        """
        relative, measure = (args[0], args[2]) if len(args) == 3 else (None, None)
        if isinstance(relative, ast.Num) and isinstance(measure, ast.Num) and measure.value == 0:
            base = {0.0: ast.Name("time"), 1.0: ast.Name("starttime")}.get(float(relative.value))
            if base is not None:
                return ast.Binary("+", base, args[1])
        raise _Unsupported("GET TIME VALUE other than of the simulation time (relative to 0 or 1, measure 0)")

    def _elmcount(self, args) -> ast.Expr:
        """Vensim ``ELMCOUNT(range)``: the number of elements of a subscript range, a constant."""
        if len(args) == 1 and type(args[0]).__name__ == "ReferenceStructure" and args[0].subscripts is None:
            dim = canonical(args[0].reference)
            if dim in self.m.dimensions:
                return ast.Num(float(len(self.m.dimensions[dim])))
        raise _Unsupported("ELMCOUNT of something other than a subscript range")

    def _position(self, dim: str) -> ast.Expr:
        """Return the value of a subscript range used in an expression: its element's number in the main range.

        Vensim numbers every element by its position in the main range that
        holds it (the range with the most elements containing it; of equal
        ranges, the first alphabetically), so ``dim1 = dim3`` compares elements
        even when ``dim3`` lists them in another order.  Our arrays number an
        element by its position in the variable's own dimension; when the two
        differ, a hidden arrayed constant carries Vensim's numbers.
        """
        dims = self.m.dimensions
        own = tuple(dims[dim])
        sets = {d: set(es) for d, es in dims.items()}
        holders = [d for d in dims if sets[d] >= set(own)]
        top = [d for d in holders if not any(sets[o] > sets[d] for o in holders)]
        main = tuple(dims[min(top)])
        numbers = [main.index(e) + 1 for e in own]
        if numbers == list(range(1, len(own) + 1)):
            return ast.Name(dim)
        if dim not in self.positions:
            name = f"{dim} position"
            while canonical(name) in self.names or canonical(name) in (canonical(h.name) for h in self.hidden):
                name += " 2"
            self.hidden.append(Aux(name, None, f"number of each element of {dim} in its main range {min(top)} "
                                   "(Vensim's value of a subscript range)", None, (dim,),
                                   tuple((e, _num(k)) for e, k in zip(own, numbers)), equation="0"))
            self.positions[dim] = canonical(name)
        return ast.Subscript(self.positions[dim], (ast.Name(dim),))

    def _call(self, fn: str, args: list[ast.Expr]) -> ast.Expr:
        if fn in self.lookups:
            if len(args) != 1:
                raise _Unsupported(f"lookup {fn} called with {len(args)} arguments")
            return ast.Call(fn, tuple(args))
        if fn == "if_then_else":
            return ast.If(*args)
        if fn == "log":
            if len(args) == 1:
                return ast.Call("LOG10", tuple(args))
            return ast.Binary("/", ast.Call("LN", (args[0],)), ast.Call("LN", (args[1],)))
        if fn == "pulse":
            # Vensim PULSE(start, width): 1 from start until start + width (at least one DT)
            start, width = args
            end = ast.Binary("+", start, ast.Call("MAX", (width, ast.Name("dt"))))
            cond = ast.Binary("and", ast.Binary(">=", ast.Binary("+", ast.Name("time"),
                                                                  ast.Binary("/", ast.Name("dt"), ast.Num(2.0))),
                                                start),
                              ast.Binary("<", ast.Binary("+", ast.Name("time"),
                                                         ast.Binary("/", ast.Name("dt"), ast.Num(2.0))), end))
            return ast.If(cond, ast.Num(1.0), ast.Num(0.0))
        if fn == "get_time_value":
            return self._time_value(args)
        if fn == "zidz":
            return ast.Call("SAFEDIV", (args[0], args[1], ast.Num(0.0)))
        if fn == "xidz":
            return ast.Call("SAFEDIV", (args[0], args[1], args[2]))
        if fn == "ramp" and len(args) == 2:
            return ast.Call("RAMP", tuple(args))
        target = _SAME.get(fn)
        if target is None:
            # note it and go on, so that one error lists every unsupported function of the model
            self.unsupported[fn.upper().replace("_", " ")].add(self._current)
            return ast.Num(0.0)
        return ast.Call(target, tuple(args))


def _explicit_mappings(text: str) -> set[str]:
    """Return the ranges whose mapping lists elements, ``a: a1, a2 -> (b: b2, b1)`` (PySD keeps only the range name)."""
    text = text.split("\\\\\\---///", 1)[0]
    out = set()
    for eq in text.split("|"):
        head = eq.split("~", 1)[0]
        if "->" in head and ":" in head.split("->", 1)[0] and "(" in head.split("->", 1)[1]:
            out.add(canonical(_disp(head.split(":", 1)[0].split("\n")[-1])))
    return out


class _Tables(dict):
    """Tables read from a file for one component, by position in its ranges."""


def _excluded(exc) -> set[tuple[str, ...]]:
    """Return the element combinations named by a component's :EXCEPT: lists."""
    out: set[tuple[str, ...]] = set()
    for x in exc:
        out |= set(itertools.product(*(es for _, es in x)))
    return out


def _num(v: float) -> str:
    return to_xmile(ast.Num(float(v)))


def _disp(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        name = name[1:-1]
    return " ".join(name.split())

