"""The :class:`Model`: a mutable builder over frozen elements."""

from __future__ import annotations

import copy as _copy
import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # networkx loads on first use of graph(): `import trafficsys` stays quick
    import networkx as nx

from .. import limits
from ..errors import (
    DuplicateVariableError,
    InvalidNameError,
    ModelError,
    StructureError,
    UnknownVariableError,
)
from . import ast
from .elements import (
    Aux,
    Constant,
    Distribution,
    Element,
    Extrapolation,
    Flow,
    Kind,
    Link,
    Lookup,
    NamedLoop,
    Scenario,
    Sector,
    Stock,
)
from .names import canonical, name_problem, suggest
from .parser import parse

__all__ = ["Model", "SimSpecs"]

#: any element type: ``Model.add`` returns what it was given
E = TypeVar("E", bound=Element)


@dataclasses.dataclass(frozen=True)
class SimSpecs:
    """Time settings: ``start``, ``stop``, step ``dt``, save period ``saveper``, ``method``."""

    start: float = 0.0
    stop: float = 100.0
    dt: float = 1.0
    saveper: float | None = None
    method: str = "euler"
    time_units: str = "time"

    @property
    def save_every(self) -> float:
        """The save period (``dt`` when not set)."""
        return self.dt if self.saveper is None else self.saveper


