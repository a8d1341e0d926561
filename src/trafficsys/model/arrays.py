"""Arrays (XMILE dimensions) by expansion to scalars.

The engine is scalar: :func:`flatten` turns an arrayed model into an equal
scalar one in which every arrayed variable ``x`` over dimensions ``(d1, d2)``
becomes one variable per element, named ``x[e1,e2]`` (canonical element
names, no spaces).  What it understands:

* apply-to-all equations (one equation for every element) and per-element
  equations (``Element.per_element``);
* references ``y[d]`` where ``d`` is a dimension of the variable being
  defined (the current element), ``y[e]`` with a literal element name or a
  1-based position, and a bare ``y`` to an arrayed variable with the same
  dimensions (XMILE's implicit subscripting);
* reductions ``SUM``, ``PROD``, ``MEAN``, ``MIN``, ``MAX``, ``SIZE``, ``STDDEV`` over
  ``y[*]`` or ``y[d]`` for a dimension ``d`` the variable does not have;
  Vensim's ``y[d!]`` iterates ``d`` even where ``d`` is the variable's own
  dimension, and ``SUM``/``PROD``/``MEAN``/``MIN``/``MAX`` of an expression iterate its
  free indices together (``SUM(a[d!] * m[e, d!])``, a matrix product);
* arrayed stocks whose inflows and outflows are arrayed flows (element by
  element) and arrayed graphical functions (one table, or one per element),
  with an input or called as ``table[d](x)``.

Anything else raises :class:`~trafficsys.errors.UnsupportedFeatureError`
naming the variable.

Examples
--------
>>> from trafficsys.model import Model
>>> from trafficsys.model.elements import Aux
>>> m = Model("a")
>>> _ = m.dimension("region", ["north", "south"])
>>> _ = m.add(Aux("pop", dimensions=("region",), per_element=(("north", "10"), ("south", "20"))))
>>> _ = m.aux("total", "SUM(pop[*])")
>>> flat = flatten(m)
>>> flat.names()
['pop[north]', 'pop[south]', 'total']
>>> flat["total"].equation
'"pop[north]" + "pop[south]"'
"""

from __future__ import annotations

import dataclasses
import itertools

from .. import limits
from ..errors import ModelError, UnsupportedFeatureError
from . import ast
from .elements import Aux, Constant, Flow, Lookup, Stock
from .model import Model
from .names import canonical
from .parser import numeric_literal, parse
from .printer import to_xmile

__all__ = ["flatten", "element_names", "is_arrayed"]

_REDUCE = ("SUM", "PROD", "MEAN", "MIN", "MAX", "SIZE", "STDDEV")
#: Vensim's vector functions, flattened to one call per element (see _Flattener._vector)
_VECTOR = (
    "VECTOR_SORT_ORDER",
    "VECTOR_RANK",
    "VECTOR_REORDER",
    "VECTOR_ELM_MAP",
    "VECTOR_SELECT",
    "ALLOCATE_BY_PRIORITY",
    "INVERT_MATRIX",
    "VECTOR_LOOKUP",
)


def is_arrayed(model: Model) -> bool:
    """Return True when the model declares dimensions or arrayed variables."""
    return bool(getattr(model, "dimensions", None)) or any(e.dimensions for e in model)


def element_names(name: str, dims: tuple[str, ...], dimensions: dict[str, tuple[str, ...]]) -> list[str]:
    """Return the scalar names ``name[e1,e2]`` of an arrayed variable, in row-major order."""
    return [f"{name}[{','.join(c)}]" for c in itertools.product(*(dimensions[d] for d in dims))]


def check_sizes(model: Model) -> int:
    """Refuse, before expanding anything, arrays over the ``array_elements`` or ``variables`` limit.

    Returns the number of scalar variables the expanded model would have.

    Raises
    ------
    LimitError
        An arrayed variable with more elements than ``array_elements``
        (``1000 x 1000 x 1000``), or more scalar variables in all than ``variables``.
    """
    sizes = {canonical(k): len(v) for k, v in getattr(model, "dimensions", {}).items()}
    total = 0
    for e in model:
        count = 1
        for d in e.dimensions:
            count *= sizes.get(canonical(d), 1)  # an undeclared dimension is reported elsewhere
        if e.dimensions:
            limits.check(
                "array_elements",
                count,
                f"the array over {' x '.join(e.dimensions)}",
                "use smaller dimensions",
                file=model.file,
                variable=e.name,
            )
        total += count
    limits.check(
        "variables", total, "the model with its arrays expanded", "use smaller dimensions", file=model.file
    )
    return total


