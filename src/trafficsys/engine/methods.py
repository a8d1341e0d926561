"""Integration methods: a registry of explicit Runge-Kutta tableaus.

The code generator unrolls a method's stages inside the compiled time loop, so
a method is data, not code: its Butcher tableau.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError

__all__ = ["Method", "Euler", "RK4", "METHODS", "get_method"]


@dataclass(frozen=True)
class Method:
    """An explicit Runge-Kutta method, given by its Butcher tableau.

    Contract for a new method (add an instance to :data:`METHODS`):

    * ``a`` is strictly lower triangular (explicit: stage ``i`` only uses the
      derivatives of stages ``0..i-1``), ``c[i] == sum(a[i])`` and
      ``sum(b) == 1``;
    * stage 0 is evaluated at the state and time at the start of the step
      (``c[0] == 0``, ``a[0]`` all zero): those stage-0 values are the ones
      saved, so auxiliaries and flows in the results are the values computed
      from the stocks at each saved time, as in Vensim, Stella and PySD;
    * every weight in ``b`` is non-negative, so the step is a convex
      combination of stage derivatives: a non-negative stock whose outflows
      are limited in every stage stays non-negative, and the flows the two
      stocks of a transfer see are the same weighted flow (conservation).

    The ensemble is an array axis: each stage is evaluated on arrays of shape
    ``(runs,)``, and run ``i`` of a vectorised step equals a step of run ``i``
    alone, to the last bit.
    """

    name: str
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    c: tuple[float, ...]
    order: int
    doc: str = ""

    @property
    def stages(self) -> int:
        """Number of derivative evaluations per step."""
        return len(self.b)

    def check(self) -> None:
        """Raise ``ValueError`` if the tableau breaks the contract above."""
        n = len(self.b)
        if len(self.a) != n or len(self.c) != n or self.c[0] != 0:
            raise ValueError(f"{self.name}: a, b, c must have one entry per stage and c[0] == 0")
        for i, row in enumerate(self.a):
            if len(row) != n or any(row[j] != 0 for j in range(i, n)):
                raise ValueError(f"{self.name}: a must be strictly lower triangular")
            if abs(sum(row) - self.c[i]) > 1e-12:
                raise ValueError(f"{self.name}: c[{i}] must equal the sum of a[{i}]")
        if abs(sum(self.b) - 1) > 1e-12 or min(self.b) < 0:
            raise ValueError(f"{self.name}: b must be non-negative and sum to 1")


Euler = Method(
    "euler", ((0.0,),), (1.0,), (0.0,), 1, "forward Euler: the system dynamics default (Vensim, Stella, PySD)"
)
RK4 = Method(
    "rk4",
    ((0.0, 0.0, 0.0, 0.0), (0.5, 0.0, 0.0, 0.0), (0.0, 0.5, 0.0, 0.0), (0.0, 0.0, 1.0, 0.0)),
    (1 / 6, 1 / 3, 1 / 3, 1 / 6),
    (0.0, 0.5, 0.5, 1.0),
    4,
    "classical fourth-order Runge-Kutta",
)

#: name -> method; ``simulate(method=...)`` looks names up here
METHODS: dict[str, Method] = {"euler": Euler, "rk4": RK4}


def get_method(method: str | Method | None, default: str = "euler") -> Method:
    """Resolve a method name (case-insensitive) or instance."""
    if isinstance(method, Method):
        method.check()
        return method
    key = (method or default).lower().replace("-", "")
    if key not in METHODS:
        raise ModelError(f"unknown integration method {method!r}; choose one of {', '.join(METHODS)}")
    return METHODS[key]
