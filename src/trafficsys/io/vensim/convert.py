"""Vensim definitions (from :mod:`.grammar`) to a :class:`~trafficsys.model.Model`.

* ``INTEG(net, initial)`` becomes a stock; when ``net`` is a sum and
  difference of auxiliaries, those become its inflows and outflows, else a
  flow ``<stock> net flow`` carries the whole expression;
* Vensim functions map to the builtins of :mod:`trafficsys.model.builtins`:
  to their XMILE equivalents where the arguments differ (``IF THEN ELSE``,
  ``SMOOTH``/``SMOOTH3``/``SMOOTH N``, ``DELAY1``/``DELAY3``/``DELAY FIXED``,
  ``FORECAST``, ``INITIAL``, ``XIDZ``/``ZIDZ``, ``PULSE``, ``LOG``...), and
  otherwise by name, ``A B C`` to ``A_B_C`` (``DELAY N``, ``SAMPLE IF TRUE``,
  ``QUANTUM``...), so a builtin registered under Vensim's name is read with
  no change here; ``ELMCOUNT`` is a number and ``:NA:`` Vensim's number for it;
* lookups (stand-alone and inline ``WITH LOOKUP``) become graphical
  functions, one table per element where the file gives one;
* ``GET XLS``/``GET DIRECT`` ``CONSTANTS``/``LOOKUPS``/``DATA`` are read when
  the file is, from files in the model's folder only;
* subscripts become arrays (apply-to-all or per element), with ``:EXCEPT:``
  lists, equations over subranges or single elements, stocks with an
  ``INTEG`` per element, and mappings (``src: s1, s2 -> tgt`` or
  ``-> (tgt: t2, t1)``): an equation over ``tgt`` that names ``src`` becomes
  one equation per element with ``src`` replaced by its paired element;
* ``:MACRO:`` calls are expanded per call site (:mod:`.macros`).

Everything unsupported is collected, and the import fails once with an
:class:`~trafficsys.errors.UnsupportedFeatureError` listing every
unsupported function with the variables that use it.
"""

from __future__ import annotations

import itertools
import math
import os
import pathlib
import warnings
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import DataFileError, ModelWarning, UnsupportedFeatureError
from ...limits import check
from ...model import ast
from ...model.builtins import lookup_builtin
from ...model.elements import Aux, Constant, Extrapolation, Flow, Lookup, Stock
from ...model.model import Model
from ...model.names import canonical
from ...model.printer import to_xmile
from ..datafile import DataFileWarning, DataTable, Series
from .grammar import NA, Definition, Outputs, RangeDef, Table, Text

__all__ = ["Element", "MissingDataWarning", "build", "SAME"]

_CONTROL = {"initial_time": "start", "final_time": "stop", "time_step": "dt", "saveper": "saveper"}

#: Vensim function -> builtin with the same arguments, where the names differ
SAME = {"VMIN": "MIN", "VMAX": "MAX", "INITIAL": "INIT"}

#: how a data variable reads between its points, by its keyword
_DATA_KINDS = {
    None: Extrapolation.CONTINUOUS,
    "interpolate": Extrapolation.CONTINUOUS,
    "hold_backward": Extrapolation.DISCRETE,
    "look_forward": Extrapolation.DISCRETE,  # a step table moved onto the next point: see _step_table
    "raw": Extrapolation.DISCRETE,
}


@dataclass
class Element:
    """A variable of the file: its equations (one per subscript combination), units, comment and line."""

    name: str
    definitions: list[Definition]
    units: str | None
    doc: str
    line: int
    #: ``[min, max]`` after the units (both bounds given): a constant's range for Monte Carlo
    range: tuple[float, float] | None = None


class _Unsupported(Exception):
    def __init__(self, what: str):
        self.what = what


class _Tables(dict):
    """Tables read from a file for one component, by position in its ranges."""


@dataclass(frozen=True)
class _Data:
    """A table of time (GET DATA): looked up at the current time."""

    table: Table
    kind: Extrapolation


def build(
    name: str,
    file: str,
    ranges: list[RangeDef],
    elements: list[Element],
    unsupported: dict[str, set[str]] | None = None,
    data: list[DataTable] | tuple[DataTable, ...] = (),
) -> Model:
    """Return the model the file's ranges and elements describe.

    ``data`` are data files (:mod:`trafficsys.io.datafile`) whose series fill
    the data variables that have no equation.

    Raises
    ------
    UnsupportedFeatureError
        Listing every unsupported function (or construct) with its users.
    DataFileError
        A data file names a data variable with elements it does not have, or
        fills none of the model's data variables.
    """
    return _Converter(name, file, ranges, elements, unsupported, data).build()


