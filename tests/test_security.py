"""Equations are data: no user text reaches eval/exec/compile.

Three checks: hostile equations are parse errors (and have no effect); a scan
of every source file for calls of eval/exec/compile/__import__, allowed only
on lines marked ``# compiled-ast`` and only on source the function builds
itself; and a run of a model with a booby-trapped name through load, validate
and (when the engine is there) simulate, watching every string handed to
compile/exec/eval.
"""

from __future__ import annotations

import ast as pyast
import builtins
import sys

import pytest
from support import REPO

import trafficsys as ts
from trafficsys.errors import ParseError, UnknownVariableError
from trafficsys.model import ast as ast_nodes
from trafficsys.model.parser import parse

SRC = REPO / "src" / "trafficsys"
DANGEROUS = {"eval", "exec", "compile", "__import__"}
MARK = "# compiled-ast"


@pytest.mark.parametrize(
    "equation",
    [
        "__import__('os').system('touch {flag}')",
        '__import__("os").system("touch {flag}")',
        'exec(\'open("{flag}", "w")\')',
        "().__class__.__base__.__subclasses__()",
        "open('{flag}', 'w').write('x')",
        "x; import os; os.system('touch {flag}')",
        "lambda: __import__('os')",
        "[c for c in ().__class__.__bases__]",
        "a if b else c",
        "f\"{{__import__('os')}}\"",
    ],
)
def test_code_in_an_equation_is_a_parse_error(equation, tmp_path):
    flag = tmp_path / "pwned"
    text = equation.format(flag=flag)
    with pytest.raises(ParseError):
        parse(text, variable="v")
    m = ts.Model("evil")
    m.aux("v", text)
    with pytest.raises(ParseError):
        m.validate()
    assert not flag.exists()


def test_a_quoted_string_is_a_name_not_code(tmp_path):
    """Double quotes delimit a variable name in XMILE: the text inside is data."""
    flag = tmp_path / "pwned"
    text = f"eval(\"__import__('os').system('touch {flag}')\")"
    tree = parse(text)
    assert isinstance(tree, ast_nodes.Call) and tree.func == "eval"
    assert isinstance(tree.args[0], ast_nodes.Name)
    m = ts.Model("evil")
    m.aux("v", text)
    with pytest.raises(UnknownVariableError, match="calls 'eval"):
        m.validate()
    assert not flag.exists()


def test_code_in_a_model_file_is_a_parse_error(tmp_path):
    flag = tmp_path / "pwned"
    path = tmp_path / "evil.toml"
    path.write_text(
        '[model]\nname = "evil"\n\n[auxiliaries.v]\n'
        f"equation = \"__import__('os').system('touch {flag}')\"\n",
        encoding="utf-8",
    )
    with pytest.raises(ParseError) as info:
        ts.load(path)
    assert "evil.toml" in str(info.value) and "'v'" in str(info.value)
    assert not flag.exists()


def _calls(tree: pyast.AST):
    for node in pyast.walk(tree):
        if not isinstance(node, pyast.Call):
            continue
        f = node.func
        if isinstance(f, pyast.Name) and f.id in DANGEROUS:
            yield node, f.id
        elif (
            isinstance(f, pyast.Attribute)
            and f.attr in DANGEROUS
            and isinstance(f.value, pyast.Name)
            and f.value.id in ("builtins", "__builtins__")
        ):
            yield node, f.attr
        elif (
            isinstance(f, pyast.Name)
            and f.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], pyast.Constant)
            and node.args[1].value in DANGEROUS
        ):
            yield node, node.args[1].value


def _enclosing_function(tree: pyast.AST, target: pyast.AST):
    best = None
    for node in pyast.walk(tree):
        if isinstance(node, (pyast.FunctionDef, pyast.AsyncFunctionDef)):
            if node.lineno <= target.lineno <= (node.end_lineno or node.lineno):
                if best is None or node.lineno > best.lineno:
                    best = node
    return best


