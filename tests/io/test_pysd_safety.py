"""No model file runs code: not through our Vensim reader, not through the PySD bridge.

PySD's translators call ``eval`` on model text (a lookup's range, its points,
numbers, strings), which is why Vensim files are read by our own grammar, where
a lookup holds numbers only; PySD's Python builder writes a variable's
documentation into triple-quoted strings of a module it imports (the bridge,
``to_pysd``).  These tests plant code that would write a sentinel file in each
of those places and check that the sentinel never appears, that the reader
names the variable and the line, and that the dependency has no
``eval``/``exec`` the guard does not know about.
"""

from __future__ import annotations

import ast as pyast
import importlib.util
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mdl_text import mdl

import trafficsys as ts
from trafficsys.errors import FileFormatError
from trafficsys.io import pysd_guard
from trafficsys.io.pysd_guard import inert_doc, literal

pytest.importorskip("pysd")


def _payload(flag: Path, quote: str = "'") -> str:
    q = quote
    return f"__import__({q}os{q}).system({q}touch {flag}{q})"


VENSIM_VECTORS = {
    "standalone lookup range": "tab([({p},0)-(1,1)],(0,0),(1,1))\n\t~\t\n\t~\t\t|\n\nx = tab(Time)\n\t~\t\n\t~\t\t|\n",
    "with lookup range": "y = WITH LOOKUP(Time, ([({p},0)-(1,1)],(0,0),(1,1)))\n\t~\t\n\t~\t\t|\n",
    "range second point": "tab([(0,0)-({p},1)],(0,0),(1,1))\n\t~\t\n\t~\t\t|\n\nx = tab(Time)\n\t~\t\n\t~\t\t|\n",
}


@pytest.mark.parametrize("quote", ["'", '"'])
@pytest.mark.parametrize("where", sorted(VENSIM_VECTORS))
def test_code_in_a_vensim_lookup_range_is_a_parse_error(tmp_path, where, quote):
    flag = tmp_path / "pwned"
    p = tmp_path / "evil.mdl"
    p.write_text(mdl(VENSIM_VECTORS[where].format(p=_payload(flag, quote))))
    with pytest.raises(ts.ParseError) as info:
        ts.load(p)
    assert not flag.exists()
    msg = str(info.value)
    assert "evil.mdl" in msg and "unexpected '__import__'" in msg
    assert info.value.variable in {"tab", "y"}
    assert "line " in msg


def test_validate_on_the_command_line_refuses_and_runs_nothing(tmp_path):
    from trafficsys.cli import main

    flag = tmp_path / "pwned"
    p = tmp_path / "evil.mdl"
    p.write_text(mdl(VENSIM_VECTORS["standalone lookup range"].format(p=_payload(flag))))
    assert main(["validate", str(p)]) != 0
    assert not flag.exists()


def test_the_tripwire_is_off_outside_the_translator(tmp_path):
    """The audit hook only acts while a translator runs: ordinary eval elsewhere is untouched."""
    with pysd_guard.translating():
        pass
    assert eval("1 + 1") == 2  # noqa: S307 - a constant, checking the hook is inactive here


def test_lookups_with_ranges_and_exponents_read(tmp_path):
    p = tmp_path / "ok.mdl"
    p.write_text(
        mdl(
            "tab([(0,-1)-(10,10)],(0,0),(5,2.5),(10,10))\n\t~\t\n\t~\t\t|\n\n"
            "x = tab(Time)\n\t~\t\n\t~\t\t|\n\n"
            "y = WITH LOOKUP(Time, ([(0,0)-(10,1e+001)],(0,0),(10,-1.5)))\n\t~\t\n\t~\t\t|\n"
        )
    )
    df = ts.simulate(ts.load(p)).to_pandas()
    assert df["x"].iloc[5] == pytest.approx(2.5)
    assert df["y"].iloc[10] == pytest.approx(-1.5)


DOC_PAYLOADS = [
    '"""\nimport os; os.system("touch {flag}")\n"""',
    '\\"""\n__import__("os").system("touch {flag}")\n"""',
    "'''\n__import__('os').system('touch {flag}')\n'''",
    '""" + __import__("os").system("touch {flag}") + """',
    'x\\\\\n""";__import__("os").system("touch {flag}");"""',
]