class _Converter:
    def __init__(self, name, file, ranges, elements, unsupported=None, data=()):
        self.name = name
        self.data_tables = list(data)
        #: the data files' series by variable key, then by element keys
        self.series: dict[str, dict[tuple[str, ...], Series]] = defaultdict(dict)
        where: dict[tuple[str, tuple[str, ...]], str] = {}
        for table in self.data_tables:
            for se in table.series:
                if se.elements in self.series[se.key]:
                    raise DataFileError(
                        f"row {se.row}, column {se.column}: '{se.name}' is also given by {where[se.key, se.elements]}",
                        file=table.file,
                    )
                self.series[se.key][se.elements] = se
                where[se.key, se.elements] = table.file
        self.used_series: set[tuple[str, tuple[str, ...]]] = set()
        self.file = file
        self.ranges = ranges
        self.elements = elements
        self.unsupported: dict[str, set[str]] = defaultdict(set)
        for k, v in (unsupported or {}).items():
            self.unsupported[k] |= v
        self._current = ""
        self.hidden: list[Any] = []
        #: lookups read another way by LOOKUP EXTRAPOLATE/FORWARD/BACKWARD: (lookup, function) -> copy's name
        self.variants: dict[tuple[str, str], str] = {}

    def build(self) -> Model:
        m = Model(self.name)
        m.file = self.file
        self.m = m
        self.positions: dict[str, str] = {}
        self._dims(m)
        elems = self.elements
        self.names = {canonical(e.name) for e in elems}
        self.unit_ranges = {canonical(e.name): e.range for e in elems if e.range is not None}
        self.lookups: set[str] = set()
        self.data: set[str] = set()
        self.stock_names: set[str] = set()
        for e in elems:
            for d in e.definitions:
                v = d.value
                if d.kind in ("lookup", "lookup_call") or (
                    isinstance(v, ast.Call)
                    and d.kind != "data"
                    and (v.func == "WITH_LOOKUP" or v.func.startswith("GET_") and v.func.endswith("_LOOKUPS"))
                ):
                    self.lookups.add(canonical(e.name))
                if d.kind in ("data", "data_empty"):
                    self.data.add(canonical(e.name))  # a table of time: never a stock's flow
                if isinstance(v, ast.Call) and v.func == "INTEG":
                    self.stock_names.add(canonical(e.name))
        empty = {canonical(e.name) for e in elems if any(d.kind == "data_empty" for d in e.definitions)}
        self.filled = {k for k in empty if k in self.series}
        self.missing = self._missing_data(elems)
        # first pass: stocks decide which auxiliaries are their flows
        self.flows: dict[str, None] = {}
        self.claimed: set[tuple[str, int]] = set()  # (flow, +1 into / -1 out of) a stock already
        self.splits: dict[str, tuple[list[str], list[str]]] = {}
        self.var_dims: dict[str, tuple[str, ...]] = {}
        records = []
        for e in elems:
            self._current = e.name
            try:
                rec = self._element(m, e)
                self.var_dims[rec[1]] = rec[4]
                records.append(rec)
            except _Unsupported as u:
                self.unsupported[u.what].add(e.name)
        kept = []
        for rec in records:  # every variable's dimensions known: a flow must span its stock's
            self._current = rec[0]
            try:
                main = rec[5]
                if _is_call(main, "INTEG") and not rec[6]:
                    self._arity(main, 2)
                    self.splits[rec[1]] = self._split_net(main.args[0], rec[0], rec[0], rec[4])
                kept.append(rec)
            except _Unsupported as u:
                self.unsupported[u.what].add(rec[0])
        records = kept
        built = []
        for rec in records:
            self._current = rec[0]
            try:
                built.append(self._convert(rec))
            except _Unsupported as u:
                self.unsupported[u.what].add(rec[0])
        built += self._lookup_variants(built)
        self._check_data_files()
        if self.unsupported:
            parts = "; ".join(
                f"{fn} used by {', '.join(sorted(v))}" for fn, v in sorted(self.unsupported.items())
            )
            raise UnsupportedFeatureError(
                f"the model uses features trafficsys does not support: {parts}",
                file=self.file,
                variable=sorted(next(iter(self.unsupported.values())))[0],
            )
        for el in built:
            m.add(el)
        for el in self.hidden:
            m.add(el)
        self._specs(m)
        return m

    # ------------------------------------------------------------ structure
    def _missing_data(self, elems: list[Element]) -> set[str]:
        """Return the data variables without data, and warn about the equations that read them.

        A data variable with no equation is read by Vensim from a data file
        named at run time; an ``.mdl`` file alone gives it no value, which
        Vensim shows as missing (``:NA:``, -2^110).  A data equation (``:=``)
        that reads missing data is not computed (Vensim computes a data
        equation only where all its data are available), so it is missing
        too.  Both become the constant ``:NA:``.  Model equations that read
        them compute with ``:NA:`` as Vensim does (a model may test for it,
        ``x = :NA:``, as calibration statistics do); a
        :class:`MissingDataWarning` names them, so that no result depends on
        absent data without saying so.
        """
        kinds: dict[str, set[str]] = defaultdict(set)
        refs: dict[str, set[str]] = defaultdict(set)
        for e in elems:
            key = canonical(e.name)
            for d in e.definitions:
                kinds[key].add(d.kind)
                if isinstance(d.value, ast.Expr):
                    refs[key] |= _names(d.value)
        missing = {k for k, ks in kinds.items() if "data_empty" in ks and k not in self.filled}
        changed = True
        while changed:
            changed = False
            for k, ks in kinds.items():
                if k not in missing and "data" in ks and refs[k] & missing:
                    missing.add(k)
                    changed = True
        readers = sorted(
            e.name
            for e in elems
            if canonical(e.name) not in missing
            and not ({"data", "data_empty"} & kinds[canonical(e.name)])
            and refs[canonical(e.name)] & missing
        )
        if readers:
            warnings.warn(
                MissingDataWarning(
                    f"in {self.file}: {', '.join(readers)} read data variables that have no data in "
                    f"the file{' or the data files given' if self.data_tables else ''} "
                    f"({', '.join(sorted(_refs_missing(readers, refs, missing)))}); Vensim reads "
                    "them from a data file at run time (give it: ts.load(path, data=FILE), trafficsys run "
                    "--data FILE), so here they are missing (:NA:, -2^110) at every "
                    "time and the results of these equations are what Vensim gives without a data file"
                ),
                stacklevel=4,
            )
        return missing

    def _dims(self, m: Model) -> None:
        """Declare the subscript ranges; a range listed inside another, or copied (``a <-> b``), stands for its elements."""
        ranges = {canonical(r.name): r for r in self.ranges}

        def elements(key: str, seen: tuple[str, ...] = ()) -> list[str] | None:
            r = ranges[key]
            if key in seen or r.from_file:
                return None
            items: list[Any] = [r.copy_of] if r.copy_of else list(r.items)
            out: list[str] = []
            for x in items:
                if isinstance(x, tuple):  # (c1-c10)
                    prefix, lo, hi = x
                    size = 10.0 ** len(hi) if len(hi) > 15 else int(hi) - int(lo) + 1
                    check(
                        "array_elements",
                        size,
                        f"the subscript range ({prefix}{lo}-{prefix}{hi})",
                        "list fewer elements",
                        file=self.file,
                        variable=r.name,
                    )
                    inner = [f"{prefix}{k}" for k in range(int(lo), int(hi) + 1)]
                else:
                    c = canonical(x)
                    found = elements(c, (*seen, key)) if c in ranges else [x]
                    if found is None:
                        return None
                    inner = found
                out += [y for y in inner if y not in out]
            check(
                "array_elements",
                len(out),
                f"the subscript range {r.name}",
                "list fewer elements",
                file=self.file,
                variable=r.name,
            )
            return out

        for key, r in ranges.items():
            es = elements(key)
            if es is None:
                what = (
                    "subscript range defined from a file"
                    if r.from_file
                    else "subscript range defined in a cycle"
                )
                self.unsupported[what].add(r.name)
                continue
            m.dimension(r.name, es)
        # a mapping "src: ... -> target": in an equation over target, src stands for the element at the same position
        self.maps: dict[str, list[str]] = {}
        self.pairs: dict[
            tuple[str, str], tuple[str, ...]
        ] = {}  # (src, tgt) -> src element for each tgt element
        for key, r in ranges.items():
            if not r.mappings or key not in m.dimensions:
                continue
            for target, listed in r.mappings:
                tk = canonical(target)
                if tk not in m.dimensions:
                    self.unsupported["subscript mapping to a range not declared in the file"].add(r.name)
                    continue
                src = m.dimensions[key]
                if listed is not None:
                    # -> (tgt: t2, t1): the i-th element of src goes to the i-th listed target element (or range)
                    dest: list[str] = []
                    for t in listed:
                        ck = canonical(t)
                        dest += list(m.dimensions[ck]) if ck in m.dimensions else [ck]
                    if len(dest) != len(src) or set(dest) != set(m.dimensions[tk]):
                        self.unsupported["subscript mapping whose list does not cover the target range"].add(
                            r.name
                        )
                        continue
                    by_target = {t: s for s, t in zip(src, dest)}
                    self.pairs[(key, tk)] = tuple(by_target[t] for t in m.dimensions[tk])
                elif len(m.dimensions[tk]) != len(src):
                    self.unsupported["subscript mapping between ranges of different sizes"].add(r.name)
                    continue
                else:
                    self.pairs[(key, tk)] = tuple(src)
                self.maps.setdefault(key, []).append(tk)

    def _element(self, m: Model, e: Element):
        """One variable's components as (name, key, units, doc, dims, apply-to-all value, per-element list).

        Each component covers the elements its subscripts name (whole ranges,
        subranges or single elements) less those of its ``:EXCEPT:`` lists.
        The variable is arrayed over, at each position, the range that holds
        every element its components cover.  Per-element entries are
        ``(elements, value, {subrange: element})``: a subrange that is not the
        variable's own dimension is replaced by the entry's element.
        """
        name = e.name
        key = canonical(name)
        parsed: list[tuple[Any, Any, Any]] = []
        for d in e.definitions:
            if d.kind in ("test_input", "constraint"):
                continue
            if d.kind == "data_empty":
                # Vensim fills it from a data file at run time: a data file given to the reader, else missing
                csubs = [self._sub(m, s) for s in d.lhs.subs]
                exc = [[self._sub(m, s) for s in x] for x in d.lhs.excepts]
                filled = self._from_data_file(key, csubs, d.keyword) if key in self.filled else NA
                parsed.append((filled, csubs, exc))
                continue
            if d.kind == "empty":
                raise _Unsupported("a variable without an equation")
            csubs = [self._sub(m, s) for s in d.lhs.subs]
            value: Any = d.value
            if d.kind == "array":
                value = np.asarray(d.value, dtype=float)
            elif d.kind == "lookup_call" or (
                isinstance(value, ast.Call)
                and value.func.startswith("GET_")
                and value.func.endswith(("_CONSTANTS", "_LOOKUPS", "_DATA"))
            ):
                value = self._external(value, csubs, name, d.keyword)
            elif d.kind == "data":
                if _uses_function(value, "X_IF_MISSING"):
                    raise _Unsupported("X IF MISSING")
                if key in self.missing:
                    value = NA  # a data equation reading missing data is not computed: missing
                elif isinstance(value, (ast.Num, ast.Unary)) and ast.literal_value(value) is not None:
                    value = float(ast.literal_value(value))  # type: ignore[arg-type]
            elif isinstance(value, (ast.Num, ast.Unary)) and ast.literal_value(value) is not None:
                value = float(ast.literal_value(value))  # type: ignore[arg-type]
            parsed.append((value, csubs, [[self._sub(m, s) for s in x] for x in d.lhs.excepts]))
        if not parsed:
            raise _Unsupported("a variable with only test inputs or constraints")
        ranks = {len(p[1]) for p in parsed}
        if len(ranks) > 1:
            raise _Unsupported("a variable defined with different numbers of subscripts")
        rank = ranks.pop() if ranks else 0
        dims = tuple(self._dimension_of(m, [p[1][i] for p in parsed]) for i in range(rank))
        main_value = None
        per: list[tuple[str, Any, dict[str, str]]] = []
        for value, subs, exc in parsed:
            if not subs:
                if main_value is not None:
                    raise _Unsupported("several equations for one variable")
                main_value = (
                    value[()]
                    if isinstance(value, _Tables)
                    else (
                        float(value.reshape(-1)[0])
                        if isinstance(value, np.ndarray) and value.size == 1
                        else value
                    )
                )
                if isinstance(main_value, np.ndarray):
                    raise _Unsupported("an array constant whose shape does not match its subscripts")
                continue
            if isinstance(value, _Tables):  # external tables, one per element combination
                skip = _excluded(exc)
                for combo in itertools.product(*(es for _, es in subs)):
                    if combo not in skip:
                        idx = tuple(
                            subs[i][1].index(combo[i]) for i, (r, _) in enumerate(subs) if r is not None
                        )
                        per.append((",".join(combo), value[idx], {}))
                continue
            if isinstance(value, np.ndarray):
                free = [i for i, (r, _) in enumerate(subs) if r is not None]
                shape = tuple(len(subs[i][1]) for i in free)
                if value.size != (int(np.prod(shape)) if shape else 1):
                    raise _Unsupported("an array constant whose shape does not match its subscripts")
                arr = value.reshape(shape) if shape else value.reshape(())
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
                        per.append(
                            (
                                ",".join(combo),
                                value,
                                {r: combo[i] for i, (r, _) in enumerate(subs) if r is not None},
                            )
                        )
                continue
            if not exc and all(r == d for (r, _), d in zip(subs, dims)):
                if main_value is not None:
                    raise _Unsupported("several apply-to-all equations for one variable")
                main_value = value
                continue
            skip = _excluded(exc)
            moved = [(r, i) for i, (r, _) in enumerate(subs) if r is not None and r != dims[i]]
            for combo in itertools.product(*(es for _, es in subs)):
                if combo not in skip:
                    per.append((",".join(combo), value, {r: combo[i] for r, i in moved}))
        if per and main_value is None and len(per) == 1 and not dims:
            main_value = per[0][1]
            per = []
        units = e.units
        return (name, key, units, e.doc, dims, main_value, per)

    def _external(self, call: ast.Call, subs, var: str, keyword: str | None):
        """Read GET CONSTANTS / GET LOOKUPS / GET DATA values now, with PySD's spreadsheet readers.

        Constants become numbers (an array over the component's ranges);
        lookups and data become tables (data: tables of ``time``), as
        :class:`_Tables` indexed by position in the component's ranges.
        Only files in the model's folder (or below it) are read.
        """
        kind = call.func.rsplit("_", 1)[1]
        what = f"GET {kind}"
        args = call.args
        if not all(isinstance(a, Text) for a in args) or len(args) < (3 if kind == "CONSTANTS" else 4):
            raise _Unsupported(f"{what} with arguments other than quoted file, sheet and cell names")
        text = [a.value for a in args if isinstance(a, Text)]
        root = pathlib.Path(self.file).resolve().parent
        if text[0].startswith("?"):
            raise _Unsupported(f"{what} with an indirect file reference")
        target = (root / text[0]).resolve()
        if root != target.parent and root not in target.parents:
            raise _Unsupported(f"{what} of a file outside the model's folder")
        if not target.is_file():
            raise _Unsupported(f"{what} of a file that does not exist")
        ex = _DATA_KINDS.get(keyword if kind == "DATA" else None)
        if ex is None:
            raise _Unsupported(f"GET DATA with :{str(keyword).upper().replace('_', ' ')}:")
        try:
            from pysd.py_backend import external as ext  # the spreadsheet readers only, not the translator
        except ImportError:  # pragma: no cover - pysd is a declared dependency
            raise _Unsupported(
                f"{what} (reading spreadsheets needs pip install 'trafficsys[pysd]')"
            ) from None
        # labels only: PySD reads the shape from the lengths, in this order
        coords = {f"_{i}": list(es) for i, (_, es) in enumerate(subs)}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "CONSTANTS":
                    obj = ext.ExtConstant(str(target), text[1], text[2], coords, root, coords, var)
                else:
                    obj = ext.ExtLookup(str(target), text[1], text[2], text[3], coords, root, coords, var)
                obj.missing = "raise"
                obj.initialize()
        except Exception as e:  # noqa: BLE001 - the readers raise many kinds; a value we cannot read is not supported
            raise _Unsupported(
                f"{what} that the spreadsheet reader cannot read ({type(e).__name__})"
            ) from None
        shape = tuple(len(es) for r, es in subs if r is not None)
        if kind == "CONSTANTS":
            data = np.asarray(obj.data, dtype=float)
            return float(data) if not subs else data.reshape(shape) if shape else data.reshape(())
        data = np.asarray(obj.data, dtype=float)
        xs = np.asarray(obj.data.coords[obj.data.dims[0]].values, dtype=float)
        data = data.reshape((len(xs), *shape))
        out = _Tables()
        for idx in itertools.product(*(range(n) for n in shape)):
            index: tuple[Any, ...] = (slice(None), *idx)
            ys = data[index]
            keep = ~np.isnan(ys)
            table = Table(tuple(float(x) for x in xs[keep]), tuple(float(y) for y in ys[keep]))
            if kind == "DATA" and keyword in ("look_forward", "raw"):
                table = _step_table(table, keyword)
            out[idx] = table if kind == "LOOKUPS" else _Data(table, ex)
        return out

    def _from_data_file(self, key: str, subs, keyword: str | None) -> _Tables:
        """Return the data files' series of one data variable as tables of time, one per element combination.

        An element the files give no series (or only blank cells) is missing, :NA:.
        """
        ex = _DATA_KINDS.get(keyword)
        if ex is None:
            raise _Unsupported(f"data variables read :{str(keyword).upper().replace('_', ' ')}:")
        out = _Tables()
        for combo in itertools.product(*(es for _, es in subs)):
            idx = tuple(subs[i][1].index(combo[i]) for i, (r, _) in enumerate(subs) if r is not None)
            elements = tuple(canonical(x) for x in combo)
            se = self.series[key].get(elements)
            if se is None or not se.times:
                out[idx] = NA
                continue
            self.used_series.add((key, elements))
            table = Table(se.times, se.values)
            if keyword in ("look_forward", "raw"):
                table = _step_table(table, keyword)
            out[idx] = _Data(table, ex)
        return out

    def _check_data_files(self) -> None:
        """Refuse a data file's series that name a data variable's elements wrongly, or a file that fills nothing."""
        if not self.data_tables:
            return
        unused: list[str] = []
        unused_files: list[str] = []
        for table in self.data_tables:
            for se in table.series:
                if se.key in self.filled and (se.key, se.elements) not in self.used_series:
                    dims = self.var_dims.get(se.key, ())
                    shape = f"[{', '.join(dims)}]" if dims else "no subscripts"
                    raise DataFileError(
                        f"row {se.row}, column {se.column}: '{se.name}' names no element of data variable "
                        f"{se.key} ({shape}); fix the name",
                        file=table.file,
                        variable=se.key,
                    )
                if se.key not in self.filled:
                    unused.append(se.name)
                    if os.path.basename(table.file) not in unused_files:
                        unused_files.append(os.path.basename(table.file))
        if not self.used_series:
            wanted = sorted(
                e.name for e in self.elements if any(d.kind == "data_empty" for d in e.definitions)
            )
            files = ", ".join(t.file for t in self.data_tables)
            raise DataFileError(
                "none of the file's series is a data variable of the model ("
                + (
                    f"its data variables: {', '.join(wanted)}"
                    if wanted
                    else "the model has no data variable (no variable without an equation)"
                )
                + "); check the names or the file",
                file=files,
            )
        if unused:
            shown = ", ".join(unused[:8]) + (f" and {len(unused) - 8} more" if len(unused) > 8 else "")
            warnings.warn(
                DataFileWarning(
                    f"{len(unused)} series of {', '.join(unused_files)} fill no data variable of "
                    f"{os.path.basename(self.file)} (the model "
                    f"computes them, or has no such variable) and are not used: {shown}"
                ),
                stacklevel=6,
            )

    def _uses_mapping(self, value, bound: set[str | None]) -> bool:
        """Return True when ``value`` subscripts a variable by a range mapped to one of the ``bound`` ranges."""
        if not self.maps or not isinstance(value, ast.Expr):
            return False
        for n in _walk(value):
            if isinstance(n, ast.Subscript):
                for x in n.indices:
                    if isinstance(x, ast.Name):
                        c = x.name
                        if c not in bound and any(t in bound for t in self.maps.get(c, ())):
                            return True
        return False

    def _mapped(self, dim: str, subst: dict[str, str]) -> str | None:
        """Return the element of ``dim`` that a mapping pairs with a bound element of its target range, if any."""
        for t in self.maps.get(dim, ()):
            if t in subst:
                return self.pairs[(dim, t)][self.m.dimensions[t].index(subst[t])]
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
        name, key, units, doc, dims, node, per = rec
        var = name
        integs = [a for _, a, _ in per if _is_call(a, "INTEG")]
        if integs:
            return self._per_element_stock(rec, integs)
        if any(isinstance(a, (Table, _Data)) or _is_call(a, "WITH_LOOKUP") for _, a, _ in per):
            return self._per_element_tables(rec)
        if _is_call(node, "INTEG"):
            init = self._text(node.args[1], var)
            inflows, outflows = self.splits[key]
            return Stock(
                name,
                units,
                doc,
                None,
                dims,
                (),
                initial=init,
                inflows=tuple(inflows),
                outflows=tuple(outflows),
            )
        if isinstance(node, Table):
            return Lookup(name, units, doc, None, dims, xs=node.xs, ys=node.ys)
        if isinstance(node, _Data):
            return Lookup(
                name,
                units,
                doc,
                None,
                dims,
                xs=node.table.xs,
                ys=node.table.ys,
                extrapolation=node.kind,
                input="time",
            )
        if _is_call(node, "WITH_LOOKUP"):
            table = self._with_lookup(node)
            return Lookup(
                name, units, doc, None, dims, xs=table.xs, ys=table.ys, input=self._text(node.args[0], var)
            )
        per_text = tuple(
            (k, _num(a) if isinstance(a, float) else self._text(a, var, sub)) for k, a, sub in per
        )
        if isinstance(node, float):
            if key not in self.flows and not per_text:
                return self._constant(name, units, doc, dims, _finite(node))
            node = ast.Num(node)
        eq = self._text(node, var) if node is not None else "0"
        if key in self.flows:
            return Flow(name, units, doc, None, dims, per_text, equation=eq)
        lit = ast.literal_value(node) if isinstance(node, ast.Expr) else None
        if isinstance(node, ast.Num) and not per_text:
            return self._constant(name, units, doc, dims, _finite(node.value))
        if lit is not None and not per_text and isinstance(node, ast.Unary):
            return self._constant(name, units, doc, dims, _finite(lit))
        return Aux(name, units, doc, None, dims, per_text, equation=eq)

    def _constant(self, name, units, doc, dims, value: float) -> Constant:
        """Return a constant, its ``[min, max]`` from the file (when it holds the value) its Monte Carlo range.

        A value outside its own range (Vensim only warns of it) keeps no range,
        with a warning: sampling a range that excludes the file's value would
        change what the model says.
        """
        rng = self.unit_ranges.get(canonical(name))
        if rng is not None and not rng[0] <= value <= rng[1]:
            warnings.warn(
                f"in {self.file}: the constant {name} = {value:g} lies outside its range "
                f"[{rng[0]:g}, {rng[1]:g}]; the range is left out (Monte Carlo will not vary {name})",
                stacklevel=5,
            )
            rng = None
        return Constant(name, units, doc, None, dims, value=value, range=rng)

    def _with_lookup(self, node: ast.Call) -> Table:
        if len(node.args) != 2 or not isinstance(node.args[1], Table):
            raise _Unsupported("WITH LOOKUP without a table of points")
        return node.args[1]

    def _per_element_tables(self, rec) -> Lookup:
        """Build an arrayed graphical function with a table per element (or group of elements).

        Data (tables of ``time``) may give some elements a constant: a
        one-point table, which holds its value everywhere.
        """
        name, key, units, doc, dims, main_value, per = rec
        entries = [(k, a) for k, a, _ in per] + ([("", main_value)] if main_value is not None else [])
        data = any(isinstance(a, _Data) for _, a in entries)
        ok = all(isinstance(a, Table) for _, a in entries) or (
            data and all(isinstance(a, (_Data, float)) for _, a in entries)
        )
        if not ok:
            raise _Unsupported("a variable that is a lookup for some of its elements only")

        def table(a):
            if isinstance(a, float):
                return (0.0,), (a,), None
            if isinstance(a, _Data):
                return a.table.xs, a.table.ys, a.kind
            return a.xs, a.ys, Extrapolation.CONTINUOUS

        tables = [(k, *table(a)) for k, a in entries]
        ex = next((t[3] for t in tables if t[3] is not None), Extrapolation.CONTINUOUS)
        if any(t[3] not in (ex, None) for t in tables):
            raise _Unsupported("lookups with different extrapolation in one variable")
        xs, ys = tables[-1][1:3] if main_value is not None else tables[0][1:3]
        return Lookup(
            name,
            units,
            doc,
            None,
            dims,
            xs=xs,
            ys=ys,
            extrapolation=ex,
            input="time" if data else None,
            tables=tuple((k, x, y) for k, x, y, _ in tables if k),
        )

    def _per_element_stock(self, rec, integs) -> Stock:
        """Build a stock with an INTEG per element (or group of elements), its net flow a hidden per-element flow."""
        name, key, units, doc, dims, main_value, per = rec
        # Vensim lets a level have constant (or data) elements: such an element is a stock that never changes
        for value in [a for _, a, _ in per] + ([main_value] if main_value is not None else []):
            if not (_is_call(value, "INTEG") or isinstance(value, float)):
                raise _Unsupported(
                    "a variable that is a stock for some of its elements and an auxiliary for others"
                )
        for a in integs:
            self._arity(a, 2)

        def net(a, sub=None):
            return self._text(a.args[0], name, sub) if _is_call(a, "INTEG") else "0"

        def initial(a, sub=None):
            return self._text(a.args[1], name, sub) if _is_call(a, "INTEG") else _num(_finite(a))

        flow = f"{name} net flow"
        self.hidden.append(
            Flow(
                flow,
                None,
                f"net flow of {name} (Vensim INTEG)",
                None,
                tuple(dims),
                tuple((k, net(a, sub)) for k, a, sub in per),
                equation=net(main_value) if main_value is not None else "0",
            )
        )
        init = initial(main_value) if main_value is not None else "0"
        return Stock(
            name,
            units,
            doc,
            None,
            dims,
            tuple((k, initial(a, sub)) for k, a, sub in per),
            initial=init,
            inflows=(flow,),
            outflows=(),
        )

    def _split_net(self, node, var, stock, dims=()):
        terms: list[tuple[int, str]] = []

        def collect(root) -> bool:
            # a sum and difference of the stock's flows, walked with a stack: sums can have thousands of terms
            stack = [(root, 1)]
            ok = True
            while stack:
                n, sign = stack.pop()
                if isinstance(n, ast.Unary) and n.op == "-":
                    stack.append((n.operand, -sign))
                    continue
                if isinstance(n, ast.Binary) and n.op in "+-":
                    stack.append((n.right, sign if n.op == "+" else -sign))
                    stack.append((n.left, sign))
                    continue
                subs = None
                if isinstance(n, ast.Subscript) and all(isinstance(i, ast.Name) for i in n.indices):
                    subs = tuple(i.name for i in n.indices if isinstance(i, ast.Name))
                ref = n.name if isinstance(n, ast.Name) else (n.name if subs is not None else None)
                if (
                    ref is not None
                    and ref in self.names
                    and ref not in self.lookups | self.data
                    and (subs or ()) == tuple(dims)
                    and tuple(self.var_dims.get(ref, ())) == tuple(dims)
                ):
                    terms.append((sign, ref))
                else:
                    ok = False
            return ok

        if collect(node) and terms and len({t for _, t in terms}) == len(terms):
            # a flow leaves (or enters) one stock only: a second stock draining the same rate gets a net flow
            if not any(t in self.stock_names or (t, sg) in self.claimed for sg, t in terms):
                for sg, t in terms:
                    self.flows[t] = None
                    self.claimed.add((t, sg))
                return ([t for s, t in terms if s > 0], [t for s, t in terms if s < 0])
        flow = f"{stock} net flow"
        self.hidden.append(
            Flow(
                flow,
                None,
                f"net flow of {stock} (Vensim INTEG)",
                None,
                tuple(dims),
                equation=self._text(node, var),
            )
        )
        return [flow], []

    def _specs(self, m: Model) -> None:
        vals: dict[str, float] = {}
        for key, fld in _CONTROL.items():
            if key not in m:
                continue
            e = m[key]
            if isinstance(e, Constant):
                vals[fld] = e.value
            else:
                ref = canonical(m.equation_text(key) or "")
                if ref in _CONTROL and _CONTROL[ref] in vals:
                    vals[fld] = vals[_CONTROL[ref]]
        tu = m["time_step"].units if "dt" in vals and "time_step" in m and m["time_step"].units else None
        changes: dict[str, Any] = {k: v for k, v in vals.items() if k in ("start", "stop", "dt")}
        if vals.get("saveper") and vals.get("saveper") != vals.get("dt"):
            changes["saveper"] = vals["saveper"]
        if tu:
            changes["time_units"] = tu
        m.set_specs(**changes)

    # ------------------------------------------------------------ expressions
    def _text(self, node, var, subst: dict[str, str] | None = None) -> str:
        out = self._expr(node)
        return to_xmile(self._put_elements(out, subst) if subst else out)

    def _put_elements(self, n: ast.Expr, subst: dict[str, str]) -> ast.Expr:
        """Replace each subrange of ``subst`` by its element: as an index the element, as a value its number."""

        def index(i):
            if isinstance(i, ast.Name) and i.name in subst:
                return ast.Name(subst[i.name])
            if isinstance(i, ast.Name) and self._mapped(i.name, subst) is not None:
                return ast.Name(self._mapped(i.name, subst))
            return self._put_elements(i, subst)

        def pre(x):
            if isinstance(x, ast.Subscript):
                return ast.Subscript(x.name, tuple(index(i) for i in x.indices))
            if isinstance(x, ast.Name) and x.name in subst:
                return ast.Num(float(self.m.dimensions[x.name].index(subst[x.name]) + 1))
            return None

        return ast.transform(n, pre=pre)

    def _expr(self, n) -> ast.Expr:
        """Return the AST of a Vensim expression: bottom-up, without recursion (sums can be thousands long)."""
        return ast.fold(n, self._combine, self._leaf)

    def _leaf(self, n):
        """Convert what needs no converted children (None: convert the children first)."""
        if isinstance(n, float):
            return ast.Num(n) if n >= 0 else ast.Unary("-", ast.Num(-n))
        if isinstance(n, (Table, _Data)):
            raise _Unsupported("a lookup inside an expression")
        if isinstance(n, Text):
            raise _Unsupported("quoted text outside GET XLS/DIRECT")
        if isinstance(n, Outputs):
            raise _Unsupported("outputs named in a call of something other than a macro")
        if isinstance(n, ast.Num):
            if not math.isfinite(n.value):
                raise _Unsupported("infinite constants")
            return n
        if isinstance(n, ast.Name):
            if n.name in self.m.dimensions and n.name not in self.names:
                return self._position(n.name)
            return n
        if isinstance(n, ast.Subscript):
            return n
        if isinstance(n, ast.Call):
            fn = n.func
            if fn == "ELMCOUNT":
                return self._elmcount(n.args)
            if fn == "INTEG":
                raise _Unsupported("INTEG inside a larger expression")
            if fn == "WITH_LOOKUP":
                raise _Unsupported("WITH LOOKUP inside a larger expression")
            if fn.startswith("GET_") and fn.endswith(("_CONSTANTS", "_LOOKUPS", "_DATA")):
                raise _Unsupported(f"{fn.replace('_', ' ')} inside a larger expression")
        return None

    def _combine(self, n, kids: list[ast.Expr]) -> ast.Expr:
        if isinstance(n, ast.Call):
            return self._call(n, kids)
        if isinstance(n, (ast.Unary, ast.Binary, ast.If)):
            return ast.with_children(n, kids)
        raise _Unsupported(type(n).__name__)  # pragma: no cover - the grammar makes no other node

    def _call(self, n: ast.Call, args: list[ast.Expr]) -> ast.Expr:
        """Map one Vensim call, its arguments already converted, to our builtins."""
        fn = n.func
        if fn == "LOOKUP" and args and isinstance(args[0], ast.Subscript) and args[0].name in self.lookups:
            # table[d](x) with d its own ranges: the flattener applies the current element's table;
            # other subscripts (elements, other ranges) pick the table as LOOKUP(table[...], x) does
            table = args[0]
            if len(args) != 2:
                raise _Unsupported(f"lookup {table.name} called with {len(args) - 1} arguments")
            keys = tuple(i.name for i in table.indices if isinstance(i, ast.Name))
            if keys == tuple(self.var_dims.get(table.name, ())):
                return ast.Call(table.name, (args[1],))
            return ast.Call("LOOKUP", (table, args[1]))
        if canonical(fn) in self.lookups:
            if len(args) != 1:
                raise _Unsupported(f"lookup {canonical(fn)} called with {len(args)} arguments")
            return ast.Call(canonical(fn), tuple(args))
        if (
            fn in _VARIANTS
            and len(args) == 2
            and isinstance(args[0], ast.Name)
            and args[0].name in self.lookups
        ):
            copy = self.variants.setdefault((args[0].name, fn), f"{args[0].name} {_VARIANTS[fn][0]}")
            return ast.Call(canonical(copy), (args[1],))
        if fn == "A_FUNCTION_OF":
            raise _Unsupported("A FUNCTION OF (a causal-sketch variable) in a model with equations")
        if fn == "GAME":
            self._arity(n, 1)
            return args[0]
        rewrite = _REWRITES.get(fn)
        if rewrite is not None:
            out = rewrite(self, args)
            if out is None:
                raise _Unsupported(f"{fn.replace('_', ' ')} with {len(args)} arguments")
            return out
        b = lookup_builtin(SAME.get(fn, fn)) if fn.isupper() else None
        if b is None:
            # note it and go on, so that one error lists every unsupported function of the model
            self.unsupported[fn.upper().replace("_", " ")].add(self._current)
            return ast.Num(0.0)
        if len(args) < b.min_args or (b.max_args is not None and len(args) > b.max_args):
            raise _Unsupported(f"{fn.replace('_', ' ')} with {len(args)} arguments")
        return ast.Call(b.name, tuple(args))

    def _lookup_variants(self, built: list) -> list:
        """Return the copies of lookups that LOOKUP EXTRAPOLATE/FORWARD/BACKWARD read another way."""
        tables = {canonical(el.name): el for el in built if isinstance(el, Lookup)}
        out = []
        for (key, fn), name in self.variants.items():
            el = tables.get(key)
            if el is None or el.input is not None or el.dimensions:
                self.unsupported[f"{fn.replace('_', ' ')} of a lookup with an input or subscripts"].add(key)
                continue
            suffix, extrapolation, step = _VARIANTS[fn]
            table = _step_table(Table(el.xs, el.ys), step) if step else Table(el.xs, el.ys)
            out.append(
                Lookup(
                    name,
                    el.units,
                    f"{el.name} read by Vensim {fn.replace('_', ' ')}",
                    None,
                    xs=table.xs,
                    ys=table.ys,
                    extrapolation=extrapolation,
                )
            )
        return out

    def _arity(self, n: ast.Call, k: int) -> None:
        if len(n.args) != k:
            raise _Unsupported(f"{n.func.replace('_', ' ')} with {len(n.args)} arguments")

    def _time_value(self, args: list[ast.Expr]) -> ast.Expr:
        """Vensim ``GET TIME VALUE(relative to, offset, measure)`` in the model's time (measure 0).

        Relative to 0: the current time plus the offset; 1: the initial time
        plus the offset.  The computer's clock (2) and calendar measures are
        not model time and stay unsupported.
        """
        relative, measure = (
            (ast.literal_value(args[0]), ast.literal_value(args[2])) if len(args) == 3 else (None, None)
        )
        if measure == 0:
            base = {0.0: ast.Name("time"), 1.0: ast.Name("starttime")}.get(relative)  # type: ignore[arg-type]
            if base is not None:
                return ast.Binary("+", base, args[1])
        raise _Unsupported("GET TIME VALUE other than of the simulation time (relative to 0 or 1, measure 0)")

    def _elmcount(self, args) -> ast.Expr:
        """Vensim ``ELMCOUNT(range)``: the number of elements of a subscript range, a constant."""
        if len(args) == 1 and isinstance(args[0], ast.Name) and args[0].name in self.m.dimensions:
            return ast.Num(float(len(self.m.dimensions[args[0].name])))
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
            while canonical(name) in self.names or canonical(name) in (
                canonical(h.name) for h in self.hidden
            ):
                name += " 2"
            self.hidden.append(
                Aux(
                    name,
                    None,
                    f"number of each element of {dim} in its main range {min(top)} "
                    "(Vensim's value of a subscript range)",
                    None,
                    (dim,),
                    tuple((e, _num(k)) for e, k in zip(own, numbers)),
                    equation="0",
                )
            )
            self.positions[dim] = canonical(name)
        return ast.Subscript(self.positions[dim], (ast.Name(dim),))


