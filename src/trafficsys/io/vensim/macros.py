"""Vensim ``:MACRO:`` blocks, expanded at each call site.

A macro is a small model: its inputs, its equations, and the variable named
like the macro, which is what a call returns.  Each call
``MACRO NAME(a, b)`` in the equation of ``v`` becomes its own copy of the
macro's variables, named ``v.macro_name.x`` (a second call in the same
equation ``v.macro_name_2.x``...), so a macro with a stock gives every call
its own stock.  The inputs become auxiliaries equal to the call's arguments,
and the call is replaced by the copy of the macro's result.  Macros calling
macros are expanded the same way, down to a bounded depth.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ...model import ast
from ...model.names import canonical
from .convert import Element
from .grammar import Definition, Lhs, Outputs, call_name

__all__ = ["Macro", "expand"]

#: deepest chain of macros calling macros
MAX_DEPTH = 20


@dataclass
class Macro:
    """A macro: its name, inputs, extra outputs, and equations (as read)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    elements: list[Element]
    line: int

    @property
    def func(self) -> str:
        return call_name(self.name)


def expand(
    elements: list[Element],
    macros: dict[str, Macro],
    unsupported: dict[str, set[str]],
    ranges: frozenset[str] = frozenset(),
) -> list[Element]:
    """Return ``elements`` with every macro call replaced by its own copy of the macro's variables.

    A call in a subscripted equation (``x[d] = MACRO(y[d])``) gets a copy
    arrayed over the equation's subscript ranges (``ranges``: their canonical
    names), so each element has its own state; elements named one by one
    (``x[a1] = ...``) take the scalar copy of their own call.
    """
    by_func = {m.func: m for m in macros.values()}
    out: list[Element] = []
    queue = [(e, 0) for e in elements]
    taken = {canonical(e.name) for e in elements}
    while queue:
        e, depth = queue.pop(0)
        made: list[Element] = []
        counter: dict[str, int] = {}
        defs = []
        for d in e.definitions:
            if not isinstance(d.value, ast.Expr):
                defs.append(d)
                continue
            dims = tuple(s for s in d.lhs.subs if canonical(s.rstrip("!")) in ranges)

            def visit(n, e=e, made=made, counter=counter, depth=depth, dims=dims):
                # called bottom-up by ast.transform: a call's arguments are already expanded
                if not isinstance(n, ast.Call):
                    return n
                args = n.args
                mac = by_func.get(n.func)
                if mac is None:
                    return n
                if depth >= MAX_DEPTH:
                    unsupported.setdefault(f"macros nested deeper than {MAX_DEPTH}", set()).add(e.name)
                    return ast.Num(0.0)
                outs: tuple[str, ...] = ()
                if args and isinstance(args[-1], Outputs):
                    outs, args = args[-1].names, args[:-1]
                if len(args) != len(mac.inputs) or len(outs) != len(mac.outputs):
                    what = (
                        f"macro {mac.name} called with {len(args)} arguments and {len(outs)} outputs (it takes "
                        f"{len(mac.inputs)} and {len(mac.outputs)})"
                    )
                    unsupported.setdefault(what, set()).add(e.name)
                    return ast.Num(0.0)
                if dims and any(dd.lhs.subs for m_el in mac.elements for dd in m_el.definitions):
                    unsupported.setdefault(
                        "macro with subscripts called in a subscripted equation", set()
                    ).add(e.name)
                    return ast.Num(0.0)
                counter[mac.func] = counter.get(mac.func, 0) + 1
                k = counter[mac.func]
                prefix = f"{e.name}.{mac.name}" + (f" {k}" if k > 1 else "")
                while canonical(prefix) in taken:
                    prefix += " x"
                taken.add(canonical(prefix))
                made.extend(_instance(mac, prefix, args, taken, dims))
                for var, o in zip(outs, mac.outputs):  # the caller's names for the macro's extra outputs
                    made.append(
                        Element(
                            var,
                            [Definition(Lhs(var, dims), "normal", _ref(canonical(f"{prefix}.{o}"), dims))],
                            None,
                            f"output {o} of the call of {mac.name} in {e.name}",
                            e.line,
                        )
                    )
                return _ref(canonical(prefix), dims)

            defs.append(replace(d, value=ast.transform(d.value, visit)))
        out.append(Element(e.name, defs, e.units, e.doc, e.line))
        queue.extend((x, depth + 1) for x in made)
    return out


def _ref(key: str, dims: tuple[str, ...]) -> ast.Expr:
    """Return a reference to an instance variable, arrayed over the caller's ranges when it has any."""
    return ast.Subscript(key, tuple(ast.Name(canonical(x)) for x in dims)) if dims else ast.Name(key)


def _instance(
    mac: Macro, prefix: str, args: tuple, taken: set[str], dims: tuple[str, ...] = ()
) -> list[Element]:
    """Return one call's copy of a macro's variables: its inputs set to the arguments, names under ``prefix``.

    Inside a macro, ``name$`` is the model's variable ``name`` (``TIME STEP$``).
    """
    own = {canonical(e.name) for e in mac.elements} | {canonical(i) for i in mac.inputs}
    result = canonical(mac.name)

    def rename(key: str) -> str:
        if key == result:
            return canonical(prefix)
        return canonical(f"{prefix}.{key}")

    def display(name: str) -> str:
        return prefix if canonical(name) == result else f"{prefix}.{name}"

    def walk(n):
        if isinstance(n, ast.Name) and n.name in own:
            return _ref(rename(n.name), dims)
        if isinstance(n, ast.Name) and n.name.endswith("$"):
            return ast.Name(canonical(n.name[:-1]))
        if isinstance(n, ast.Subscript) and (n.name in own or n.name.endswith("$")):
            key = rename(n.name) if n.name in own else canonical(n.name[:-1])
            return ast.Subscript(key, n.indices)
        if isinstance(n, ast.Call) and n.func in own:
            return ast.Call(rename(n.func), n.args)
        return n

    out = [
        Element(
            display(i),
            [Definition(Lhs(display(i), dims), "normal", a)],
            None,
            f"input {i} of macro {mac.name}",
            mac.line,
        )
        for i, a in zip(mac.inputs, args)
    ]
    for e in mac.elements:
        defs = [
            replace(
                d,
                lhs=replace(d.lhs, name=display(d.lhs.name), subs=d.lhs.subs or dims),
                value=ast.transform(d.value, walk) if isinstance(d.value, ast.Expr) else d.value,
            )
            for d in e.definitions
        ]
        # a macro's units are written in its own terms (often after its inputs, `~ input ~`), not in a
        # call's: they would be checked as unit names of the model, so a copy's units are left unknown
        out.append(Element(display(e.name), defs, None, e.doc, e.line))
    for e in out:
        taken.add(canonical(e.name))
    return out
