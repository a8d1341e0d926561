"""Model core: elements, the equation language, the Model builder, validation, units."""

from .ast import Binary, Call, Expr, If, Name, Num, Subscript, Unary
from .elements import (
    Aux,
    Constant,
    Distribution,
    Element,
    Extrapolation,
    Flow,
    Kind,
    Link,
    Lookup,
    NamedLoop,
    Scenario,
    Sector,
    Stock,
)
from .model import Model, SimSpecs
from .parser import parse
from .printer import to_xmile

__all__ = [
    "Aux",
    "Binary",
    "Call",
    "Constant",
    "Distribution",
    "Element",
    "Expr",
    "Extrapolation",
    "Flow",
    "If",
    "Kind",
    "Link",
    "Lookup",
    "Model",
    "Name",
    "NamedLoop",
    "Num",
    "Scenario",
    "Sector",
    "SimSpecs",
    "Stock",
    "Subscript",
    "Unary",
    "parse",
    "to_xmile",
]
