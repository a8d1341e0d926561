"""The package's import graph follows the data flow (docs/architecture.md).

Imports are read with ``ast`` from every module under ``src/trafficsys``,
function-local ones included.  Two kinds of upward import are documented
conveniences and allowed: ``Model.cld()`` (model -> cld) and the ``plot()`` and ``figure()``
methods of result objects (anything -> plot, inside a method named ``plot*``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
from support import REPO

SRC = REPO / "src" / "trafficsys"
#: the layers that structure and numbers live in, and the layers above them
LOW = {"model", "io", "engine", "cld"}
HIGH = {"analysis", "scenarios", "plot", "commands", "cli", "workshop"}
#: modules every layer may use
SHARED = {"errors", "limits", "__init__"}


@dataclass(frozen=True)
class Import:
    module: str  # importing module, dotted
    target: str  # imported module (or module.name), dotted
    line: int
    function: str  # enclosing function, "" at module level

    @property
    def source_package(self) -> str:
        return _package(self.module)

    @property
    def target_package(self) -> str:
        return _package(self.target)

    def __str__(self) -> str:
        where = f" in {self.function}()" if self.function else ""
        return f"{self.module}:{self.line}{where} imports {self.target}"


def _package(dotted: str) -> str:
    parts = dotted.split(".")
    if len(parts) < 2:
        return "__init__"
    return parts[1].removesuffix(".py")


def _module_name(path: Path) -> tuple[str, str]:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    name = ".".join(parts)
    return name, name if is_package else name.rsplit(".", 1)[0]


def _targets(node: ast.AST, package: str) -> list[str]:
    """The trafficsys modules an import statement names (relative ones resolved against ``package``)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        stem = node.module or ""
        if node.level:
            parts = package.split(".")
            stem = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
        # "from . import x" names the module x; "from .x import y" names the module x
        names = [stem] if node.module else [f"{stem}.{a.name}" for a in node.names]
    else:
        return []
    return [n for n in names if n.startswith("trafficsys")]


def _visit(node: ast.AST, module: str, package: str, function: str, found: list[Import]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _visit(child, module, package, child.name, found)
            continue
        found.extend(Import(module, t, child.lineno, function) for t in _targets(child, package))
        _visit(child, module, package, function, found)


def imports() -> list[Import]:
    found: list[Import] = []
    for path in sorted(SRC.rglob("*.py")):
        module, package = _module_name(path)
        _visit(ast.parse(path.read_text(encoding="utf-8")), module, package, "", found)
    return found


def _documented(imp: Import) -> bool:
    """``Model.cld()`` and the ``plot()`` conveniences of result objects."""
    if imp.target_package == "plot" and (imp.function.startswith("plot") or imp.function == "figure"):
        return True
    return imp.module == "trafficsys.model.model" and imp.function == "cld" and imp.target_package == "cld"


def test_the_reader_sees_function_local_imports():
    found = imports()
    assert any(i.function == "cld" and i.target.startswith("trafficsys.cld") for i in found)
    assert len({i.module for i in found}) > 50


def test_structure_and_numbers_never_import_the_layers_above():
    wrong = [
        str(i)
        for i in imports()
        if i.source_package in LOW and i.target_package in HIGH and not _documented(i)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_packages():
    g = nx.DiGraph()
    for i in imports():
        a, b = i.source_package, i.target_package
        if a != b and b not in SHARED and a not in SHARED and not _documented(i):
            g.add_edge(a, b)
    cycles = list(nx.simple_cycles(g))
    assert not cycles, cycles


def test_only_the_model_writes_its_private_fields():
    """Other packages transform a model through ``Model.with_elements`` / ``add`` / ``remove``."""
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "model" / "model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr in ("_elements", "_ast_cache"):
                    wrong.append(f"{path.relative_to(SRC)}:{node.lineno} writes .{t.attr}")
    assert not wrong, wrong


def test_one_meaning_per_public_type_name():
    """``Metric`` is the comparison indicator everywhere; a name is not a class in one package and an alias in another."""
    import importlib
    import pkgutil

    import trafficsys
    from trafficsys.scenarios import Metric

    seen = {}
    for info in pkgutil.walk_packages(trafficsys.__path__, "trafficsys."):
        if info.name.startswith(("trafficsys.workshop.", "trafficsys.__main__")):
            continue
        module = importlib.import_module(info.name)
        if hasattr(module, "Metric"):
            seen[info.name] = module.Metric
    assert seen and all(v is Metric for v in seen.values()), {
        k: v for k, v in seen.items() if v is not Metric
    }


#: small modules any layer may import at module level: importing them inside a function only hides the dependency
CHEAP = ("trafficsys.errors", "trafficsys.model.names", "trafficsys.model.elements", "trafficsys.io.output")


def test_cheap_modules_are_imported_where_the_reader_sees_them():
    local = [
        str(i)
        for i in imports()
        if i.function and i.target.startswith(CHEAP) and i.source_package not in ("model", "__init__")
    ]
    assert not local, "\n".join(local)


def test_the_did_you_mean_helper_comes_from_names():
    """``suggest`` lives in ``model/names.py``; reaching it through ``model/validate.py`` hid a dependency."""
    wrong = [str(i) for i in imports() if i.target == "trafficsys.model.validate.suggest"]
    assert not wrong, "\n".join(wrong)


def test_no_function_shadows_its_module():
    """``trafficsys.engine.run`` is a module and ``trafficsys.engine.simulate`` a function, never one name for both."""
    import importlib
    import pkgutil

    import trafficsys

    shadowed = []
    for info in pkgutil.walk_packages(trafficsys.__path__, "trafficsys."):
        parent_name, leaf = info.name.rsplit(".", 1)
        if info.name.startswith("trafficsys.workshop.") or parent_name == "trafficsys":
            continue
        module = importlib.import_module(info.name)
        bound = getattr(importlib.import_module(parent_name), leaf, module)
        if bound is not module:
            shadowed.append(f"{info.name} is hidden by the {type(bound).__name__} {parent_name}.{leaf}")
    assert not shadowed, shadowed
