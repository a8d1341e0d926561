"""Lower a validated :class:`~trafficsys.model.Model` to a flat plan the code generator reads.

Lowering does three things and nothing else:

* stateful builtins (``SMTH1``, ``DELAY3``, ``TREND``, ``PREVIOUS``...) become
  hidden stocks or hidden discrete states, and the call is replaced by an
  ordinary expression over them (``DELAY1(x, d)`` becomes ``s / d`` with a
  hidden stock ``s`` whose derivative is ``x - s / d``);
* every name is resolved (unknown names raise
  :class:`~trafficsys.errors.UnknownVariableError` with a suggestion);
* the equations are put in evaluation order, once for the initial values and
  once for each step (a cycle raises
  :class:`~trafficsys.errors.AlgebraicLoopError` naming every variable on it).

Hidden names contain ``__``, which :func:`~trafficsys.model.names.canonical`
never produces, so they cannot clash with a user's variable.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import cast

import networkx as nx

from .. import limits
from ..errors import AlgebraicLoopError, StructureError, UnknownVariableError, UnsupportedFeatureError
from ..model import ast
from ..model.ast import Binary, Call, If, Name, Num, Subscript, Unary
from ..model.builtins import TABLE_CALLS
from ..model.elements import Aux, Constant, Flow, Lookup, Stock
from ..model.model import Model
from ..model.names import canonical, suggest
from .runtime import RANDOM_BUILTINS

__all__ = ["Node", "Plan", "lower", "const_value"]

#: roles of plan nodes
CONST, AUX, FLOW, STOCK, HSTOCK, DISC, LOOKUPVAR = (
    "const",
    "aux",
    "flow",
    "stock",
    "hstock",
    "disc",
    "lookupvar",
)
#: the input history of a pipeline DELAY (a list, one entry per step)
PIPE = "pipe"
#: roles whose value is known at the start of a step (they break algebraic loops)
STATE_ROLES = frozenset({STOCK, HSTOCK, DISC, PIPE})


@dataclass
class Node:
    """One variable of the lowered model.

    ``expr`` is the equation (aux, flow, lookup variable), the derivative
    (hidden stock) or the next value (discrete state); ``init`` is the initial
    value of stocks and states, and of an auxiliary computed differently while
    the initial values are (Vensim's ACTIVE INITIAL).  ``owner`` is the user variable a hidden node
    was made for (for error messages).
    """

    name: str
    role: str
    expr: ast.Expr | None = None
    init: ast.Expr | None = None
    owner: str = ""
    uniflow: bool = False
    non_negative: bool = False
    inflows: tuple[str, ...] = ()
    outflows: tuple[str, ...] = ()

    @property
    def body(self) -> ast.Expr:
        """``expr``, for a node that has one (every node whose value the generated code computes)."""
        if self.expr is None:
            raise UnsupportedFeatureError(f"'{self.owner or self.name}' has no equation to compute it from")
        return self.expr


@dataclass
class Plan:
    """The lowered model: nodes, tables, and the two evaluation orders."""

    nodes: dict[str, Node]
    tables: dict[str, Lookup]
    init_order: list[str]  #: stocks, states and the auxes they need, for the initial values
    step_order: list[str]  #: auxes, flows and lookup variables, once per step
    states: list[str]  #: user stocks, hidden stocks, discrete states (the integrated state)
    recorded: list[str]  #: user variables saved over time (definition order)
    constants: list[str]
    display: dict[str, str] = field(default_factory=dict)
    #: the model draws random numbers: the generated code reads the run's seed after the constants
    seeded: bool = False
    time_constants: list[tuple[str, float]] = field(default_factory=list)  #: (where, tau) found statically
    structural: dict[str, float] = field(default_factory=dict)  #: constants (and values) the plan depends on

    def deps(self, name: str) -> set[str]:
        """Names the step equation of ``name`` reads."""
        node = self.nodes[name]
        return set() if node.expr is None else _refs(node.expr)


def _refs(e: ast.Expr) -> set[str]:
    out = ast.names(e)
    out |= {c for c in ast.calls(e) if not c.isupper()}
    return out


class _Lowerer:
    def __init__(self, m: Model):
        self.m = m
        self.nodes: dict[str, Node] = {}
        self.tables: dict[str, Lookup] = {}
        self.count = 0
        self.time_constants: list[tuple[str, float]] = []
        self.structural: set[str] = set()  #: constants whose values shaped the plan (SMTHN/DELAYN orders)
        self.draws: dict[str, int] = {}  #: random calls met so far, by owner

    # -- helpers ---------------------------------------------------------
    def hidden(self, owner: str, tag: str) -> str:
        self.count += 1
        return f"{owner}__{tag}{self.count}"

    def const_of(self, e: ast.Expr) -> float | None:
        return const_value(self.m, e)

    def note_tau(self, owner: str, what: str, tau: ast.Expr, order: int = 1) -> None:
        v = self.const_of(tau)
        if v is not None and v > 0:
            self.time_constants.append((f"{what} in '{owner}'", v / order))

    # -- expressions -----------------------------------------------------
    def expr(self, e: ast.Expr, owner: str) -> ast.Expr:
        """Return ``e`` with stateful builtins replaced (one bottom-up pass, no recursion)."""

        def subscript(n: ast.Expr) -> None:
            if isinstance(n, Subscript):
                raise UnsupportedFeatureError(
                    f"arrayed reference '{n.name}[...]': flatten arrayed models to scalar variables "
                    "(one per element) before simulating",
                    variable=owner,
                    file=self.m.file,
                )
            return None

        return ast.fold(e, lambda n, kids: self._node(n, kids, owner), subscript)

    def _node(self, e: ast.Expr, kids: list[ast.Expr], owner: str) -> ast.Expr:
        if not isinstance(e, Call):
            return ast.with_children(e, kids)
        args = tuple(kids)
        f = e.func
        handler = getattr(self, "call_" + f.lower(), None) if f.isupper() else None
        if handler is not None:
            return handler(args, owner)
        if f in RANDOM_BUILTINS:
            return self.random(f, args, owner)
        if f in TABLE_CALLS:
            table = args[0]
            if not isinstance(table, Name):
                raise UnsupportedFeatureError(
                    f"{f}'s first argument must be the name of a graphical function",
                    variable=owner,
                    file=self.m.file,
                )
            if f == "LOOKUP":
                return Call(table.name, args[1:])
            if table.name not in self.m or not isinstance(self.m[table.name], Lookup):
                raise StructureError(
                    f"{f}'s first argument '{table.name}' is not a graphical function",
                    variable=owner,
                    file=self.m.file,
                )
            return Call(f, (Call(table.name, ()), *args[1:]))  # the table itself: a call without argument
        if f in ("SUM", "PROD", "SIZE", "STDDEV") or (f == "MEAN" and len(args) == 1):
            raise UnsupportedFeatureError(
                f"{f} over an array dimension: flatten arrayed models first", variable=owner, file=self.m.file
            )
        return Call(f, args)

    def random(self, f: str, args: tuple[ast.Expr, ...], owner: str) -> ast.Expr:
        """Return a random call with its stream's own seed (0 when not given) and its call site as a number.

        The call site is a hash of the variable's name and the call's rank in
        its equation, so the same variable draws the same numbers in every
        scenario of a run (common random numbers), whatever else changes.
        """
        nargs = RANDOM_BUILTINS[f][1]
        rank = self.draws.get(owner, 0)
        self.draws[owner] = rank + 1
        digest = hashlib.blake2b(f"{owner}#{rank}".encode(), digest_size=8).digest()
        site = float(int.from_bytes(digest, "little") >> 12)  # 52 bits: exact as a double
        seed = args[nargs] if len(args) > nargs else Num(0.0)
        return Call(f, (*args[:nargs], seed, Num(site)))

    # stateful builtins -> hidden stocks ----------------------------------
    def _stock(self, owner, tag, init, deriv_fn):
        name = self.hidden(owner, tag)
        node = Node(name, HSTOCK, None, init, owner)
        self.nodes[name] = node
        node.expr = deriv_fn(Name(name))
        return Name(name)

    def _smooth_chain(self, x, tau, n, init, owner, tag):
        stage_tau = tau if n == 1 else Binary("/", tau, Num(float(n)))
        prev = x
        s = None
        for _ in range(n):
            src = prev
            s = self._stock(
                owner,
                tag,
                init if init is not None else x,
                lambda me, src=src: Binary("/", Binary("-", src, me), stage_tau),
            )
            prev = s
        self.note_tau(owner, tag.upper(), tau, n)
        return s

    def call_smth1(self, a, owner):
        return self._smooth_chain(a[0], a[1], 1, a[2] if len(a) > 2 else None, owner, "smth1_")

    def call_smth3(self, a, owner):
        return self._smooth_chain(a[0], a[1], 3, a[2] if len(a) > 2 else None, owner, "smth3_")

    def call_smthn(self, a, owner):
        n = self._order(a[2], owner, "SMTHN")
        return self._smooth_chain(a[0], a[1], n, a[3] if len(a) > 3 else None, owner, "smthn_")

    def call_smooth_n(self, a, owner):
        """Vensim's ``SMOOTH N(input, delay time, initial value, order)``: SMTHN, arguments reordered."""
        n = self._order(a[3], owner, "SMOOTH_N")
        return self._smooth_chain(a[0], a[1], n, a[2], owner, "smooth_n_")

    def _delay_chain(self, x, d, n, init, owner, tag):
        stage = d if n == 1 else Binary("/", d, Num(float(n)))
        start = init if init is not None else x
        inflow = x
        out = None
        for _ in range(n):
            src = inflow
            s = self._stock(
                owner,
                tag,
                Binary("*", start, stage),
                lambda me, src=src: Binary("-", src, Binary("/", me, stage)),
            )
            out = Binary("/", s, stage)
            inflow = out
        self.note_tau(owner, tag.upper(), d, n)
        return out

    def call_delay1(self, a, owner):
        return self._delay_chain(a[0], a[1], 1, a[2] if len(a) > 2 else None, owner, "delay1_")

    def call_delay3(self, a, owner):
        return self._delay_chain(a[0], a[1], 3, a[2] if len(a) > 2 else None, owner, "delay3_")

    def call_delayn(self, a, owner):
        n = self._order(a[2], owner, "DELAYN")
        return self._delay_chain(a[0], a[1], n, a[3] if len(a) > 3 else None, owner, "delayn_")

    def call_delay_n(self, a, owner):
        """Vensim's ``DELAY N(input, delay time, initial value, order)``.

        Two documented differences from XMILE's DELAYN (Vensim help, "DELAY N"):

        * the order is reduced, once at the start, until ``order * DT`` is no more than the delay
          time (the delay time must then be a constant, else the order stays as written);
        * the output depends only on the delay time of earlier steps.  Each stage keeps the delay time
          of the step its content entered the delay: stage ``j`` (from 0) drains with the delay time
          of ``j`` steps ago, and the output is what the last stage drains, so the delay conserves
          what flows through it.  Checked against Vensim's output for order 2
          (test-models ``tests/delays``); with a constant delay time it is DELAYN exactly.
        """
        x, d, init = a[0], a[1], a[2]
        n = self._order(a[3], owner, "DELAY_N")
        d0 = self.const_of(d)
        if d0 is not None and math.isfinite(d0) and n > 1 and n * self.m.specs.dt > d0:
            self.structural |= _constants_in(self.m, d)  # the plan now depends on the delay time's value
            while n > 1 and n * self.m.specs.dt > d0:
                n -= 1
        nf = Num(float(n))
        taus: list[ast.Expr] = [d]
        for _ in range(1, n):  # the delay time of 1, 2 ... n-1 steps ago (its initial value before)
            name = self.hidden(owner, "delay_n_time_")
            self.nodes[name] = Node(name, DISC, taus[-1], d, owner)
            taus.append(Name(name))
        inflow = x
        out = None
        for tau in taus:
            src = inflow
            s = self._stock(
                owner,
                "delay_n_",
                Binary("/", Binary("*", init, d), nf),
                lambda me, src=src, tau=tau: Binary("-", src, Binary("/", Binary("*", me, nf), tau)),
            )
            out = Binary("/", Binary("*", s, nf), tau)
            inflow = out
        self.note_tau(owner, "DELAY_N", d, n)
        return out

    def _average(self, x, t, init_trend, owner, tag):
        # Vensim/XMILE TREND: the average starts where the initial trend says it was
        init = Binary("/", x, Binary("+", Num(1.0), Binary("*", init_trend, t)))
        s = self._stock(owner, tag, init, lambda me: Binary("/", Binary("-", x, me), t))
        self.note_tau(owner, tag.upper(), t)
        return s

    def call_trend(self, a, owner):
        x, t = a[0], a[1]
        avg = self._average(x, t, a[2] if len(a) > 2 else Num(0.0), owner, "trend_")
        return Call("SAFEDIV", (Binary("-", x, avg), Binary("*", t, Call("ABS", (avg,)))))

    def call_forcst(self, a, owner):
        x, t, h = a[0], a[1], a[2]
        avg = self._average(x, t, a[3] if len(a) > 3 else Num(0.0), owner, "forcst_")
        trend = Call("SAFEDIV", (Binary("-", x, avg), Binary("*", t, Call("ABS", (avg,)))))
        return Binary("*", x, Binary("+", Num(1.0), Binary("*", trend, h)))

    def call_previous(self, a, owner):
        name = self.hidden(owner, "previous_")
        self.nodes[name] = Node(name, DISC, a[0], a[1] if len(a) > 1 else a[0], owner)
        return Name(name)

    def call_sample_if_true(self, a, owner):
        """Vensim's ``SAMPLE IF TRUE(condition, input, initial value)``.

        The input while the condition holds, else the value held since it last
        did (the initial value before that): a discrete state that takes the
        output of each step as its next value.  The variable's own name in the
        condition or the input is that held value (``m = SAMPLE IF TRUE(x < m,
        x, x)`` is a running minimum): what it was before this instant, not an
        equation that needs itself.
        """
        cond, x, init = a
        name = self.hidden(owner, "sample_")

        def held(n: ast.Expr) -> ast.Expr | None:
            return Name(name) if isinstance(n, Name) and n.name == owner else None

        cond, x = ast.transform(cond, pre=held), ast.transform(x, pre=held)
        out = If(cond, x, Name(name))
        self.nodes[name] = Node(name, DISC, out, init, owner)
        return out

    def call_active_initial(self, a, owner):
        """Vensim's ``ACTIVE INITIAL(active, initial)``: a hidden auxiliary with a different initial equation."""
        name = self.hidden(owner, "active_initial_")
        self.nodes[name] = Node(name, AUX, a[0], a[1], owner)
        return Name(name)

    def call_init(self, a, owner):
        name = self.hidden(owner, "init_")
        self.nodes[name] = Node(name, DISC, Name(name), a[0], owner)
        return Name(name)

    def call_delay(self, a, owner):
        # pipeline delay: the input DT*round(delay/DT) ago (halves up, at least one DT), the initial value
        # (default: the input's initial value) before that
        x, d = a[0], a[1]
        hist = self.hidden(owner, "pipe_")
        self.nodes[hist] = Node(hist, PIPE, x, None, owner)
        first = self.hidden(owner, "pipe_init_")
        self.nodes[first] = Node(first, DISC, Name(first), a[2] if len(a) > 2 else x, owner)
        return Call("_PIPE", (Name(hist), d, Name(first)))

    def call_npv(self, a, owner):
        """Vensim's ``NPV(stream, discount rate, initial value, factor)``.

        A discount factor starting at 1 and falling by ``1 / (1 + rate * DT)``
        each step, the discounted stream accumulated from the initial value,
        and the current step's discounted stream added (Vensim's reported value
        "includes the current activity": ``NPV(income, r, 0, 1)`` starts at
        ``income * TIME STEP``), the whole times the factor.
        """
        stream, rate, init, factor = a
        dt = Name("dt")
        df = self._stock(
            owner,
            "npv_discount_",
            Num(1.0),
            lambda me: Unary(
                "-", Binary("/", Binary("*", me, rate), Binary("+", Num(1.0), Binary("*", rate, dt)))
            ),
        )
        total = self._stock(owner, "npv_total_", init, lambda me: Binary("*", stream, df))
        return Binary("*", Binary("+", total, Binary("*", Binary("*", stream, dt), df)), factor)

    def call_delay_material(self, a, owner):
        """Vensim's ``DELAY MATERIAL(input, delay time, initial value, missing value)``.

        Two histories, of the input and of the delay time, read by
        :func:`~trafficsys.engine.runtime._s_pipe_material`.
        """
        x, d, init, missing = a
        hx = self.hidden(owner, "pipe_")
        self.nodes[hx] = Node(hx, PIPE, x, None, owner)
        hd = self.hidden(owner, "pipe_time_")
        self.nodes[hd] = Node(hd, PIPE, d, None, owner)
        return Call("_PIPEMAT", (Name(hx), Name(hd), init, missing))

    def call_delay_fixed(self, a, owner):
        """Vensim's ``DELAY FIXED(input, delay time, initial value)``: the delay time is read at the start only."""
        return self.call_delay((a[0], self.call_init((a[1],), owner), a[2]), owner)

    def _order(self, e, owner, fn) -> int:
        self.structural |= _constants_in(self.m, e)
        v = self.const_of(e)
        if v is None or not math.isfinite(v) or v < 1:
            raise UnsupportedFeatureError(
                f"{fn}'s order must be a constant number of at least 1 (a literal or a constant); "
                "the engine builds that many hidden stocks once",
                variable=owner,
                file=self.m.file,
            )
        limits.check(
            "delay_order",
            round(v),
            f"the {fn}",
            "use a lower order (a higher one changes little beyond a few dozen stages)",
            file=self.m.file,
            variable=owner,
        )
        return int(round(v))


def _constants_in(m: Model, e: ast.Expr, _depth: int = 0) -> set[str]:
    """Constants ``e`` reads, directly or through auxiliaries."""
    out: set[str] = set()
    if _depth > 50:
        return out
    for n in ast.names(e):
        if n in m:
            el = m[n]
            if isinstance(el, Constant):
                out.add(n)
            elif isinstance(el, Aux):
                t = m.ast(n)
                if t is not None:
                    out |= _constants_in(m, t, _depth + 1)
    return out


def const_value(m: Model, e: ast.Expr, _depth: int = 0) -> float | None:
    """Return the value of ``e`` if it only involves numbers and constants (at the start time), else None."""
    if _depth > 50:
        return None
    if isinstance(e, Num):
        return float(e.value)
    if isinstance(e, Name):
        if e.name == "pi" and e.name not in m:
            return math.pi
        if e.name in ("starttime", "time"):
            return m.specs.start
        if e.name == "dt":
            return m.specs.dt
        if e.name == "stoptime":
            return m.specs.stop
        if e.name in m:
            el = m[e.name]
            if isinstance(el, Constant):
                return el.value
            if isinstance(el, Aux):
                t = m.ast(e.name)
                return None if t is None else const_value(m, t, _depth + 1)
        return None
    if isinstance(e, Unary) and e.op in ("-", "+"):
        v = const_value(m, e.operand, _depth + 1)
        return None if v is None else (-v if e.op == "-" else v)
    if isinstance(e, Binary) and e.op in ("+", "-", "*", "/"):
        a, b = const_value(m, e.left, _depth + 1), const_value(m, e.right, _depth + 1)
        if a is None or b is None:
            return None
        try:
            return {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else math.inf}[e.op]
        except OverflowError:
            return None
    if isinstance(e, Call) and e.func in ("MIN", "MAX") and len(e.args) > 1:  # an order written MAX(1, n)
        vals = [const_value(m, x, _depth + 1) for x in e.args]
        if any(v is None for v in vals):
            return None
        return (min if e.func == "MIN" else max)(vals)  # type: ignore[type-var]
    if isinstance(e, Call) and e.func == "STEP" and len(e.args) == 2:
        h, s = (const_value(m, x, _depth + 1) for x in e.args)
        if h is None or s is None:
            return None
        return h if m.specs.start >= s else 0.0
    return None


def lower(m: Model) -> Plan:
    """Lower ``m`` to a :class:`Plan` (see the module docstring)."""
    lo = _Lowerer(m)
    recorded: list[str] = []
    constants: list[str] = []
    display: dict[str, str] = {}
    flows_of: dict[str, list[tuple[str, str]]] = {}
    for e in m:
        key = canonical(e.name)
        display[key] = e.name
        if isinstance(e, Constant):
            lo.nodes[key] = Node(key, CONST, owner=key)
            constants.append(key)
            continue
        if isinstance(e, Lookup):
            lo.tables[key] = e
            if len(e.xs) == 0 or any(b < a for a, b in zip(e.xs, e.xs[1:])):
                raise StructureError(
                    "a graphical function needs at least one point, with x increasing; sort its points by x",
                    variable=e.name,
                    file=m.file,
                )
            if not all(math.isfinite(v) for v in (*e.xs, *e.ys)):
                raise StructureError(
                    "a graphical function's points must be finite numbers (no NaN or infinity)",
                    variable=e.name,
                    file=m.file,
                )
            if e.input is None:
                continue
            tree = m.ast(key)
            if tree is None:  # (a lookup with an input always has its expression)
                continue
            lo.nodes[key] = Node(key, LOOKUPVAR, Call(key, (lo.expr(tree, key),)), owner=key)
            recorded.append(key)
            continue
        tree = m.ast(key)
        assert tree is not None
        if isinstance(e, Stock):
            ins = tuple(canonical(f) for f in e.inflows)
            outs = tuple(canonical(f) for f in e.outflows)
            lo.nodes[key] = Node(
                key,
                STOCK,
                None,
                lo.expr(tree, key),
                key,
                non_negative=e.non_negative,
                inflows=ins,
                outflows=outs,
            )
            for f in ins:
                flows_of.setdefault(f, []).append((key, "in"))
            for f in outs:
                flows_of.setdefault(f, []).append((key, "out"))
        elif isinstance(e, Flow):
            lo.nodes[key] = Node(key, FLOW, lo.expr(tree, key), owner=key, uniflow=e.non_negative)
        else:
            lo.nodes[key] = Node(key, AUX, lo.expr(tree, key), owner=key)
        recorded.append(key)

    nodes = lo.nodes
    for f, ends in flows_of.items():
        if f not in nodes or nodes[f].role != FLOW:
            what = "is not defined" if f not in nodes and f not in lo.tables else "is not a flow"
            stock = ends[0][0]
            raise StructureError(
                f"'{f}' is listed as an {ends[0][1]}flow of stock '{display[stock]}' but "
                f"{what}; define it with m.flow(...)",
                variable=display[stock],
                file=m.file,
            )
        for d in ("in", "out"):
            if sum(1 for _, dd in ends if dd == d) > 1:
                raise StructureError(
                    f"flow '{display[f]}' is an {d}flow of more than one stock; a flow "
                    "moves material from one stock to one other",
                    variable=display[f],
                    file=m.file,
                )

    # name resolution
    for node in list(nodes.values()):
        for ex in (node.expr, node.init):
            if ex is None:
                continue
            for ref in ast.names(ex):
                if ref not in nodes and not (ref == "pi" and "pi" not in m):
                    _unknown(m, ref, node.owner, display, nodes, lo.tables)
            for c in ast.calls(ex):
                if not c.isupper() and c not in lo.tables:
                    _unknown(m, c, node.owner, display, nodes, lo.tables)
            for ref in ast.names(ex):
                if ref in lo.tables and ref not in nodes:
                    raise StructureError(
                        f"'{display.get(ref, ref)}' is a graphical function: call it, "
                        f"{display.get(ref, ref)}(x)",
                        variable=display.get(node.owner),
                        file=m.file,
                    )

    states = [n for n, v in nodes.items() if v.role in STATE_ROLES]
    step_order = _order(m, nodes, display, init=False)
    init_order = _order(m, nodes, display, init=True)
    _flow_time_constants(m, nodes, lo)
    structural = {c: float(cast(Constant, m[c]).value) for c in sorted(lo.structural)}
    return Plan(
        nodes,
        lo.tables,
        init_order,
        step_order,
        states,
        recorded,
        constants,
        display,
        bool(lo.draws),
        lo.time_constants,
        structural,
    )


def _unknown(m, ref, owner, display, nodes, tables):
    hint = suggest(ref, list(nodes) + list(tables))
    raise UnknownVariableError(
        f"the equation uses '{ref}', which the model does not define{hint}",
        variable=display.get(owner, owner),
        file=m.file,
    )


def _order(m: Model, nodes: dict[str, Node], display, *, init: bool) -> list[str]:
    g = nx.DiGraph()
    for name, node in nodes.items():
        if node.role == CONST:
            continue
        if init:
            e = node.init if node.role in STATE_ROLES or node.init is not None else node.expr
        else:
            if node.role in STATE_ROLES:
                continue
            e = node.expr
        g.add_node(name)
        for d in _refs(e) if e is not None else ():
            dn = nodes.get(d)
            if dn is None or dn.role == CONST or (not init and dn.role in STATE_ROLES):
                continue
            if d == name and node.role == LOOKUPVAR:
                continue  # a graphical function applying its own table: a table call, not a loop
            g.add_edge(d, name)
    try:
        pos = {k: i for i, k in enumerate(nodes)}  # stable, definition-ordered tie-break
        order = list(nx.lexicographical_topological_sort(g, key=lambda n: f"{pos[n]:09d}"))
    except nx.NetworkXUnfeasible:
        cycle = [u for u, _ in nx.find_cycle(g)]
        owners = []
        for c in cycle:
            o = display.get(nodes[c].owner, nodes[c].owner)
            if o not in owners:
                owners.append(o)
        what = "initial values" if init else "equations"
        raise AlgebraicLoopError(
            f"the {what} of {' -> '.join(owners)} -> {owners[0]} depend on each other with no stock or "
            "delay in between (a simultaneous equation); put a stock, SMTH1 or DELAY1 on the loop, or "
            "compute one of them from the others' values",
            cycle=owners,
            file=m.file,
        ) from None
    return order


def _flow_time_constants(m: Model, nodes: dict[str, Node], lo: _Lowerer) -> None:
    """Outflows written as ``stock / tau`` or ``stock * k`` have a first-order time constant."""
    for s in nodes.values():
        if s.role != STOCK:
            continue
        for f in s.outflows:
            e = nodes[f].expr
            if not isinstance(e, Binary):
                continue
            if e.op == "/" and isinstance(e.left, Name) and e.left.name == s.name:
                tau = const_value(m, e.right)
            elif e.op == "*" and isinstance(e.left, Name) and e.left.name == s.name:
                k = const_value(m, e.right)
                tau = 1 / k if k else None
            elif e.op == "*" and isinstance(e.right, Name) and e.right.name == s.name:
                k = const_value(m, e.left)
                tau = 1 / k if k else None
            else:
                tau = None
            if tau is not None and tau > 0:
                lo.time_constants.append((f"outflow '{f}' of '{s.name}'", tau))