#: Vensim functions reading a lookup another way: the copy's name suffix, its extrapolation, its step rule
_VARIANTS = {
    "LOOKUP_EXTRAPOLATE": ("extrapolated", Extrapolation.EXTRAPOLATE, None),
    "LOOKUP_BACKWARD": ("backward", Extrapolation.DISCRETE, None),
    "LOOKUP_FORWARD": ("forward", Extrapolation.DISCRETE, "look_forward"),
}


def _pulse(self, args):
    # Vensim PULSE(start, width): 1 from start until start + width (at least one DT)
    if len(args) != 2:
        return None
    start, width = args
    end = ast.Binary("+", start, ast.Call("MAX", (width, ast.Name("dt"))))
    half = ast.Binary("+", ast.Name("time"), ast.Binary("/", ast.Name("dt"), ast.Num(2.0)))
    cond = ast.Binary("and", ast.Binary(">=", half, start), ast.Binary("<", half, end))
    return ast.If(cond, ast.Num(1.0), ast.Num(0.0))


def _log(self, args):
    if len(args) == 1:
        return ast.Call("LOG10", tuple(args))
    if len(args) == 2:
        return ast.Binary("/", ast.Call("LN", (args[0],)), ast.Call("LN", (args[1],)))
    return None


def _fixed(f: str, n: int, order: tuple[int, ...]):
    """Return a rewrite passing ``n`` arguments to ``f`` in ``order`` (DELAY1(x, t) is DELAY1(x, t, x))."""

    def rewrite(self, args):
        if len(args) != n:
            return None
        return ast.Call(f, tuple(args[i] for i in order))

    return rewrite


