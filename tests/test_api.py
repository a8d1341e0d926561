"""The public API: every advertised name resolves, and importing trafficsys stays light."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import trafficsys as ts


@pytest.mark.parametrize("name", ts.__all__)
def test_every_public_name_resolves(name):
    assert getattr(ts, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        ts.nope  # noqa: B018


def test_dir_lists_the_lazy_names():
    assert {"load", "save", "load_default", "simulate"} <= set(dir(ts))


def test_io_front_door():
    assert ts.load.__module__ == "trafficsys.io"
    assert ts.save.__module__ == "trafficsys.io"
    assert callable(ts.load_default)


def test_errors_share_one_base():
    from trafficsys import errors

    for name in errors.__all__:
        base = ts.ModelWarning if name.endswith("Warning") else ts.ModelError
        assert issubclass(getattr(errors, name), base), name
        assert getattr(ts, name) is getattr(errors, name)
    assert not issubclass(ts.ModelWarning, ts.ModelError)  # a warning never stops a run


def test_every_warning_about_a_model_shares_one_base():
    from trafficsys.engine.prepare import StepSizeWarning
    from trafficsys.io.vensim import RenamedVariableWarning
    from trafficsys.io.vensim.convert import MissingDataWarning
    from trafficsys.model.settings import BudgetWarning, RangeWarning

    for w in (StepSizeWarning, RenamedVariableWarning, MissingDataWarning, BudgetWarning, RangeWarning):
        assert issubclass(w, ts.ModelWarning), w


def test_import_does_not_load_heavy_libraries():
    code = (
        "import sys, json, trafficsys; m = trafficsys.Model('x'); "
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
        "('matplotlib', 'pysd', 'dask', 'xarray', 'distributed', 'scipy', 'pandas', 'networkx'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert not loaded, f"import trafficsys loaded {loaded}"


def test_loading_a_toml_model_does_not_load_heavy_libraries():
    code = (
        "import sys, json, trafficsys as ts; from trafficsys.io import model_path; "
        "m = ts.load(model_path('examples/exploitation_exit.toml')); m.validate(); "
        "print(json.dumps(sorted(k for k in sys.modules if k.split('.')[0] in "
        "('matplotlib', 'pysd', 'dask', 'distributed'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def _modules():
    import trafficsys

    for info in pkgutil.walk_packages(trafficsys.__path__, "trafficsys."):
        yield info.name


@pytest.mark.parametrize("module", sorted(_modules()))
def test_every_module_declares_all(module):
    mod = importlib.import_module(module)
    assert hasattr(mod, "__all__"), f"{module} has no __all__"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ lists {name!r}, which it does not define"


def _modules_with_examples():
    import doctest

    finder = doctest.DocTestFinder()
    for name in sorted(_modules()):
        examples = [ex for t in finder.find(importlib.import_module(name)) for ex in t.examples]
        if any(not ex.options.get(doctest.SKIP) for ex in examples):  # some example runs
            yield name


@pytest.mark.parametrize("module", list(_modules_with_examples()))
def test_docstring_examples_run(module):
    """Every docstring example in the package runs (as ``--doctest-modules`` would, on the installed package)."""
    import doctest

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(importlib.import_module(module), optionflags=flags)
    assert result.failed == 0 and result.attempted > 0


def test_every_subpackage_and_result_type_is_reachable_from_a_fresh_interpreter():
    code = (
        "import trafficsys as ts\n"
        "for name in ts._SUBPACKAGES: assert getattr(ts, name).__name__ == 'trafficsys.' + name, name\n"
        "for name in ('Results', 'LoopList', 'ArchetypeMatches', 'LoopDominance', 'SensitivityResult',\n"
        "             'CalibrationResult', 'BlocksReport', 'Comparison'):\n"
        "    assert isinstance(getattr(ts, name), type), name\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
