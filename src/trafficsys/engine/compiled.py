"""The compiled form of a model: generated step loops plus what is needed to run them.

:func:`compile_model` lowers the model (:mod:`~trafficsys.engine.lower`),
generates the time loop for each integration method on first use
(:mod:`~trafficsys.engine.codegen`), and caches the result per model
*structure*: constants are inputs of the compiled code, so changing a
constant's value (a scenario, a Monte Carlo sample) reuses it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ModelError, UnsupportedFeatureError
from ..model import ast
from ..model.elements import Constant
from ..model.model import Model
from ..model.names import canonical, suggest
from .codegen import Emitter, accumulated, generate, helpers
from .lower import AUX, FLOW, LOOKUPVAR, STOCK, Plan, lower
from .methods import Method, get_method

__all__ = ["CompiledModel", "compile_model", "structure_key"]

_CACHE: OrderedDict[Any, list[CompiledModel]] = OrderedDict()
_CACHE_SIZE = 64
_LOCK = threading.Lock()


def structure_key(m: Model) -> tuple:
    """Return a hashable key of everything compilation depends on (constants' values excluded)."""
    parts = []
    for key, e in zip(m.names(), m.elements()):
        parts.append(("const", key, e.name, e.units, e.doc) if isinstance(e, Constant) else e)
    return (tuple(parts), m.file)


class CompiledModel:
    """A model compiled to numpy: run it, or evaluate one equation on arrays.

    Attributes
    ----------
    plan
        The lowered model (:class:`~trafficsys.engine.lower.Plan`).
    constants
        Canonical names of the constants, in the order the compiled code takes them.
    recorded
        Canonical names of the variables saved over time.
    """

    def __init__(self, model: Model):
        self.model = model
        self.plan: Plan = lower(model)
        self.constants = list(self.plan.constants)
        self.recorded = list(self.plan.recorded)
        self.states = list(self.plan.states)
        self._code: dict[tuple, tuple[Any, Any, str]] = {}
        self._eval: dict[str, tuple[Any, list[str]]] = {}
        self._saved_flows: dict[tuple[str, ...] | None, tuple] = {}
        self._lock = threading.Lock()
        stocks = [n for n in self.states if self.plan.nodes[n].role == STOCK]
        self.stocks = stocks
        self.acc_flows, self.gross_flows = accumulated(self.plan)
        self.n_acc = len(self.acc_flows) + len(self.gross_flows)  # the run's ledger accumulators
        self.result_attrs: dict[str, dict[str, str]] | None = None  #: per variable, filled by make_results

    # ------------------------------------------------------------ generation
    def functions(
        self, method: Method, mode: str, record: tuple[str, ...] | None = None, ledger: bool = True
    ) -> tuple[Any, Any, str]:
        """``(init, run, source)`` for ``method`` in ``mode`` (``"scalar"`` or ``"vector"``).

        ``record``: the variables the run saves (default: all of :attr:`recorded`).
        ``ledger=False``: without the ledger's accumulators (see :meth:`saved_flows`).
        """
        key = (method.name, mode, record, ledger)
        got = self._code.get(key)
        if got is None:
            with self._lock:
                got = self._code.get(key)
                if got is None:
                    source, ns = generate(self.plan, method, mode, self.model.file, record, ledger)
                    # compiled-ast: the source is generated from our own validated AST with mangled
                    # identifiers only (see codegen); no user text reaches it.
                    code = compile(source, f"<trafficsys {self.model.name} {method.name} {mode}>", "exec")
                    exec(code, ns)  # compiled-ast: runs the definitions of _init and _run only
                    got = (ns["_init"], ns["_run"], source)
                    self._code[key] = got
        return got

    def saved_flows(
        self, method: Method, every: int, record: tuple[str, ...] | None
    ) -> tuple[list[int], list[int]] | None:
        """Where the ledger's flows are among the saved variables, if a run can sum them from its saves.

        That needs one stage (the saved flow is the one that moved material) and
        a save at every step; returns ``(net, gross)`` positions, or None.
        """
        if method.stages != 1 or every != 1:
            return None
        saved = self.recorded if record is None else record
        got = self._saved_flows.get(record)
        if got is None:
            pos = {name: i for i, name in enumerate(saved)}
            if all(f in pos for f in self.acc_flows):
                got = ([pos[f] for f in self.acc_flows], [pos[f] for f in self.gross_flows])
            else:
                got = ()
            self._saved_flows[record] = got
        return got or None

    def source(self, method: str | Method = "euler", mode: str = "vector") -> str:
        """Return the generated Python source (for the curious and for debugging)."""
        return self.functions(get_method(method), mode)[2]

    def resolve_record(self, variables: Any) -> tuple[str, ...] | None:
        """Canonical names of the variables to save (None: all), checked."""
        if variables is None:
            return None
        if isinstance(variables, str):
            variables = [variables]
        out = []
        for v in variables:
            key = canonical(v)
            if key not in self.recorded:
                what = "a constant (saved per run anyway)" if key in self.constants else "not a variable"
                raise ModelError(
                    f"cannot save '{v}': it is {what}{suggest(key, self.recorded)}",
                    variable=v,
                    file=self.model.file,
                )
            if key not in out:
                out.append(key)
        return tuple(out)

    # ------------------------------------------------------------- evaluation
    def evaluate(self, name: str, env: Mapping[str, Any], time: Any = None) -> np.ndarray:
        """Evaluate the equation of one variable on given input arrays.

        Only instantaneous (pure) equations can be evaluated this way: the
        arithmetic, ``IF``, the pure builtins, the clock functions and
        graphical functions.  Equations with stateful builtins (``SMTH1``,
        ``DELAY3``...) depend on hidden stocks and raise
        :class:`~trafficsys.errors.UnsupportedFeatureError`.

        Parameters
        ----------
        name
            The variable (any spelling of its name).
        env
            Canonical name -> value (scalar or array) for every variable the
            equation reads; arrays broadcast against each other.
        time
            Simulation time (scalar or array broadcasting with ``env``);
            needed by equations using ``TIME``, ``STEP``, ``RAMP``, ``PULSE``.

        Returns
        -------
        numpy.ndarray
            The equation's value.

        Examples
        --------
        Loops-that-Matter link scores re-evaluate an equation with only one
        input changed::

            cm = compile_model(m)
            base = cm.evaluate("flow", {"stock": s_prev, "rate": r_prev}, time=t)
            moved = cm.evaluate("flow", {"stock": s_now, "rate": r_prev}, time=t)
        """
        key = canonical(name)
        node = self.plan.nodes.get(key)
        if node is None or node.role not in (AUX, FLOW, LOOKUPVAR):
            raise ModelError(
                "only auxiliaries, flows and graphical-function variables have an equation to evaluate",
                variable=name,
                file=self.model.file,
            )
        fn_deps = self._eval.get(key)
        if fn_deps is None:
            deps = sorted(ast.names(node.body))
            for d in deps:
                if "__" in d:
                    raise UnsupportedFeatureError(
                        "this equation uses a stateful builtin (SMTH, DELAY, TREND, PREVIOUS, INIT) whose "
                        "hidden stocks are not inputs; evaluate it from simulation results instead",
                        variable=name,
                        file=self.model.file,
                    )
            table_ids = {t: f"_L{i}" for i, t in enumerate(self.plan.tables)}
            idx = {d: f"E[{i}]" for i, d in enumerate(deps)}
            em = Emitter(
                "vector",
                idx.__getitem__,
                table_ids,
                has_pi_var="pi" in self.plan.nodes,
                variable=name,
                file=self.model.file,
            )
            body = em(node.body)
            if node.role == FLOW and node.uniflow:
                body = f"_pos({body})"
            source = f"def _ev(E, T, DT, T0, T1):\n    EPS = DT * 1e-6\n    return {body}\n"
            ns = helpers("vector", self.plan, table_ids)
            # compiled-ast: generated from our validated AST, mangled identifiers only
            exec(compile(source, f"<trafficsys evaluate {key}>", "exec"), ns)  # compiled-ast: defines _ev
            ev: Any = ns["_ev"]
            fn_deps = (ev, deps)
            self._eval[key] = fn_deps
        fn, deps = fn_deps
        missing = [d for d in deps if d not in env]
        if missing:
            raise ModelError(
                f"evaluate needs values for {', '.join(missing)}", variable=name, file=self.model.file
            )
        specs = self.model.specs
        t = np.float64(specs.start) if time is None else np.asarray(time, dtype=float)
        with np.errstate(all="ignore"):
            return np.asarray(
                fn([np.asarray(env[d], dtype=float) for d in deps], t, specs.dt, specs.start, specs.stop),
                dtype=float,
            )

    def __repr__(self) -> str:
        return (
            f"<CompiledModel {self.model.name!r}: {len(self.states)} states, "
            f"{len(self.plan.step_order)} equations, {len(self.constants)} constants>"
        )


class _Key(tuple):
    """A structure key that hashes once.

    The cache looks it up twice, and hashing every equation's AST costs more
    than a small model's run setup.
    """

    __slots__ = ()

    def __new__(cls, key: tuple) -> _Key:
        self = super().__new__(cls, (hash(key), key))
        return self

    def __hash__(self) -> int:
        return self[0]


def compile_model(model: Model) -> CompiledModel:
    """Compile ``model`` (cached per model structure; constant values are inputs, not compiled in).

    Raises
    ------
    UnknownVariableError, AlgebraicLoopError, StructureError, UnsupportedFeatureError
        When the model cannot be run; the message names the variable and the fix.
    """
    key = _Key(structure_key(model))
    with _LOCK:
        for cm in _CACHE.get(key, ()):
            # a plan read some constants' values (SMTHN/DELAYN orders): reuse it only if they are unchanged
            if all(
                c in model and getattr(model[c], "value", None) == v for c, v in cm.plan.structural.items()
            ):
                _CACHE.move_to_end(key)
                return cm
    cm = CompiledModel(model)
    with _LOCK:
        _CACHE.setdefault(key, []).append(cm)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return cm
