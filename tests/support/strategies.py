"""Hypothesis strategies shared by several test modules: equations, and whole models."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.model import ast
from trafficsys.model.builtins import BUILTINS
from trafficsys.model.names import RESERVED, canonical
from trafficsys.model.parser import KEYWORDS
from trafficsys.model.printer import to_xmile

# ---------------------------------------------------------- equations
# the clock's names (TIME, DT, STARTTIME, STOPTIME) are refused as variable names, so never generated
_RESERVED = (
    KEYWORDS
    | {b.lower() for b in BUILTINS}
    | {"if_then_else", "pi", "smooth", "smooth3", "sqr", "arcsine"}
    | RESERVED
)

# canonical names: plain identifiers, names needing quotes (digits first, dashes), dotted names
_plain = st.from_regex(r"[a-z][a-z0-9]{0,6}(_[a-z0-9]{1,5}){0,2}", fullmatch=True)
_quoted = st.from_regex(r"[0-9][a-z0-9]{0,4}(_[a-z]{1,4})?|[a-z]{1,4}-[a-z]{1,4}", fullmatch=True)
# names are data: quotes and backslashes inside a name (Vensim's "a \"b\"") print escaped and read back
_escaped = st.from_regex(r'[a-z]{1,3}["\\\\\'!$]{1,3}[a-z]{0,3}', fullmatch=True)
names = st.one_of(_plain, _plain, _plain, _quoted, _escaped).filter(
    lambda n: n not in _RESERVED and canonical(n) == n
)

numbers = st.one_of(
    st.integers(0, 10_000).map(float),
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, 1e-9, 2.5e-7, 1e20]),
)
leaves = st.one_of(
    numbers.map(ast.Num),
    names.map(ast.Name),
    st.sampled_from(ast.TIME_NAMES).map(ast.Name),
)
_CALLABLE = [b for b in BUILTINS.values() if b.name not in ("LOOKUP",)]


def _call(children):
    def build(draw_b):
        b, args = draw_b
        return ast.Call(b.name, tuple(args))

    return st.sampled_from(_CALLABLE).flatmap(
        lambda b: st.lists(
            children, min_size=b.min_args, max_size=b.max_args if b.max_args is not None else b.min_args + 2
        ).map(lambda args: ast.Call(b.name, tuple(args)))
    )


def _extend(children):
    return st.one_of(
        st.tuples(st.sampled_from(ast.UNARY_OPS), children).map(lambda t: ast.Unary(*t)),
        st.tuples(st.sampled_from(ast.BINARY_OPS), children, children).map(lambda t: ast.Binary(*t)),
        st.tuples(children, children, children).map(lambda t: ast.If(*t)),
        _call(children),
        st.tuples(
            names | st.sampled_from(sorted(_RESERVED - KEYWORDS)), st.lists(children, min_size=1, max_size=2)
        ).map(
            lambda t: ast.Call(t[0], tuple(t[1]))
        ),  # graphical function call, even one named like a builtin
        st.tuples(names, st.lists(children, min_size=1, max_size=2)).map(
            lambda t: ast.Subscript(t[0], tuple(t[1]))
        ),
    )


expressions = st.recursive(leaves, _extend, max_leaves=25)


# ---------------------------------------------------------- generated models
_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x7f") | st.just("\n"), max_size=40
)
_display_names = st.from_regex(
    r"[A-Za-z][A-Za-z0-9]{0,8}( [A-Za-z0-9]{1,5}| _?[a-z]{1,4}){0,2}", fullmatch=True
)
_numbers = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
_units = st.none() | st.sampled_from(
    ["person", "person/year", "1/year", "USD/(person*year)", "dimensionless"]
)
_roles = st.none() | st.sampled_from(["goal", "symptom", "fundamental_solution"])
_equation = expressions.map(to_xmile) | st.sampled_from(["0", "1e3", "a  +b", "IF x THEN 1\nELSE 2"])


@st.composite
def models(draw):
    m = ts.Model(
        draw(_display_names),
        start=draw(st.integers(-5, 5)),
        stop=draw(st.integers(6, 100)),
        dt=draw(st.sampled_from([1, 0.5, 0.25, 0.0625, 1 / 3])),
        saveper=draw(st.none() | st.sampled_from([1.0, 2.0])),
        method=draw(st.sampled_from(["euler", "rk4"])),
        time_units=draw(st.sampled_from(["year", "month", "time"])),
        doc=draw(_text),
    )
    dims = draw(
        st.dictionaries(
            _display_names, st.lists(_display_names, min_size=1, max_size=3, unique_by=canonical), max_size=2
        )
    )
    for dim, elems in dims.items():
        m.dimension(dim, elems)
    used: set[str] = set()
    names = []
    for name in draw(st.lists(_display_names, max_size=12)):
        key = canonical(name)
        if key in used or key in RESERVED:  # the clock's names are not variable names
            continue
        used.add(key)
        names.append(name)
    flows = []
    for name in names:
        kind = draw(st.sampled_from(["constant", "stock", "flow", "aux", "lookup"]))
        common = dict(units=draw(_units), doc=draw(_text), role=draw(_roles))
        if kind == "constant":
            lo = draw(_numbers)
            rng = draw(st.none() | st.just((lo, lo + draw(st.floats(0, 100)))))
            dist = draw(
                st.none()
                | st.sampled_from(
                    [
                        "uniform",
                        {"kind": "triangular", "mode": 0.5},
                        {"kind": "normal", "mean": 1.0, "sd": 0.25},
                    ]
                )
            )
            m.constant(name, draw(_numbers), range=rng, distribution=dist, source=draw(_text), **common)
        elif kind == "stock":
            initial = draw(_equation | _numbers)
            m.stock(
                name,
                initial,
                inflows=draw(st.lists(st.sampled_from(names), max_size=2)),
                outflows=draw(st.lists(st.sampled_from(names), max_size=2)),
                non_negative=draw(st.booleans()),
                **common,
            )
        elif kind == "flow":
            flows.append(name)
            m.flow(name, draw(_equation), non_negative=draw(st.booleans()), **common)
        elif kind == "aux":
            m.aux(name, draw(_equation), **common)
        else:
            xs = sorted(draw(st.lists(_numbers, min_size=1, max_size=12)))
            pts = [(x, draw(_numbers)) for x in xs]
            m.lookup(
                name,
                pts,
                extrapolation=draw(st.sampled_from(["continuous", "extrapolate", "discrete"])),
                input=draw(st.none() | _equation),
                **common,
            )
    for name in names:
        if m.dimensions and draw(st.booleans()):
            e = m[name]
            dim = draw(st.sampled_from(sorted(m.dimensions)))
            per = draw(st.lists(st.sampled_from(m.dimensions[dim]), unique=True, max_size=2))
            m.add(
                replace(e, dimensions=(dim,), per_element=tuple((k, draw(_equation)) for k in per)),
                replace=True,
            )
    for _ in range(draw(st.integers(0, 2))):
        overrides = draw(st.dictionaries(st.sampled_from(names or ["x"]), _numbers | _equation, max_size=3))
        m.scenario(draw(_display_names), overrides, doc=draw(_text))
    for _ in range(draw(st.integers(0, 2))):
        m.loop(
            draw(_display_names),
            draw(st.lists(_display_names, min_size=1, max_size=4)),
            polarity=draw(st.sampled_from([None, "R", "B"])),
            doc=draw(_text),
        )
    for _ in range(draw(st.integers(0, 3))):
        m.link(
            draw(_display_names),
            draw(_display_names),
            draw(st.sampled_from(["+", "-", "?"])),
            delay=draw(st.booleans()),
            note=draw(_text),
            strength=draw(st.none() | _numbers),
        )
    for name in draw(st.lists(_display_names, max_size=3, unique_by=canonical)):
        info = {k: v for k, v in (("doc", draw(_text)), ("role", draw(_roles))) if v is not None}
        key = canonical(name)
        if name != key:
            info["label"] = name
        m.cld_variables[key] = info
    return m