@pytest.mark.parametrize("payload", DOC_PAYLOADS)
def test_code_in_a_doc_does_not_run_through_the_pysd_bridge(tmp_path, payload):
    from trafficsys.io.pysd_bridge import pysd_frame

    flag = tmp_path / "pwned"
    text = payload.format(flag=flag)
    m = ts.Model("evil", start=0, stop=2, dt=1)
    m.constant("c", 1, doc=text, units="person")
    m.aux("a", "c * 2", doc=text)
    m.stock("s", initial=0, inflows=["f"], doc=text)
    m.flow("f", "a", doc=text)
    df = pysd_frame(m, directory=tmp_path / "pysd")
    assert not flag.exists()
    assert list(df["s"]) == [0, 2, 4]


def test_the_bridge_leaves_the_callers_model_alone(tmp_path):
    from trafficsys.io.pysd_bridge import to_pysd

    m = ts.Model("m", start=0, stop=1, dt=1)
    m.constant("c", 1, doc='say """hi"""')
    to_pysd(m, tmp_path)
    assert m["c"].doc == 'say """hi"""'


@given(st.text(max_size=60))
@settings(max_examples=200, deadline=None)
def test_an_inert_doc_cannot_end_or_escape_a_triple_quoted_string(text):
    doc = inert_doc(text)
    source = f'def f():\n    """\n{doc}\n"""\n    return 1\n'
    tree = pyast.parse(source)
    body = tree.body[0].body
    assert len(body) == 2 and isinstance(body[0], pyast.Expr) and isinstance(body[1], pyast.Return)


_literals = st.recursive(
    st.one_of(
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(
            alphabet=st.characters(blacklist_characters="'\\", blacklist_categories=("Cs",)), max_size=10
        ),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple)),
    max_leaves=12,
)


@given(_literals)
@settings(max_examples=300, deadline=None)
def test_literal_reads_what_python_would_for_plain_literals(value):
    assert literal(repr(value)) == value


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "(1, open('x'))",
        "[x for x in ()]",
        "1 + 1",
        "{1: 2}",
        "{1}",
        "lambda: 0",
        "().__class__",
        "b'1'",
        "1j",
        "f'{1}'",
        "(" * 500 + "1" + ")" * 500,
        "x",
        "",
    ],
)
def test_literal_refuses_anything_but_numbers_strings_and_lists(text):
    with pytest.raises(FileFormatError):
        literal(text)


def _calls(path: Path, names: set[str]) -> list[int]:
    tree = pyast.parse(path.read_text(encoding="utf-8"))
    return [
        n.lineno
        for n in pyast.walk(tree)
        if isinstance(n, pyast.Call) and isinstance(n.func, pyast.Name) and n.func.id in names
    ]


def test_every_eval_in_pysds_translators_is_one_the_guard_replaces():
    """Audit the dependency: a PySD release that adds eval/exec in a new translator module fails here."""
    root = Path(importlib.util.find_spec("pysd").submodule_search_locations[0])
    guarded = {m.rsplit(".", 1)[1] for m in pysd_guard._EVALUATING_MODULES}
    found = {}
    for path in (root / "translators").rglob("*.py"):
        if lines := _calls(path, {"eval", "exec", "compile", "__import__"}):
            found[path.stem] = lines
    unguarded = {name: lines for name, lines in found.items() if name not in guarded}
    assert not unguarded, f"PySD translator modules evaluating text the guard does not cover: {unguarded}"
    assert found, "no eval found at all: the audit is looking in the wrong place"


def test_the_builder_exec_is_only_for_split_views():
    """PySD's Python builder exec()s only when a model is split into modules, which the bridge never asks for."""
    root = Path(importlib.util.find_spec("pysd").submodule_search_locations[0])
    builder = root / "builders" / "python" / "python_model_builder.py"
    text = builder.read_text(encoding="utf-8").splitlines()
    lines = _calls(builder, {"exec", "eval"})
    assert all("load_modules" in text[i - 1] for i in lines), lines
    bridge = Path(ts.__file__).parent / "io" / "pysd_bridge.py"
    assert "split_views" not in bridge.read_text(encoding="utf-8")
