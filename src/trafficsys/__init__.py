"""trafficsys: systems thinking for anti-trafficking programmes.

Represent an intervention ecosystem as a causal-loop diagram and a stock-flow
model, simulate competing strategies under uncertainty, and analyse feedback
loops, their dominance and systems archetypes.
"""

from . import limits
from .errors import (
    AlgebraicLoopError,
    ArityError,
    DataFileError,
    DuplicateVariableError,
    FileFormatError,
    InvalidNameError,
    LimitError,
    ModelError,
    ModelWarning,
    ParseError,
    RangeError,
    SimulationError,
    StructureError,
    UnitsError,
    UnknownVariableError,
    UnsupportedFeatureError,
)
from .model import Model

__version__ = "0.1.0"

# Heavier parts load on first use, so `import trafficsys` stays fast (numpy,
# xarray, scipy and matplotlib are imported by the functions that need them).
_LAZY = {
    "load": "trafficsys.io",
    "save": "trafficsys.io",
    "load_default": "trafficsys.io",
    "simulate": "trafficsys.engine",
    "Simulation": "trafficsys.engine",
    "monte_carlo": "trafficsys.engine",
    "Results": "trafficsys.engine",
    "CausalLoopDiagram": "trafficsys.cld",
    "Loop": "trafficsys.cld",
    "ArchetypeMatch": "trafficsys.cld",
    "ArchetypeFinding": "trafficsys.cld",
    "archetypes": "trafficsys.analysis",
    "loop_dominance": "trafficsys.analysis",
    "sensitivity": "trafficsys.analysis",
    "calibrate": "trafficsys.analysis",
    "find_blocks": "trafficsys.analysis",
    "compare": "trafficsys.scenarios",
    "confirm_polarities": "trafficsys.analysis",
    # result types, each from the package that makes it
    "LoopList": "trafficsys.cld",
    "ArchetypeMatches": "trafficsys.cld",
    "ArchetypeFindings": "trafficsys.cld",
    "LoopDominance": "trafficsys.analysis",
    "SensitivityResult": "trafficsys.analysis",
    "CalibrationResult": "trafficsys.analysis",
    "Block": "trafficsys.analysis",
    "BlocksReport": "trafficsys.analysis",
    "Comparison": "trafficsys.scenarios",
}
#: sub-packages, imported on first use (``ts.engine``, ``ts.cld``...) like everything above
_SUBPACKAGES = ("model", "io", "engine", "cld", "analysis", "scenarios", "plot", "workshop")


def __getattr__(name: str):
    import importlib

    if name in _SUBPACKAGES:  # ts.io.to_pysd(m), ts.engine.compile_model(m), ts.cld.loops(cld)...
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trafficsys' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))


__all__ = [
    "ModelWarning",
    "AlgebraicLoopError",
    "ArityError",
    "DataFileError",
    "DuplicateVariableError",
    "FileFormatError",
    "InvalidNameError",
    "LimitError",
    "Model",
    "ModelError",
    "ParseError",
    "RangeError",
    "SimulationError",
    "StructureError",
    "UnitsError",
    "UnknownVariableError",
    "UnsupportedFeatureError",
    "__version__",
    "limits",
    *_LAZY,
]
