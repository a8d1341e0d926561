"""The causal-loop diagram of a model: hand-drawn links, or links derived from equations.

For a stock-flow model, every causal dependency becomes a link:

* ``x -> z`` when ``z``'s equation uses ``x``, signed by the sign analysis of
  :mod:`trafficsys.cld.polarity`; inputs read only through ``INIT(...)`` and a
  stock's initial value act once, at the start, and are not causal links;
  graphical functions called as ``table(x)`` are part of the equation, not
  variables;
* ``flow -> stock`` is ``+`` for an inflow and ``-`` for an outflow;
* a link into a stock is delayed (the stock accumulates), and so is a link
  whose source enters the target through a stateful builtin (``SMTH1``,
  ``DELAY3``...).

Deriving the diagram reads the structure only: nothing is simulated.  To check
the signs against behaviour, run the model and call the explicit analysis
:func:`trafficsys.analysis.confirm_polarities` (``confirm_polarities(m.cld(),
m, ts.simulate(m))``), which re-evaluates each equation over the recorded
states.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelError
from ..model import ast
from ..model.elements import Kind, Link, Lookup
from ..model.model import Model
from .diagram import CausalLoopDiagram, PolarityNote
from .polarity import SignAnalysis

__all__ = ["from_model"]


def from_model(
    m: Model,
    results: Any = None,
    *,
    numeric: bool | str = False,
    constants: bool = True,
    resolve: bool = True,
) -> CausalLoopDiagram:
    """Return the causal-loop diagram of a model (``m.cld()``).

    Parameters
    ----------
    m
        A model: a CLD-only model (``[[links]]``, no equations) gives its
        hand-drawn diagram; a stock-flow model gives the diagram derived from
        its equations, plus any hand-drawn links (which win on conflict).
    results, numeric, resolve
        No longer used here: the diagram is structure only.  Passing results,
        ``numeric=True`` or ``"auto"`` raises a :class:`ModelError` that points
        to :func:`trafficsys.analysis.confirm_polarities`, the explicit check
        against simulated behaviour.
    constants
        Keep links from constants (parameters), which are never on a loop.

    Returns
    -------
    CausalLoopDiagram

    Examples
    --------
    >>> import trafficsys as ts
    >>> m = ts.Model("decay")
    >>> _ = m.stock("x", initial=10, outflows=["out"]); _ = m.flow("out", "x / 4")
    >>> [str(lp) for lp in from_model(m).loops()]
    ['B1: out -> x -> out']
    """
    if results is not None or numeric not in (False, None):
        raise ModelError(
            "m.cld() reads the structure only and never simulates; to check link signs against behaviour, "
            "run the model and call trafficsys.analysis.confirm_polarities(m.cld(), m, ts.simulate(m))",
            file=m.file,
        )
    variables: dict[str, dict[str, Any]] = {}
    for key, e in zip(m.names(), m.elements()):
        info = {"kind": e.kind.value, "label": e.name}
        if e.doc:
            info["doc"] = e.doc
        if e.role:
            info["role"] = e.role
        if e.units:
            info["units"] = e.units
        variables[key] = info
    for sc in getattr(m, "sectors", {}).values():
        for v in sc.variables:
            variables.setdefault(v, {}).setdefault("sector", sc.name)
    for key, info in m.cld_variables.items():
        variables.setdefault(key, {}).update(info)
    cld = CausalLoopDiagram(m.name, variables, [], dict(m.loops), [], m.file)
    if len(m):
        _derive(m, cld, constants)
    for lk in m.links:
        cld.add_link(lk)
    return cld


def _tables(m: Model) -> set[str]:
    return {k for k, e in zip(m.names(), m.elements()) if isinstance(e, Lookup) and e.input is None}


def _derive(m: Model, cld: CausalLoopDiagram, constants: bool) -> None:
    signs = SignAnalysis(m)
    tables = _tables(m)
    g = m.graph()
    for a, b, via in g.edges(data="via"):
        if via == "initial" or a in tables:
            continue
        if not constants and g.nodes[a]["kind"] is Kind.CONSTANT:
            continue
        if via in ("inflow", "outflow"):
            cld.add_link(
                Link(
                    a,
                    b,
                    "+" if via == "inflow" else "-",
                    True,
                    f"{'inflow to' if via == 'inflow' else 'outflow from'} the stock",
                )
            )
            continue
        tree = m.ast(b)
        if tree is None or a not in ast.live_names(tree):
            continue
        pol = signs.polarity(a, b)
        if pol == "0":
            continue  # the equation mentions the source, but it has no effect (e.g. 0 * x)
        cld.add_link(Link(a, b, pol, signs.delayed(a, b)))
        if pol == "?":
            cld.notes.append(
                PolarityNote(
                    a,
                    b,
                    "?",
                    "",
                    "?",
                    f"{a} -> {b}: the sign of the effect depends on the state "
                    f"(equation: {m.equation_text(b)}); marked '?'",
                )
            )
