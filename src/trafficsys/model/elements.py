"""Model elements: frozen dataclasses, one per kind of variable.

Elements are declarative: they hold equation *text* (what the user wrote, kept
for lossless round trips) plus metadata.  Parsing, validation and compilation
happen elsewhere and never change an element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = [
    "SAMPLE_MODES",
    "Kind",
    "Extrapolation",
    "Distribution",
    "Element",
    "Stock",
    "Flow",
    "Aux",
    "Constant",
    "Lookup",
    "Scenario",
    "NamedLoop",
    "Link",
]


#: how an arrayed constant's range is sampled (``Constant.sample``)
SAMPLE_MODES = ("per_element", "as_one")


class Kind(Enum):
    """The kind of a model variable."""

    STOCK = "stock"
    FLOW = "flow"
    AUX = "aux"
    CONSTANT = "constant"
    LOOKUP = "lookup"


class Extrapolation(Enum):
    """What a graphical function does outside its x range (XMILE 1.0, 3.1.4).

    ``CONTINUOUS`` interpolates linearly inside and holds the end values outside;
    ``EXTRAPOLATE`` extends the end segments linearly; ``DISCRETE`` is a step
    function holding each y until the next x.
    """

    CONTINUOUS = "continuous"
    EXTRAPOLATE = "extrapolate"
    DISCRETE = "discrete"


@dataclass(frozen=True)
class Distribution:
    """The distribution of an uncertain constant over its ``range``.

    ``kind`` is one of ``uniform`` (default), ``triangular`` (``mode``),
    ``normal`` (``mean``, ``sd``, truncated to the range), ``lognormal``
    (``mean``, ``sd`` of the underlying normal, truncated), ``loguniform``.
    """

    kind: str = "uniform"
    params: tuple[tuple[str, float], ...] = ()

    def param(self, name: str, default: float | None = None) -> float | None:
        """Return parameter ``name`` or ``default``."""
        return dict(self.params).get(name, default)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (for files)."""
        return {"kind": self.kind, **dict(self.params)}

    @classmethod
    def from_value(cls, value: Distribution | str | dict | None) -> Distribution | None:
        """Accept a Distribution, a kind name or a dict ``{"kind": ..., **params}``."""
        if value is None or isinstance(value, Distribution):
            return value
        if isinstance(value, str):
            return cls(value)
        d = dict(value)
        kind = d.pop("kind", "uniform")
        return cls(kind, tuple(sorted((k, float(v)) for k, v in d.items())))


@dataclass(frozen=True)
class Element:
    """Fields every variable has."""

    name: str
    units: str | None = None
    doc: str = ""
    role: str | None = None  #: optional archetype role tag (``"goal"``...)
    #: array dimensions (names of ``Model.dimensions``); empty for a scalar
    dimensions: tuple[str, ...] = ()
    #: per-element equations of an arrayed variable: ``(("a,b", "eqn text"), ...)``, keys are
    #: canonical element names joined by ``,``; elements not listed use the main equation
    per_element: tuple[tuple[str, str], ...] = ()

    kind: Kind = field(init=False, default=Kind.AUX)


@dataclass(frozen=True)
class Stock(Element):
    """A stock: integrates its inflows minus its outflows from ``initial``.

    ``initial`` is equation text (a number is text too); ``non_negative``
    stocks scale their outflows so they never go below zero.
    """

    initial: str = "0"
    inflows: tuple[str, ...] = ()
    outflows: tuple[str, ...] = ()
    non_negative: bool = False
    kind: Kind = field(init=False, default=Kind.STOCK)


@dataclass(frozen=True)
class Flow(Element):
    """A flow between stocks (or across the model boundary).

    ``non_negative`` makes a uniflow (XMILE ``<non_negative/>``): negative
    values are cut to zero.
    """

    equation: str = "0"
    non_negative: bool = False
    kind: Kind = field(init=False, default=Kind.FLOW)


@dataclass(frozen=True)
class Aux(Element):
    """An auxiliary: a named expression evaluated every step."""

    equation: str = "0"
    kind: Kind = field(init=False, default=Kind.AUX)


@dataclass(frozen=True)
class Constant(Element):
    """A constant with optional uncertainty.

    Attributes
    ----------
    value
        The point value used by a plain run.
    range
        ``(low, high)`` plausible range, sampled by Monte Carlo.
    distribution
        How to sample the range (uniform when not given).
    source
        A citation, or ``"assumption: <reasoning>"``.
    sample
        For an arrayed constant: ``"per_element"`` (default) samples each
        element as its own uncertain input; ``"as_one"`` draws one number per
        run for every element (the elements are one uncertainty).
    """

    value: float = 0.0
    range: tuple[float, float] | None = None
    distribution: Distribution | None = None
    source: str = ""
    sample: str = "per_element"
    kind: Kind = field(init=False, default=Kind.CONSTANT)


@dataclass(frozen=True)
class Lookup(Element):
    """A graphical function.

    Without ``input`` it is a table called from equations, ``name(x)``; with an
    ``input`` equation it is a variable whose value is the table applied to it
    (XMILE's auxiliary with a ``<gf>``).
    """

    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()
    extrapolation: Extrapolation = Extrapolation.CONTINUOUS
    input: str | None = None
    #: per-element tables of an arrayed graphical function, ``(("a,b", xs, ys), ...)`` (keys as in
    #: ``per_element``); elements not listed use ``xs`` and ``ys``
    tables: tuple[tuple[str, tuple[float, ...], tuple[float, ...]], ...] = ()
    kind: Kind = field(init=False, default=Kind.LOOKUP)

    @property
    def points(self) -> list[tuple[float, float]]:
        """``[(x, y), ...]``."""
        return list(zip(self.xs, self.ys))


@dataclass(frozen=True)
class Scenario:
    """A named set of overrides applied on top of the base model.

    ``set`` maps a constant's name to a number (a new value) or to equation
    text (a time-varying policy, e.g. ``"RAMP(0.02, 5, 10)"``).
    """

    name: str
    set: tuple[tuple[str, float | str], ...] = ()
    doc: str = ""

    @property
    def overrides(self) -> dict[str, float | str]:
        """The overrides as a dict."""
        return dict(self.set)


@dataclass(frozen=True)
class NamedLoop:
    """A feedback loop the modeller names: the variables in order, and the declared polarity."""

    name: str
    variables: tuple[str, ...]
    polarity: str | None = None  #: "R", "B" or None
    doc: str = ""


@dataclass(frozen=True)
class Link:
    """A signed causal link of a hand-drawn CLD."""

    source: str
    target: str
    polarity: str = "+"  #: "+", "-" or "?"
    delay: bool = False
    note: str = ""
    strength: float | None = None