_REWRITES = {
    "IF_THEN_ELSE": lambda self, a: ast.If(*a) if len(a) == 3 else None,
    "SMOOTH": _fixed("SMTH1", 2, (0, 1, 0)),
    "SMOOTHI": _fixed("SMTH1", 3, (0, 1, 2)),
    "SMOOTH3": _fixed("SMTH3", 2, (0, 1, 0)),
    "SMOOTH3I": _fixed("SMTH3", 3, (0, 1, 2)),
    "SMOOTH_N": _fixed("SMTHN", 4, (0, 1, 3, 2)),
    "DELAY1": _fixed("DELAY1", 2, (0, 1, 0)),
    "DELAY1I": _fixed("DELAY1", 3, (0, 1, 2)),
    "DELAY3": _fixed("DELAY3", 2, (0, 1, 0)),
    "DELAY3I": _fixed("DELAY3", 3, (0, 1, 2)),
    # Vensim's own DELAY N (order reduced to fit DT, per-stage delay times), not XMILE's DELAYN
    "DELAY_N": _fixed("DELAY_N", 4, (0, 1, 2, 3)),
    # Vensim evaluates DELAY FIXED's delay time once, at the initial time; XMILE's DELAY reads its
    # delay time every step, so the Vensim call becomes DELAY(input, INIT(delay time), initial)
    "DELAY_FIXED": lambda self, a: (
        ast.Call("DELAY", (a[0], ast.Call("INIT", (a[1],)), a[2])) if len(a) == 3 else None
    ),
    "TREND": _fixed("TREND", 3, (0, 1, 2)),
    "FORECAST": lambda self, a: ast.Call("FORCST", (*a, ast.Num(0.0))) if len(a) == 3 else None,
    "LOG": _log,
    "PULSE": _pulse,
    "GET_TIME_VALUE": lambda self, a: self._time_value(a),
    "ZIDZ": lambda self, a: ast.Call("SAFEDIV", (*a, ast.Num(0.0))) if len(a) == 2 else None,
    "XIDZ": _fixed("SAFEDIV", 3, (0, 1, 2)),
    "RAMP": lambda self, a: ast.Call("RAMP", tuple(a)) if len(a) in (2, 3) else None,
}


