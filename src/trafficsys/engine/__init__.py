"""The simulation engine: compile a model (to a numba kernel, or to numpy), simulate, step, and run ensembles.

Front doors: :func:`simulate` (one run, or one per element of parameter
arrays), :class:`Simulation` (step by hand), :func:`monte_carlo` (sample the
declared uncertainty and run it in memory-bounded chunks, optionally on any
``concurrent.futures.Executor``).  :func:`compile_model` exposes the compiled
form, whose :meth:`~CompiledModel.evaluate` re-evaluates one equation on arrays.
"""

from .compiled import CompiledModel, compile_model
from .methods import METHODS, Method
from .montecarlo import monte_carlo
from .results import Results
from .run import Simulation, StepSizeWarning, simulate
from .sampling import as_generator, sample_constants

__all__ = [
    "CompiledModel",
    "METHODS",
    "Method",
    "Results",
    "Simulation",
    "StepSizeWarning",
    "as_generator",
    "compile_model",
    "monte_carlo",
    "sample_constants",
    "simulate",
]