def _scan():
    """(file, line, name, call node, function node, marked) for every dangerous call in src/."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = pyast.parse(text, filename=str(path))
        lines = text.splitlines()
        for call, name in _calls(tree):
            span = lines[call.lineno - 1 : (call.end_lineno or call.lineno)]
            above = []  # the comment block right above the statement counts as its mark
            i = call.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#"):
                above.append(lines[i])
                i -= 1
            marked = any(MARK in ln for ln in span + above)
            found.append((path, call.lineno, name, call, _enclosing_function(tree, call), marked))
    return found


def test_source_scan_finds_eval_exec_compile_only_on_marked_lines():
    unmarked = [
        f"{p.relative_to(SRC)}:{line} {name}(...)" for p, line, name, _, _, marked in _scan() if not marked
    ]
    assert not unmarked, "eval/exec/compile outside a '# compiled-ast' line: " + ", ".join(unmarked)


def test_source_scan_never_imports_by_name_or_evals():
    bad = [f"{p.relative_to(SRC)}:{line}" for p, line, name, *_ in _scan() if name in ("eval", "__import__")]
    assert not bad, "eval/__import__ have no place in trafficsys: " + ", ".join(bad)


def test_marked_calls_compile_source_the_function_builds_itself():
    """A marked call's code argument is a string literal or a local built in the same function,
    never one of the function's parameters passed straight through."""
    for path, line, name, call, func, marked in _scan():
        if not marked:
            continue
        where = f"{path.relative_to(SRC)}:{line}"
        assert call.args, where
        code = call.args[0]
        if isinstance(code, pyast.Constant):
            continue
        assert func is not None, f"{where}: {name} at module level"
        params = {a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)}
        assert not (isinstance(code, pyast.Name) and code.id in params), (
            f"{where}: {name}() runs its caller's text '{code.id}' unchanged"
        )
        if isinstance(code, pyast.Name):
            assigned = [
                n
                for n in pyast.walk(func)
                if isinstance(n, (pyast.Assign, pyast.AnnAssign))
                and any(
                    isinstance(t, pyast.Name) and t.id == code.id
                    for target in (n.targets if isinstance(n, pyast.Assign) else [n.target])
                    for t in pyast.walk(target)
                )
            ]
            assert assigned, f"{where}: '{code.id}' is not built inside {func.name}()"


def test_the_scan_would_catch_an_unmarked_exec(tmp_path):
    sample = "def f(text):\n    exec(text)\n\ndef g():\n    src = 'x = 1'\n    exec(compile(src, 'g', 'exec'))  # compiled-ast: literal\n"
    tree = pyast.parse(sample)
    names = sorted((c.lineno, n) for c, n in _calls(tree))
    assert names == [(2, "exec"), (6, "compile"), (6, "exec")]
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text(sample)
    global SRC
    old, SRC = SRC, pkg
    try:
        found = {(line, name): marked for _, line, name, _, _, marked in _scan()}
    finally:
        SRC = old
    assert found == {(2, "exec"): False, (6, "compile"): True, (6, "exec"): True}


def test_model_text_never_reaches_compile_or_exec(monkeypatch, tmp_path):
    """Watch every string compile/exec/eval receive while a model is loaded, validated and run."""
    seen: list[str] = []
    real = {n: getattr(builtins, n) for n in ("compile", "exec", "eval")}

    def spy(name):
        def wrapper(source, *args, **kwargs):
            if isinstance(source, (str, bytes)):
                seen.append(source if isinstance(source, str) else source.decode("utf-8", "replace"))
            if name != "compile" and not args and "globals" not in kwargs:
                caller = sys._getframe(1)  # eval/exec without namespaces use the caller's
                args = (caller.f_globals, caller.f_locals)
            return real[name](source, *args, **kwargs)

        return wrapper

    path = tmp_path / "trap.toml"
    trap = "zz_trap_marker_9431"
    path.write_text(
        f"""[model]
name = "trap"
stop = 2
dt = 0.5
time_units = "year"

[constants."{trap} rate"]
value = 0.1
units = "1/year"
doc = "__import__('os') {trap}"

[stocks."{trap} pool"]
initial = 10
outflows = ["{trap} out"]
units = "person"

[flows."{trap} out"]
equation = '"{trap} rate" * "{trap} pool"'
units = "person/year"
""",
        encoding="utf-8",
    )
    for name in real:
        monkeypatch.setattr(builtins, name, spy(name))
    m = ts.load(path)
    m.validate()
    try:
        simulate = ts.simulate
    except (AttributeError, ImportError):
        simulate = None
    if simulate is not None:
        simulate(m)
    for name, fn in real.items():
        monkeypatch.setattr(builtins, name, fn)
    for source in seen:
        assert "__import__('os')" not in source
        assert f"{trap} rate" not in source and f'"{trap}' not in source, source[:500]