def _step_table(t: Table, keyword: str) -> Table:
    """Return the step table (held from each x to the next) of a data variable read :LOOK FORWARD: or :RAW:.

    :LOOK FORWARD: takes, between two data times, the value of the later one;
    :RAW: is the value at each data time and :NA: at every other time.  A
    step table holds each y from its x until the next x, so each data time
    ``x`` gets a second point a hair after it (a millionth of the closest
    spacing of the times), where the next value (look forward) or :NA:
    (raw) starts.
    """
    xs, ys = t.xs, t.ys
    if not xs:
        return t
    gaps = [b - a for a, b in zip(xs, xs[1:]) if b > a]
    eps = (min(gaps) if gaps else max(abs(xs[0]), 1.0)) * 1e-6
    px: list[float] = []
    py: list[float] = []
    if keyword == "raw":
        px.append(xs[0] - eps)
        py.append(NA)
        for x, y in zip(xs, ys):
            px += [x, x + eps]
            py += [y, NA]
    else:
        px.append(xs[0])
        py.append(ys[0])
        for k in range(1, len(xs)):
            px.append(xs[k - 1] + eps)
            py.append(ys[k])
    return Table(tuple(px), tuple(py))


class MissingDataWarning(ModelWarning):
    """A model equation reads a Vensim data variable that has no data in the file (it is :NA:)."""