def flatten(model: Model) -> Model:
    """Expand every arrayed variable of ``model`` into scalar variables.

    Parameters
    ----------
    model
        A model, arrayed or not (a scalar model is returned unchanged).

    Returns
    -------
    Model
        A scalar model: ``x[e1,e2]`` variables, no dimensions.

    Raises
    ------
    UnsupportedFeatureError
        An array construct outside the supported set (named with the variable).
    ModelError
        A subscript that names no element, a wrong number of indices...
    LimitError
        Arrays over the ``array_elements`` or ``variables`` limit (see :func:`check_sizes`).
    """
    if not is_arrayed(model):
        return model
    check_sizes(model)
    return _Flattener(model).run()


class _Flattener:
    def __init__(self, model: Model):
        self.m = model
        self.dims = {canonical(k): tuple(v) for k, v in model.dimensions.items()}
        self.vdims = {canonical(e.name): tuple(canonical(d) for d in e.dimensions) for e in model}
        self.elem_owner: dict[str, list[str]] = {}
        # the trees behind the equations written: handed to the flat model's parse cache, since a
        # reduction over a large dimension writes an equation longer than a user may type
        self.trees: dict[str, ast.Expr] = {}
        for d, elems in self.dims.items():
            for e in elems:
                self.elem_owner.setdefault(e, []).append(d)

    def err(self, msg: str, var: str, cls=ModelError):
        return cls(msg, file=self.m.file, variable=var)

    def run(self) -> Model:
        src = self.m
        out = src.with_elements()
        out.dimensions = {}
        for e in src:
            key = canonical(e.name)
            dims = self.vdims[key]
            for d in dims:
                if d not in self.dims:
                    raise self.err(
                        f"dimension '{d}' is not declared; declare it in the model's dimensions", e.name
                    )
            if not dims:
                out.add(self._scalar(e, key, {}))
                continue
            per = {canonical_key(k): t for k, t in e.per_element}
            combos = list(itertools.product(*(self.dims[d] for d in dims)))
            unknown = set(per) - {",".join(c) for c in combos}
            if unknown:
                raise self.err(
                    f"per-element equation for unknown element(s) {sorted(unknown)} of dimensions {dims}",
                    e.name,
                )
            for combo in combos:
                bind = dict(zip(dims, combo))
                sub = ",".join(combo)
                name = f"{e.name}[{sub}]"
                text = per.get(sub)
                out.add(self._element(e, key, name, bind, text))
        for k in out.names():
            text = out.equation_text(k)
            tree = self.trees.get(text) if text is not None else None
            if tree is not None and text is not None:
                out._ast_cache[(k, text)] = tree
        return out

    # -------------------------------------------------------------- elements
    def _scalar(self, e, key, bind):
        return self._element(e, key, e.name, bind, None)

    def _element(self, e, key, name, bind, text):
        base = dict(dimensions=(), per_element=())
        if isinstance(e, Stock):
            init = self._rewrite(text if text is not None else e.initial, e.name, bind)
            infl = tuple(self._flow_ref(f, bind, e.name) for f in e.inflows)
            outf = tuple(self._flow_ref(f, bind, e.name) for f in e.outflows)
            return dataclasses.replace(e, name=name, initial=init, inflows=infl, outflows=outf, **base)
        if isinstance(e, Flow):
            return dataclasses.replace(
                e,
                name=name,
                equation=self._rewrite(text if text is not None else e.equation, e.name, bind),
                **base,
            )
        if isinstance(e, Aux):
            eq = self._rewrite(text if text is not None else e.equation, e.name, bind)
            return dataclasses.replace(e, name=name, equation=eq, **base)
        if isinstance(e, Constant):
            if text is not None:
                v = numeric_literal(text)
                if v is None:
                    return Aux(name, e.units, e.doc, e.role, equation=self._rewrite(text, e.name, bind))
                return dataclasses.replace(e, name=name, value=v, **base)
            return dataclasses.replace(e, name=name, **base)
        if isinstance(e, Lookup):
            inp = e.input
            if text is not None:
                inp = text
            if inp is not None:
                inp = self._rewrite(inp, e.name, bind)
            own = {canonical_key(k): (xs, ys) for k, xs, ys in e.tables}.get(",".join(bind.values()))
            xs, ys = own if own is not None else (e.xs, e.ys)
            return dataclasses.replace(e, name=name, input=inp, xs=xs, ys=ys, tables=(), **base)
        raise self.err(f"cannot flatten a {type(e).__name__}", e.name, UnsupportedFeatureError)

    def _flow_ref(self, flow: str, bind, var):
        f = canonical(flow)
        fd = self.vdims.get(f, ())
        if not fd:
            return flow
        try:
            return f"{f}[{','.join(bind[d] for d in fd)}]"
        except KeyError:
            raise self.err(
                f"flow '{flow}' is arrayed over {fd} but the stock is not arrayed over all of them",
                var,
                UnsupportedFeatureError,
            ) from None

    # -------------------------------------------------------------- equations
    def _rewrite(self, text: str, var: str, bind: dict[str, str]) -> str:
        tree = parse(text, variable=var, file=self.m.file)
        if not any(isinstance(n, (ast.Subscript, ast.Call, ast.Name)) for n in ast.walk(tree)):
            return text
        new = self._visit(tree, var, bind)
        if new is tree:
            return text
        out = to_xmile(new)
        self.trees[out] = new
        return out

    def _visit(self, n, var, bind):
        """Return ``n`` with every arrayed reference resolved for the element ``bind`` (no recursion)."""
        return ast.transform(n, pre=lambda c: self._resolve(c, var, bind))

    def _resolve(self, n, var, bind):
        """Return the replacement of ``n`` when it is an arrayed reference or a reduction, else None."""
        if isinstance(n, ast.Call) and n.func in _REDUCE and self._is_reduction(n, bind):
            return self._reduce(n, var, bind)
        if isinstance(n, ast.Call) and n.func in _VECTOR:
            return self._vector(n, var, bind)
        if isinstance(n, ast.Subscript):
            names = self._expand(n.name, n.indices, var, bind)
            if len(names) != 1:
                raise self.err(
                    f"'{to_xmile(n)}' names {len(names)} elements where one value is needed; "
                    "wrap it in SUM, MEAN, MIN or MAX",
                    var,
                )
            return ast.Name(names[0])
        if isinstance(n, ast.Name):
            if n.name in self.dims and n.name in bind and n.name not in self.vdims:
                # a dimension used as a value is the 1-based position of the current element
                return ast.Num(float(self.dims[n.name].index(bind[n.name]) + 1))
            d = self.vdims.get(n.name)
            if d:
                names = self._expand(n.name, tuple(ast.Name(x) for x in d), var, bind)
                if len(names) != 1:
                    raise self.err(
                        f"'{n.name}' is arrayed over {d}; subscript it (e.g. {n.name}[{d[0]}])", var
                    )
                return ast.Name(names[0])
            return n
        if isinstance(n, ast.Call) and n.func in self.vdims and self.vdims[n.func]:
            # an arrayed lookup called as a function: name[...]( x ) is not XMILE; use the bound element
            d = self.vdims[n.func]
            names = self._expand(n.func, tuple(ast.Name(x) for x in d), var, bind)
            return ast.Call(names[0], tuple(self._visit(a, var, bind) for a in n.args))
        return None

    def _is_reduction(self, n: ast.Call, bind) -> bool:
        if len(n.args) != 1:
            return False
        a = n.args[0]
        if isinstance(a, ast.Subscript):
            return any(self._free(i, bind) for i in a.indices)
        if not isinstance(a, ast.Name):
            return n.func in ("SUM", "PROD", "MEAN", "MIN", "MAX") and bool(self._free_dims(a, bind))
        return isinstance(a, ast.Name) and bool(self.vdims.get(a.name)) and n.func in _REDUCE

    def _free(self, idx, bind) -> bool:
        if isinstance(idx, ast.Name):
            return idx.name == "*" or (idx.name in self.dims and idx.name not in bind) or _is_bang(idx.name)
        return False

    def _free_dims(self, n: ast.Expr, bind) -> list[str]:
        """Return the indices of ``n`` a reduction iterates: Vensim's ``dim!``, and dimensions not bound."""
        out: list[str] = []
        for s in ast.walk(n):
            if isinstance(s, ast.Subscript):
                for i in s.indices:
                    if (
                        isinstance(i, ast.Name)
                        and i.name != "*"
                        and self._free(i, bind)
                        and i.name not in out
                    ):
                        out.append(i.name)
        return out

    def _reduce(self, n: ast.Call, var, bind):
        a = n.args[0]
        if isinstance(a, ast.Subscript):
            terms: list[ast.Expr] = [
                ast.Name(x) for x in self._expand(a.name, a.indices, var, bind, allow_many=True)
            ]
        elif isinstance(a, ast.Name):
            terms = [ast.Name(x) for x in element_names(a.name, self.vdims[a.name], self.dims)]
        else:
            # a reduction of an expression, SUM(a[d!] * b[e, d!]): its free indices iterate together
            if any(
                isinstance(i, ast.Name) and i.name == "*"
                for s in ast.walk(a)
                if isinstance(s, ast.Subscript)
                for i in s.indices
            ):
                raise self.err(
                    f"'*' inside the expression '{to_xmile(a)}' of {n.func}: name the dimension to iterate",
                    var,
                    UnsupportedFeatureError,
                )
            free = self._free_dims(a, bind)
            ranges = [self.dims[_base(f)] for f in free]
            terms = [
                self._visit(a, var, {**bind, **dict(zip(free, combo))})
                for combo in itertools.product(*ranges)
            ]
        if n.func == "SIZE":
            return ast.Num(float(len(terms)))
        if n.func in ("MIN", "MAX"):
            return ast.Call(n.func, tuple(terms)) if len(terms) > 1 else terms[0]
        if n.func == "PROD":
            prod = terms[0]
            for t in terms[1:]:
                prod = ast.Binary("*", prod, t)
            return prod
        total = terms[0]
        for t in terms[1:]:
            total = ast.Binary("+", total, t)
        if n.func == "SUM":
            return total
        mean = ast.Binary("/", total, ast.Num(float(len(terms)))) if len(terms) > 1 else total
        if n.func == "MEAN":
            return mean
        # STDDEV: population standard deviation, as Stella computes it
        sq: ast.Expr | None = None
        for t in terms:
            d = ast.Binary("^", ast.Binary("-", t, mean), ast.Num(2.0))
            sq = d if sq is None else ast.Binary("+", sq, d)
        assert sq is not None  # terms is never empty here
        return ast.Call("SQRT", (ast.Binary("/", sq, ast.Num(float(len(terms)))),))

    def _along(self, a: ast.Expr, var: str, bind) -> tuple[list[ast.Expr], int | None]:
        """Return the elements of ``a`` along its last dimension, and the place of the current one.

        ``a`` is an arrayed reference (``x[r, d]``, or a bare ``x``); its other
        indices pick one element each.  The current place is that of the
        element its last index names: bound by the variable being defined, a
        literal element or position, or, when the variable has a different last
        dimension of the same size (Vensim's ``y[r, s] = VECTOR RANK(x[r, d], 1)``),
        the place of the variable's own element.  None when there is no such place.
        """
        if isinstance(a, ast.Name) and self.vdims.get(a.name):
            a = ast.Subscript(a.name, tuple(ast.Name(d) for d in self.vdims[a.name]))
        if not isinstance(a, ast.Subscript) or not self.vdims.get(a.name):
            raise self.err(
                f"'{to_xmile(a)}' must be an arrayed variable (a vector function works along its "
                "last dimension)",
                var,
                UnsupportedFeatureError,
            )
        vd = self.vdims[a.name]
        elems = self.dims[vd[-1]]
        names = self._expand(a.name, a.indices[:-1] + (ast.Name("*"),), var, bind, allow_many=True)
        if len(names) != len(elems):
            raise self.err(
                f"'{to_xmile(a)}': every index but the last must name one element",
                var,
                UnsupportedFeatureError,
            )
        last = a.indices[-1]
        pos: int | None = None
        if isinstance(last, ast.Num):
            pos = int(last.value) - 1
        elif isinstance(last, ast.Name):
            i = _base(last.name)
            if last.name in bind or i in bind:
                e = bind.get(last.name, bind.get(i))
                if e in elems:
                    pos = elems.index(e)
                elif i in self.dims and len(self.dims[i]) == len(elems):
                    pos = self.dims[i].index(e)
            elif i in elems:
                pos = elems.index(i)
            else:
                own = self.vdims.get(canonical(var), ())
                if own and own[-1] in bind and len(self.dims[own[-1]]) == len(elems):
                    pos = self.dims[own[-1]].index(bind[own[-1]])
        return [ast.Name(x) for x in names], pos

    def _vector(self, n: ast.Call, var: str, bind) -> ast.Expr:
        """One element of a Vensim vector function, as an internal call over the flattened elements."""
        f = n.func

        def arg(i: int) -> ast.Expr:  # a scalar argument
            return self._visit(n.args[i], var, bind)

        if f == "VECTOR_SELECT":
            free = self._free_dims(ast.Call("SUM", n.args[:2]), bind)
            if not free:
                raise self.err(
                    "VECTOR SELECT needs the dimension it selects over marked, as sel[d!] and expr[d!]",
                    var,
                    UnsupportedFeatureError,
                )
            combos = [dict(zip(free, c)) for c in itertools.product(*(self.dims[_base(x)] for x in free))]
            sel = [self._visit(n.args[0], var, {**bind, **c}) for c in combos]
            expr = [self._visit(n.args[1], var, {**bind, **c}) for c in combos]
            return ast.Call("_VSELECT", (arg(2), arg(3), arg(4), ast.Num(float(len(sel))), *sel, *expr))
        if f == "INVERT_MATRIX":
            return self._invert(n, var, bind)
        xs, pos = self._along(n.args[0], var, bind)
        if f == "VECTOR_LOOKUP":  # (x, xmin, xmax, mode, n, the vector's elements)
            return ast.Call("_VLOOKUP", (arg(1), arg(2), arg(3), arg(4), ast.Num(float(len(xs))), *xs))
        if f == "ALLOCATE_BY_PRIORITY":
            prio, _ = self._along(n.args[1], var, bind)
            if len(prio) != len(xs) or pos is None:
                raise self.err(
                    "ALLOCATE BY PRIORITY needs requests and priorities over the same dimension, "
                    "and the variable arrayed over it",
                    var,
                    UnsupportedFeatureError,
                )
            return ast.Call(
                "_ALLOC_PRIORITY", (ast.Num(float(pos)), arg(3), arg(4), ast.Num(float(len(xs))), *xs, *prio)
            )
        if pos is None:
            raise self.err(
                f"{f.replace('_', ' ')} returns a vector: define the variable over the dimension "
                f"of '{to_xmile(n.args[0])}'",
                var,
                UnsupportedFeatureError,
            )
        if f == "VECTOR_SORT_ORDER":
            return ast.Call("_VSORT_ORDER", (ast.Num(float(pos)), arg(1), *xs))
        if f == "VECTOR_RANK":
            return ast.Call("_VRANK", (ast.Num(float(pos)), arg(1), *xs))
        if f == "VECTOR_ELM_MAP":
            return ast.Call("_VPICK", (ast.Binary("+", ast.Num(float(pos)), arg(1)), *xs))
        # VECTOR REORDER: the element at the index the order vector holds in this place
        order, _ = self._along(n.args[1], var, bind)
        return ast.Call("_VPICK", (order[pos], *xs))

    def _invert(self, n: ast.Call, var: str, bind) -> ast.Expr:
        """One element of ``INVERT MATRIX(x[.., i, j], size)``: the square matrix over x's last two dimensions."""
        a = n.args[0]
        if isinstance(a, ast.Name) and self.vdims.get(a.name):
            a = ast.Subscript(a.name, tuple(ast.Name(d) for d in self.vdims[a.name]))
        vd = self.vdims.get(a.name, ()) if isinstance(a, ast.Subscript) else ()
        if (
            not isinstance(a, ast.Subscript)
            or len(vd) < 2
            or len(self.dims[vd[-1]]) != len(self.dims[vd[-2]])
        ):
            raise self.err(
                "INVERT MATRIX needs a square matrix: a variable over two dimensions of one size",
                var,
                UnsupportedFeatureError,
            )
        size = len(self.dims[vd[-1]])
        own = self.vdims.get(canonical(var), ())
        place: list[int] = []
        for k, idx in ((-2, a.indices[-2]), (-1, a.indices[-1])):
            elems = self.dims[vd[k]]
            i = idx.name if isinstance(idx, ast.Name) else None
            if i is not None and i in bind and bind[i] in elems:
                place.append(elems.index(bind[i]))
            elif i is not None and i in bind and i in self.dims:
                place.append(self.dims[i].index(bind[i]))
            elif len(own) >= 2 and own[k] in bind:
                place.append(self.dims[own[k]].index(bind[own[k]]))
            else:
                raise self.err(
                    "INVERT MATRIX returns a matrix: define the variable over the matrix's two dimensions",
                    var,
                    UnsupportedFeatureError,
                )
        cells = self._expand(
            a.name, a.indices[:-2] + (ast.Name("*"), ast.Name("*")), var, bind, allow_many=True
        )
        if len(cells) != size * size:
            raise self.err(
                "INVERT MATRIX: every index but the last two must name one element",
                var,
                UnsupportedFeatureError,
            )
        return ast.Call(
            "_INVERT",
            (
                ast.Num(float(place[0])),
                ast.Num(float(place[1])),
                ast.Num(float(size)),
                *(ast.Name(c) for c in cells),
            ),
        )

    def _expand(self, name, indices, var, bind, allow_many=False) -> list[str]:
        vd = self.vdims.get(name)
        if vd is None:
            raise self.err(f"'{name}' is subscripted but is not a variable of the model", var)
        if not vd:
            raise self.err(f"'{name}' is not arrayed; remove the subscript", var)
        if len(indices) != len(vd):
            raise self.err(
                f"'{name}' has {len(vd)} dimension(s) {vd}, the reference gives {len(indices)} index(es)", var
            )
        choices: list[tuple[str, ...]] = []
        for dim, idx in zip(vd, indices):
            elems = self.dims[dim]
            if isinstance(idx, ast.Num):
                k = int(idx.value)
                if k != idx.value or not 1 <= k <= len(elems):
                    raise self.err(f"index {idx.value:g} of '{name}' is outside 1..{len(elems)}", var)
                choices.append((elems[k - 1],))
                continue
            if not isinstance(idx, ast.Name):
                raise self.err(
                    f"computed subscripts such as '{to_xmile(idx)}' in '{name}[...]' are not supported",
                    var,
                    UnsupportedFeatureError,
                )
            i = idx.name
            if _is_bang(i):
                # Vensim's dim! : the element a reduction binds, or every element of dim
                base = _base(i)
                if i in bind and (base == dim or bind[i] in elems):
                    choices.append((bind[i] if bind[i] in elems else elems[self.dims[base].index(bind[i])],))
                    continue
                if i in bind and len(self.dims.get(base, ())) == len(elems):
                    choices.append((elems[self.dims[base].index(bind[i])],))
                    continue
                if not allow_many or base not in self.dims:
                    raise self.err(f"'{name}[{i}]' outside SUM/MEAN/MIN/MAX", var)
                choices.append(elems)
                continue
            if i == "*":
                if not allow_many:
                    raise self.err(f"'{name}[*]' outside SUM/MEAN/MIN/MAX", var)
                choices.append(elems)
            elif i in bind and (i == dim or bind[i] in elems):
                choices.append((bind[i],))
            elif i == dim and i not in bind:
                if not allow_many:
                    raise self.err(
                        f"'{name}[{i}]' in a variable not arrayed over {i}: wrap it in SUM, MEAN, MIN or MAX",
                        var,
                    )
                choices.append(elems)
            elif i in elems:
                choices.append((i,))
            elif i in self.dims:
                # another dimension with the same elements (a mapping by position)
                other = self.dims[i]
                if i in bind and len(other) == len(elems):
                    choices.append((elems[other.index(bind[i])],))
                elif allow_many and i not in bind:
                    choices.append(elems)
                else:
                    raise self.err(
                        f"dimension '{i}' cannot index '{name}' (arrayed over {vd}); "
                        "subranges and mappings are not supported",
                        var,
                        UnsupportedFeatureError,
                    )
            else:
                raise self.err(
                    f"'{i}' is neither an element of dimension '{dim}' ({', '.join(elems)}) nor a dimension",
                    var,
                )
        return [f"{name}[{','.join(c)}]" for c in itertools.product(*choices)]


def _is_bang(name: str) -> bool:
    return len(name) > 1 and name.endswith("!")


def _base(name: str) -> str:
    return name[:-1] if _is_bang(name) else name


def canonical_key(key: str) -> str:
    """Return a per-element key in canonical form: ``"North, A"`` -> ``"north,a"``."""
    return ",".join(canonical(p) for p in key.split(","))
