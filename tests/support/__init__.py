"""What the tests share: where their data is, and small models with known behaviour.

Every test finds files through the paths here, relative to the repository, so
the suite is complete on any clone (the external models are vendored under
``tests/data``; see its README for where they come from).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
#: the SDXorg test models with their canonical outputs (MIT; tests/data/README.md)
TEST_MODELS = DATA / "test-models"
#: the models shipped with the project (reference model, strategies, archetypes)
MODELS = REPO / "models"
TOOLS = REPO / "tools"


@cache
def compatibility() -> ModuleType:
    """``tools/compatibility.py``: runs a test model and compares it with its canonical output."""
    spec = importlib.util.spec_from_file_location("compatibility", TOOLS / "compatibility.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module
