"""trafficsys: systems thinking for anti-trafficking programmes.

Represent an intervention ecosystem as a causal-loop diagram and a stock-flow
model, simulate competing strategies under uncertainty, and analyse feedback
loops, their dominance and systems archetypes.
"""

from .errors import (
    AlgebraicLoopError,
    ArityError,
    DuplicateVariableError,
    FileFormatError,
    ModelError,
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

__all__ = [
    "AlgebraicLoopError",
    "ArityError",
    "DuplicateVariableError",
    "FileFormatError",
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
]