class Model:
    """A stock-flow model (or a hand-drawn CLD: links and no equations).

    Parameters
    ----------
    name
        The model's name.
    start, stop, dt, saveper
        Simulation times; ``saveper`` defaults to ``dt``.
    method
        Default integration method (``"euler"`` or ``"rk4"``).
    time_units
        The unit of time (``"year"``...), used by the units check.
    doc
        Free text.

    Examples
    --------
    >>> m = Model("decay", stop=10, dt=0.25, time_units="year")
    >>> _ = m.constant("k", 0.1, units="1/year", range=(0.05, 0.2))
    >>> _ = m.stock("x", initial=100, outflows=["loss"], units="person")
    >>> _ = m.flow("loss", "k * x", units="person/year")
    >>> sorted(m.names())
    ['k', 'loss', 'x']
    """

    def __init__(
        self,
        name: str = "model",
        *,
        start: float = 0.0,
        stop: float = 100.0,
        dt: float = 1.0,
        saveper: float | None = None,
        method: str = "euler",
        time_units: str = "time",
        doc: str = "",
    ):
        self.name = name
        self.doc = doc
        self.specs = SimSpecs(
            float(start),
            float(stop),
            float(dt),
            None if saveper is None else float(saveper),
            method,
            time_units,
        )
        self.file: str | None = None
        self._elements: dict[str, Element] = {}
        self.scenarios: dict[str, Scenario] = {}
        self.loops: dict[str, NamedLoop] = {}
        #: named parts of the model (``[sectors.NAME]``): a variable is in at most one
        self.sectors: dict[str, Sector] = {}
        self.links: list[Link] = []
        self.cld_variables: dict[str, dict[str, Any]] = {}  #: docs/roles of CLD-only variables
        self.metadata: dict[str, Any] = {}  #: free-form extra data kept on round trip (views...)
        #: array dimensions: name -> element names (see :mod:`trafficsys.model.arrays`)
        self.dimensions: dict[str, tuple[str, ...]] = {}
        self._ast_cache: dict[tuple[str, str], ast.Expr] = {}

    # ------------------------------------------------------------------ specs
    @property
    def start(self) -> float:
        return self.specs.start

    @property
    def stop(self) -> float:
        return self.specs.stop

    @property
    def dt(self) -> float:
        return self.specs.dt

    @property
    def time_units(self) -> str:
        return self.specs.time_units

    def set_specs(self, **changes: Any) -> None:
        """Change time settings, e.g. ``m.set_specs(stop=60)``."""
        self.specs = dataclasses.replace(self.specs, **changes)

    # --------------------------------------------------------------- building
    def add(self, element: E, *, replace: bool = False) -> E:
        """Add an element; a duplicate (normalised) name raises unless ``replace``."""
        if isinstance(element.name, str) and "\\n" in element.name:
            # Stella's line break in a name (Vensim files carry it too): equations read it as a space
            element = dataclasses.replace(element, name=element.name.replace("\\n", " "))
        problem = name_problem(element.name)
        if problem is not None:
            name = element.name if isinstance(element.name, str) else None
            if name is not None and not name.isprintable():  # keep the message on one readable line
                name = name.encode("unicode_escape").decode("ascii")
            raise InvalidNameError(problem, file=self.file, variable=name)
        if isinstance(element, Lookup):
            _check_points(element, self.file)
        key = canonical(element.name)
        if key in self._elements and not replace:
            raise DuplicateVariableError(
                f"'{element.name}' is defined twice (names ignore case, spaces and underscores: "
                f"it clashes with '{self._elements[key].name}'); rename one of them",
                file=self.file,
                variable=element.name,
            )
        if key not in self._elements:
            limits.check(
                "variables",
                len(self._elements) + 1,
                "the model",
                "split it into smaller models",
                file=self.file,
                variable=element.name,
            )
        if isinstance(element, Lookup):
            for points in (len(element.xs), *(len(t[1]) for t in element.tables)):
                limits.check(
                    "lookup_points",
                    points,
                    "the graphical function",
                    "use fewer points",
                    file=self.file,
                    variable=element.name,
                )
        self._elements[key] = element
        self._ast_cache = {k: v for k, v in self._ast_cache.items() if k[0] != key}
        return element

    def remove(self, name: str) -> Element:
        """Remove and return the element called ``name``."""
        key = self._key(name)
        self._ast_cache = {k: v for k, v in self._ast_cache.items() if k[0] != key}
        return self._elements.pop(key)

    def constant(
        self,
        name: str,
        value: float,
        *,
        range: Sequence[float] | None = None,
        distribution: Distribution | str | Mapping | None = None,
        units: str | None = None,
        source: str = "",
        doc: str = "",
        role: str | None = None,
    ) -> Constant:
        """Add a constant (see :class:`~trafficsys.model.elements.Constant`)."""
        rng = None if range is None else (float(range[0]), float(range[1]))
        return self.add(
            Constant(
                name,
                units,
                doc,
                role,
                value=float(value),
                range=rng,
                distribution=Distribution.from_value(distribution),
                source=source,
            )
        )  # type: ignore[arg-type]

    def stock(
        self,
        name: str,
        initial: float | str = 0,
        *,
        inflows: Iterable[str] = (),
        outflows: Iterable[str] = (),
        units: str | None = None,
        non_negative: bool = False,
        doc: str = "",
        role: str | None = None,
    ) -> Stock:
        """Add a stock; ``initial`` may be a number or an equation."""
        return self.add(
            Stock(
                name,
                units,
                doc,
                role,
                initial=_eqn(initial),
                inflows=tuple(inflows),
                outflows=tuple(outflows),
                non_negative=bool(non_negative),
            )
        )

    def flow(
        self,
        name: str,
        equation: float | str,
        *,
        units: str | None = None,
        non_negative: bool = False,
        doc: str = "",
        role: str | None = None,
    ) -> Flow:
        """Add a flow; attach it to stocks through their ``inflows``/``outflows``."""
        return self.add(
            Flow(name, units, doc, role, equation=_eqn(equation), non_negative=bool(non_negative))
        )

    def aux(
        self,
        name: str,
        equation: float | str,
        *,
        units: str | None = None,
        doc: str = "",
        role: str | None = None,
    ) -> Aux:
        """Add an auxiliary."""
        return self.add(Aux(name, units, doc, role, equation=_eqn(equation)))

    def lookup(
        self,
        name: str,
        points: Sequence[Sequence[float]],
        *,
        extrapolation: Extrapolation | str = Extrapolation.CONTINUOUS,
        input: str | None = None,
        units: str | None = None,
        doc: str = "",
        role: str | None = None,
    ) -> Lookup:
        """Add a graphical function from ``[(x, y), ...]`` points (x increasing)."""
        pts = [(float(x), float(y)) for x, y in points]
        xs = tuple(p[0] for p in pts)
        ys = tuple(p[1] for p in pts)
        return self.add(
            Lookup(
                name, units, doc, role, xs=xs, ys=ys, extrapolation=Extrapolation(extrapolation), input=input
            )
        )

    def dimension(self, name: str, elements: Sequence[str] | int) -> tuple[str, ...]:
        """Declare an array dimension: its element names, or a size ``n`` (elements ``1..n``)."""
        if isinstance(elements, int):
            limits.check(
                "array_elements", elements, f"dimension '{name}'", "use a smaller dimension", file=self.file
            )
            elems = tuple(str(i) for i in range(1, elements + 1))
        else:
            elems = tuple(canonical(str(e)) for e in elements)
            limits.check(
                "array_elements", len(elems), f"dimension '{name}'", "use a smaller dimension", file=self.file
            )
        if not elems:
            raise ModelError(f"dimension '{name}' has no elements; list at least one", file=self.file)
        self.dimensions[canonical(name)] = elems
        return elems

    def scenario(self, name: str, set: Mapping[str, float | str] | None = None, *, doc: str = "") -> Scenario:
        """Declare a named scenario: overrides of constants (numbers, or equations over time)."""
        items = tuple((k, v if isinstance(v, str) else float(v)) for k, v in (set or {}).items())
        sc = Scenario(name, items, doc)
        self.scenarios[name] = sc
        return sc

    def loop(
        self, name: str, variables: Sequence[str], *, polarity: str | None = None, doc: str = ""
    ) -> NamedLoop:
        """Name a feedback loop (variables in causal order)."""
        nl = NamedLoop(name, tuple(canonical(v) for v in variables), polarity, doc)
        self.loops[name] = nl
        return nl

    def sector(self, name: str, variables: Sequence[str], *, doc: str = "") -> Sector:
        """Name a part of the model (a sector), to draw or read it on its own (``m.plot_stock_flow(sector=...)``)."""
        sc = Sector(name, tuple(canonical(v) for v in variables), doc)
        self.sectors[name] = sc
        return sc

    def sector_of(self, variable: str) -> str | None:
        """Return the name of the sector that lists ``variable`` (None when no sector does)."""
        key = canonical(variable)
        for sc in self.sectors.values():
            if key in sc.variables:
                return sc.name
        return None

    def link(
        self,
        source: str,
        target: str,
        polarity: str = "+",
        *,
        delay: bool = False,
        note: str = "",
        strength: float | None = None,
    ) -> Link:
        """Add a hand-drawn causal link (for CLD-only models)."""
        if polarity not in ("+", "-", "?"):
            raise ModelError(
                f"link {source} -> {target}: polarity must be '+', '-' or '?', got {polarity!r}",
                file=self.file,
            )
        lk = Link(canonical(source), canonical(target), polarity, delay, note, strength)
        self.links.append(lk)
        return lk

    # ---------------------------------------------------------------- reading
    def _key(self, name: str) -> str:
        key = canonical(name)
        if key not in self._elements:
            hint = suggest(key, self._elements)
            raise UnknownVariableError(f"no variable '{name}'{hint}", file=self.file, variable=name)
        return key

    def __getitem__(self, name: str) -> Element:
        return self._elements[self._key(name)]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and canonical(name) in self._elements

    def __iter__(self) -> Iterator[Element]:
        return iter(self._elements.values())

    def __len__(self) -> int:
        return len(self._elements)

    def names(self, kind: Kind | None = None) -> list[str]:
        """Canonical names, in definition order, optionally of one kind."""
        return [k for k, e in self._elements.items() if kind is None or e.kind is kind]

    def elements(self, kind: Kind | None = None) -> list[Element]:
        """Elements in definition order, optionally of one kind."""
        return [e for e in self._elements.values() if kind is None or e.kind is kind]

    @property
    def stocks(self) -> list[Stock]:
        return self.elements(Kind.STOCK)  # type: ignore[return-value]

    @property
    def constants(self) -> list[Constant]:
        return self.elements(Kind.CONSTANT)  # type: ignore[return-value]

    def equation_text(self, name: str) -> str | None:
        """Return the equation text of a variable (a stock's initial value; None for tables without input)."""
        e = self[name]
        if isinstance(e, Stock):
            return e.initial
        if isinstance(e, (Flow, Aux)):
            return e.equation
        if isinstance(e, Constant):
            return repr(e.value)
        if isinstance(e, Lookup):
            return e.input
        return None

    def ast(self, name: str) -> ast.Expr | None:
        """Return the parsed equation of a variable (for a stock, its initial value), cached."""
        key = self._key(name)
        text = self.equation_text(key)
        if text is None:
            return None
        ck = (key, text)
        cached = self._ast_cache.get(ck)
        if cached is None:
            cached = parse(text, variable=self._elements[key].name, file=self.file)
            self._ast_cache[ck] = cached
        return cached

    def dependencies(self, name: str) -> set[str]:
        """Canonical names the variable's equation refers to (lookup tables called included)."""
        e = self[name]
        if isinstance(e, Constant):
            return set()
        tree = self.ast(name)
        deps: set[str] = set()
        if tree is not None:
            deps |= ast.names(tree)
            deps |= {c for c in ast.calls(tree) if not c.isupper()}
        if isinstance(e, Lookup) and e.input is not None:
            pass
        return deps

    def graph(self) -> nx.DiGraph:
        """Return the dependency graph: an edge ``a -> b`` when ``b``'s equation uses ``a``.

        Flows point to the stocks they fill or drain (edge attribute ``via`` is
        ``"inflow"`` or ``"outflow"``); equation edges have ``via="equation"``
        (``"initial"`` for a stock's initial value, which does not take part in
        feedback).  Node attribute ``kind`` holds the :class:`Kind`.
        """
        import networkx as nx

        g = nx.DiGraph()
        for key, e in self._elements.items():
            g.add_node(key, kind=e.kind, element=e)
        for key, e in self._elements.items():
            if isinstance(e, Stock):
                for f in e.inflows:
                    g.add_edge(canonical(f), key, via="inflow")
                for f in e.outflows:
                    g.add_edge(canonical(f), key, via="outflow")
                for d in self.dependencies(key):
                    if not g.has_edge(d, key):
                        g.add_edge(d, key, via="initial")
            else:
                for d in self.dependencies(key):
                    g.add_edge(d, key, via="equation")
        return g

    # ------------------------------------------------------------- operations
    def validate(self, *, units: bool = True) -> list[str]:
        """Check the model; raise the first error found, return a list of warnings.

        See :func:`trafficsys.model.validate.validate`.
        """
        from .validate import validate

        return validate(self, units=units)

    def with_scenario(self, scenario: str | Scenario | Mapping[str, float | str] | None) -> Model:
        """Return a copy of the model with a scenario's overrides applied.

        A number replaces a constant's value; equation text turns the constant
        into an auxiliary with that equation (a time-varying policy).
        """
        if scenario is None:
            return self
        if isinstance(scenario, str):
            if scenario not in self.scenarios:
                raise ModelError(
                    f"no scenario '{scenario}'{suggest(scenario, self.scenarios)}; "
                    f"defined: {', '.join(self.scenarios) or 'none'}",
                    file=self.file,
                )
            overrides = self.scenarios[scenario].overrides
        elif isinstance(scenario, Scenario):
            overrides = scenario.overrides
        elif isinstance(scenario, Mapping):
            overrides = dict(scenario)
        else:
            raise TypeError(
                f"scenario must be a scenario name, a Scenario or a mapping of name -> value, "
                f"got {type(scenario).__name__}"
            )
        m = self.copy()
        for name, value in overrides.items():
            e = m[name]
            if isinstance(value, str):
                m.add(Aux(e.name, e.units, e.doc, e.role, equation=value), replace=True)
            elif isinstance(e, Constant):
                m.add(dataclasses.replace(e, value=float(value)), replace=True)
            else:
                m.add(Aux(e.name, e.units, e.doc, e.role, equation=repr(float(value))), replace=True)
        return m

    def copy(self) -> Model:
        """Return a copy sharing the frozen elements."""
        m = _copy.copy(self)
        m._elements = dict(self._elements)
        m.scenarios = dict(self.scenarios)
        m.loops = dict(self.loops)
        m.sectors = dict(self.sectors)
        m.links = list(self.links)
        m.cld_variables = _copy.deepcopy(self.cld_variables)
        m.metadata = _copy.deepcopy(self.metadata)
        m.dimensions = dict(getattr(self, "dimensions", {}))
        m._ast_cache = dict(self._ast_cache)
        return m

    def plot_stock_flow(self, ax: Any = None, **kwargs: Any) -> Any:
        """Draw the stock-flow diagram and return the Axes: see :func:`trafficsys.plot.stock_flow.plot_stock_flow`.

        ``m.plot_stock_flow(sector="police")`` draws one sector of a big model.
        The drawing code (and matplotlib) is imported only when called.
        """
        from ..plot.stock_flow import plot_stock_flow

        return plot_stock_flow(self, ax, **kwargs)

    def with_elements(self, elements: Iterable[Element] = ()) -> Model:
        """Return a copy of this model (run settings, scenarios, loops, links, metadata) holding ``elements``.

        The front door for transforming a model (renaming, flattening arrays,
        reordering): every element goes through :meth:`add`, so names are
        checked and a duplicate raises.  The model itself is not changed.

        Examples
        --------
        >>> m = Model("m"); _ = m.constant("b", 1); _ = m.constant("a", 2)
        >>> [e.name for e in m.with_elements(sorted(m, key=lambda e: e.name))]
        ['a', 'b']
        """
        out = self.copy()
        out._elements = {}
        out._ast_cache = {}
        for e in elements:
            out.add(e)
        return out

    def cld(self, **kwargs: Any):
        """Return the causal-loop diagram of this model (hand-drawn links, or inferred from equations)."""
        from ..cld import from_model

        return from_model(self, **kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return (
            self.name == other.name
            and self.doc == other.doc
            and self.specs == other.specs
            and list(self._elements.items()) == list(other._elements.items())
            and self.scenarios == other.scenarios
            and self.loops == other.loops
            and self.sectors == other.sectors
            and self.links == other.links
            and self.cld_variables == other.cld_variables
            and getattr(self, "dimensions", {}) == getattr(other, "dimensions", {})
        )

    __hash__ = None  # type: ignore[assignment]

    def to_pandas(self, kind: Kind | str | None = None):
        """One row per variable: name, kind, equation or value, units, range, source, role, doc.

        ``kind`` (``"constant"``, ``Kind.STOCK``...) keeps one kind; with
        ``kind="constant"`` this is the model's sources table.
        """
        import pandas as pd

        k = Kind(kind) if isinstance(kind, str) else kind
        rows = []
        for e in self.elements(k):
            rng = getattr(e, "range", None)
            rows.append(
                {
                    "name": e.name,
                    "kind": e.kind.value,
                    "equation": self.equation_text(e.name) or "",
                    "units": e.units or "",
                    "range": f"{rng[0]:,g} to {rng[1]:,g}" if rng else "",
                    "source": getattr(e, "source", "") or "",
                    "role": e.role or "",
                    "doc": e.doc,
                }
            )
        return pd.DataFrame(
            rows, columns=["name", "kind", "equation", "units", "range", "source", "role", "doc"]
        ).set_index("name")

    def _repr_html_(self) -> str:
        import html

        e = html.escape
        consts = self.constants
        sourced = sum(1 for c in consts if getattr(c, "source", ""))
        assumed = sum(1 for c in consts if (getattr(c, "source", "") or "").lower().startswith("assumption"))
        stocks = "".join(
            f"<tr><td>{e(s.name)}</td><td>{e(s.units or '')}</td><td>{e(_clip(s.doc, 90))}</td></tr>"
            for s in self.stocks[:8]
        )
        more = f"<p>... and {len(self.stocks) - 8} more stocks</p>" if len(self.stocks) > 8 else ""
        scen = ", ".join(e(s) for s in list(self.scenarios)[:10]) + (
            " ..." if len(self.scenarios) > 10 else ""
        )
        loops = ", ".join(e(n) for n in list(self.loops)[:12]) + (" ..." if len(self.loops) > 12 else "")
        return (
            f"<div><p><b>{e(repr(self))}</b> ({e(self.time_units)})</p>"
            f"<p>{len(consts)} constants: {sourced} with a source ({assumed} of them assumptions)"
            + (f"; scenarios: {scen}" if scen else "")
            + (f"; named loops: {loops}" if loops else "")
            + "</p>"
            + (
                f"<table><thead><tr><th>stock</th><th>units</th><th>doc</th></tr></thead><tbody>{stocks}"
                f"</tbody></table>{more}"
                if stocks
                else ""
            )
            + "<p>Everything: <code>m.to_pandas()</code> (one row per variable), "
            "<code>m.to_pandas('constant')</code> (the sources table), <code>m.cld()</code>, "
            "<code>trafficsys report</code>.</p></div>"
        )

    def __repr__(self) -> str:
        counts = {k.value: len(self.names(k)) for k in Kind if self.names(k)}
        parts = ", ".join(f"{v} {k}{'s' if v != 1 else ''}" for k, v in counts.items())
        return f"<Model {self.name!r}: {parts or 'empty'}; t={self.start:g}..{self.stop:g} dt={self.dt:g}>"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _eqn(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    v = float(value)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _check_points(table: Lookup, file: str | None) -> None:
    """Refuse a graphical function with a NaN or infinite point (per-element tables included)."""
    tables = [("", table.xs, table.ys), *((f"[{k}] ", xs, ys) for k, xs, ys in table.tables)]
    for where, xs, ys in tables:
        for i, (x, y) in enumerate(zip(xs, ys)):
            if not (math.isfinite(x) and math.isfinite(y)):
                raise StructureError(
                    f"graphical function {where}point {i + 1} is ({x}, {y}); its points must be finite "
                    "numbers (no NaN or infinity): fix the table",
                    file=file,
                    variable=table.name,
                )