def _refs_missing(readers: list[str], refs: dict[str, set[str]], missing: set[str]) -> set[str]:
    """Return the missing data variables that the ``readers`` read."""
    out: set[str] = set()
    for r in readers:
        out |= refs[canonical(r)] & missing
    return out


def _names(n: ast.Expr) -> set[str]:
    """Return the variables an expression reads (names, subscripted names and lookups called)."""
    out: set[str] = set()
    for x in _walk(n):
        if isinstance(x, (ast.Name, ast.Subscript)):
            out.add(canonical(x.name))
        elif isinstance(x, ast.Call):
            out.add(canonical(x.func))
    return out


def _uses_function(n, func: str) -> bool:
    return isinstance(n, ast.Expr) and any(_is_call(x, func) for x in _walk(n))


def _is_call(n, func: str) -> bool:
    return isinstance(n, ast.Call) and n.func == func


def _walk(n):
    stack = [n]
    while stack:
        x = stack.pop()
        yield x
        if isinstance(x, ast.Call):
            stack.extend(a for a in x.args if isinstance(a, ast.Expr))
        elif isinstance(x, ast.Expr):
            stack.extend(ast.children(x))


def _excluded(exc) -> set[tuple[str, ...]]:
    """Return the element combinations named by a component's :EXCEPT: lists."""
    out: set[tuple[str, ...]] = set()
    for x in exc:
        out |= set(itertools.product(*(es for _, es in x)))
    return out


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise _Unsupported("infinite constants")
    return v


def _num(v: float) -> str:
    return to_xmile(ast.Num(float(v)) if v >= 0 else ast.Unary("-", ast.Num(-float(v))))


def model_name(path: str) -> str:
    """Return the model's name: its file name without the suffix."""
    return os.path.splitext(os.path.basename(path))[0]
