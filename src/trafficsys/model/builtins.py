"""The builtin functions of the equation language: one registry, read by every stage.

The parser checks arity against it, the engine compiles each entry, the
polarity analysis reads each argument's monotonicity, and validation reads
which arguments must be dimensionless.  Adding a builtin means adding an entry
here and its implementation in :mod:`trafficsys.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Builtin", "BuiltinKind", "BUILTINS", "lookup_builtin"]


class BuiltinKind(Enum):
    """How a builtin behaves over time."""

    PURE = "pure"  #: a function of its arguments at this instant
    TIME = "time"  #: a function of its arguments and the clock (STEP, PULSE, RAMP)
    STATEFUL = "stateful"  #: keeps internal stocks (SMTH1, DELAY3...): breaks algebraic loops
    INIT = "init"  #: evaluated once, at the start (INIT)
    ARRAY = "array"  #: reduces over an array dimension (SUM, MEAN...)
    LOOKUP = "lookup"  #: LOOKUP(table, x)
    RANDOM = "random"  #: a new draw at each step, from the run's seed (NORMAL, RANDOM_UNIFORM...)


@dataclass(frozen=True)
class Builtin:
    """One builtin function.

    Attributes
    ----------
    name
        Upper-case XMILE name.
    min_args, max_args
        Accepted argument counts (``max_args=None``: any number).
    kind
        See :class:`BuiltinKind`.
    monotone
        For each argument, +1 if the result never decreases when it grows,
        -1 if it never increases, 0 if neither is known; the last entry
        repeats for variadic functions.  Read by polarity inference.
    dimensionless
        Indices of arguments that must be dimensionless (``EXP(x)``...).
    doc
        One line for error messages and documentation.
    """

    name: str
    min_args: int
    max_args: int | None
    kind: BuiltinKind
    monotone: tuple[int, ...]
    dimensionless: tuple[int, ...] = ()
    doc: str = ""

    def sign(self, i: int) -> int:
        """Monotonicity of argument ``i`` (see ``monotone``)."""
        if not self.monotone:
            return 0
        return self.monotone[min(i, len(self.monotone) - 1)]

    @property
    def arity_text(self) -> str:
        """Human-readable accepted argument count."""
        if self.max_args is None:
            return f"at least {self.min_args}"
        if self.min_args == self.max_args:
            return str(self.min_args)
        return f"{self.min_args} to {self.max_args}"


def _b(name, lo, hi, kind, mono, dimless=(), doc=""):
    return Builtin(name, lo, hi, kind, tuple(mono), tuple(dimless), doc)


P, T, S, A = BuiltinKind.PURE, BuiltinKind.TIME, BuiltinKind.STATEFUL, BuiltinKind.ARRAY
R = BuiltinKind.RANDOM
L = BuiltinKind.LOOKUP

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in [
        _b("ABS", 1, 1, P, [0], doc="absolute value"),
        _b("EXP", 1, 1, P, [1], [0], "e to the power x"),
        _b("LN", 1, 1, P, [1], [0], "natural logarithm"),
        _b("LOG10", 1, 1, P, [1], [0], "base-10 logarithm"),
        _b("SQRT", 1, 1, P, [1], doc="square root"),
        _b("INT", 1, 1, P, [1], doc="largest integer not above x"),
        _b("ROUND", 1, 1, P, [1], doc="nearest integer"),
        _b("SIN", 1, 1, P, [0], [0], "sine (radians)"),
        _b("COS", 1, 1, P, [0], [0], "cosine (radians)"),
        _b("TAN", 1, 1, P, [0], [0], "tangent (radians)"),
        _b("ARCSIN", 1, 1, P, [1], [0], "inverse sine"),
        _b("ARCCOS", 1, 1, P, [-1], [0], "inverse cosine"),
        _b("ARCTAN", 1, 1, P, [1], [0], "inverse tangent"),
        _b("SINH", 1, 1, P, [1], [0], "hyperbolic sine"),
        _b("COSH", 1, 1, P, [0], [0], "hyperbolic cosine"),
        _b("TANH", 1, 1, P, [1], [0], "hyperbolic tangent"),
        _b("GAMMA_LN", 1, 1, P, [0], [0], "Vensim GAMMA LN(x): the logarithm of the gamma function"),
        _b("POWER", 2, 2, P, [0, 0], doc="a to the power b (Vensim POWER; the same as a ^ b)"),
        _b(
            "LOG", 1, 2, P, [0, 0], [0, 1], "Vensim LOG(x, base): the logarithm of x in the base (default 10)"
        ),
        _b("SIGN", 1, 1, P, [1], doc="-1, 0 or 1: the sign of x"),
        _b("INF", 0, 0, P, [], doc="positive infinity (XMILE INF)"),
        _b("MIN", 1, None, P, [1], doc="smallest argument (or smallest element of an array)"),
        _b("MAX", 1, None, P, [1], doc="largest argument (or largest element of an array)"),
        _b("MOD", 2, 2, P, [0, 0], doc="remainder of a / b, sign of b"),
        # Vensim's meanings, kept under Vensim's names (XMILE's INT and MOD keep theirs)
        _b("INTEGER", 1, 1, P, [1], doc="x truncated toward zero (Vensim INTEGER)"),
        _b("MODULO", 2, 2, P, [0, 0], doc="remainder of a / b, sign of a (Vensim MODULO)"),
        _b("QUANTUM", 2, 2, P, [1, 0], doc="Vensim QUANTUM(x, q): q * INTEGER(x / q), or x when q <= 0"),
        _b("PI", 0, 0, P, [], doc="3.14159..."),
        _b("SAFEDIV", 2, 3, P, [0, 0, 0], doc="a / b, or the third argument (default 0) when b = 0"),
        _b("STEP", 2, 2, T, [1, 0], doc="height from time start on"),
        _b(
            "PULSE_TRAIN",
            4,
            4,
            T,
            [0, 0, 0, 0],
            doc="Vensim PULSE TRAIN(start, width, interval, end): 1 "
            "for width (at least one DT) from start, again every interval, until end; else 0",
        ),
        _b("PULSE", 1, 3, T, [1, 0, 0], doc="a pulse of the given volume every interval from first on"),
        _b("RAMP", 2, 3, T, [1, 0, 0], doc="slope * (time - start) from start (until end)"),
        _b("SMTH1", 2, 3, S, [1, 0, 1], doc="first-order exponential smooth"),
        _b("SMTH3", 2, 3, S, [1, 0, 1], doc="third-order exponential smooth"),
        _b("SMTHN", 3, 4, S, [1, 0, 0, 1], doc="n-th order exponential smooth"),
        _b("DELAY1", 2, 3, S, [1, 0, 1], doc="first-order material delay"),
        _b("DELAY3", 2, 3, S, [1, 0, 1], doc="third-order material delay"),
        _b("DELAYN", 3, 4, S, [1, 0, 0, 1], doc="n-th order material delay"),
        _b(
            "DELAY_N",
            4,
            4,
            S,
            [1, 0, 1, 0],
            doc="Vensim's DELAY N(input, delay time, initial value, order): "
            "n-th order material delay, each stage with the delay time of the step its content entered",
        ),
        _b("DELAY", 2, 3, S, [1, 0, 1], doc="pipeline (fixed) delay"),
        _b(
            "NPV",
            4,
            4,
            S,
            [1, -1, 1, 1],
            doc="Vensim NPV(stream, discount rate, initial value, factor): the "
            "present value of the stream so far, the current step's included, times the factor",
        ),
        _b(
            "DELAY_MATERIAL",
            4,
            4,
            S,
            [1, 0, 1, 1],
            doc="Vensim DELAY MATERIAL(input, delay time, initial value, "
            "missing value): a conserving pipeline, each input leaving after the delay time it entered with",
        ),
        _b(
            "SMOOTH_N",
            4,
            4,
            S,
            [1, 0, 1, 0],
            doc="Vensim SMOOTH N(input, delay time, initial value, order): "
            "SMTHN with Vensim's argument order",
        ),
        _b(
            "DELAY_FIXED",
            3,
            3,
            S,
            [1, 0, 1],
            doc="Vensim DELAY FIXED(input, delay time, initial value): "
            "a pipeline delay whose delay time is read once, at the start",
        ),
        _b("TREND", 2, 3, S, [0, 0, 0], doc="fractional rate of change over an averaging time"),
        _b("FORCST", 3, 4, S, [1, 0, 0, 0], doc="trend extrapolation over a horizon"),
        _b("PREVIOUS", 1, 2, S, [1, 1], doc="value at the previous step"),
        _b(
            "SAMPLE_IF_TRUE",
            3,
            3,
            S,
            [0, 1, 1],
            doc="Vensim SAMPLE IF TRUE(condition, input, initial value): "
            "the input while the condition holds, else the value it had at the previous step",
        ),
        _b(
            "ACTIVE_INITIAL",
            2,
            2,
            P,
            [1, 0],
            doc="Vensim ACTIVE INITIAL(active, initial): the initial "
            "equation while the initial values are computed, the active one during the run",
        ),
        # random numbers: a draw per step; the optional last argument picks another stream
        _b("RANDOM", 2, 3, R, [1, 1, 0], doc="XMILE RANDOM(min, max [, seed]): uniform between min and max"),
        _b("NORMAL", 2, 3, R, [1, 0, 0], doc="XMILE NORMAL(mean, sd [, seed]): normal"),
        _b(
            "LOGNORMAL",
            2,
            3,
            R,
            [1, 0, 0],
            doc="XMILE LOGNORMAL(mean, sd [, seed]): EXP of a normal of that mean and standard deviation",
        ),
        _b("EXPRND", 1, 2, R, [1, 0], doc="XMILE EXPRND(mean [, seed]): exponential"),
        _b(
            "POISSON",
            1,
            2,
            R,
            [1, 0],
            doc="XMILE POISSON(mean [, seed]): Poisson (normal approximation above a mean of 500)",
        ),
        _b("RANDOM_0_1", 0, 0, R, [], doc="Vensim RANDOM 0 1(): uniform between 0 and 1"),
        _b("RANDOM_UNIFORM", 3, 3, R, [1, 1, 0], doc="Vensim RANDOM UNIFORM(min, max, seed)"),
        _b(
            "RANDOM_NORMAL",
            5,
            5,
            R,
            [1, 1, 1, 0, 0],
            doc="Vensim RANDOM NORMAL(min, max, mean, sd, seed): normal truncated to [min, max]",
        ),
        _b(
            "RANDOM_EXPONENTIAL",
            5,
            5,
            R,
            [1, 1, 1, 1, 0],
            doc="Vensim RANDOM EXPONENTIAL(min, max, shift, "
            "stretch, seed): shift + stretch * a unit exponential, truncated to [min, max]",
        ),
        _b(
            "RANDOM_POISSON",
            6,
            6,
            R,
            [1, 1, 1, 1, 0, 0],
            doc="Vensim RANDOM POISSON(min, max, mean, shift, "
            "stretch, seed): shift + stretch * a Poisson count of that mean, truncated to [min, max]",
        ),
        _b(
            "RANDOM_TRIANGULAR",
            6,
            6,
            R,
            [1, 1, 1, 1, 1, 0],
            doc="Vensim RANDOM TRIANGULAR(min, max, start, "
            "peak, end, seed): triangular from start to end with its peak at peak, truncated to [min, max]",
        ),
        _b(
            "RANDOM_GAMMA",
            6,
            6,
            R,
            [1, 1, 0, 1, 0, 0],
            doc="Vensim RANDOM GAMMA(min, max, order, shift, "
            "stretch, seed): shift + stretch * a gamma of that order (scale 1), truncated to [min, max]",
        ),
        _b(
            "RANDOM_BETA",
            7,
            7,
            R,
            [1, 1, 0, 0, 1, 0, 0],
            doc="Vensim RANDOM BETA(min, max, alpha, beta, "
            "shift, stretch, seed): shift + stretch * a beta draw, truncated to [min, max]",
        ),
        _b(
            "RANDOM_BINOMIAL",
            7,
            7,
            R,
            [1, 1, 1, 1, 1, 0, 0],
            doc="Vensim RANDOM BINOMIAL(min, max, "
            "probability, trials, shift, stretch, seed): shift + stretch * the successes, truncated",
        ),
        _b(
            "RANDOM_NEGATIVE_BINOMIAL",
            7,
            7,
            R,
            [1, 1, -1, 1, 1, 0, 0],
            doc="Vensim RANDOM NEGATIVE "
            "BINOMIAL(min, max, probability, successes, shift, stretch, seed): shift + stretch * the trials "
            "until that many successes, truncated",
        ),
        _b("INIT", 1, 1, BuiltinKind.INIT, [1], doc="value at the start of the run"),
        _b("SUM", 1, 1, A, [1], doc="sum over an array dimension"),
        _b("PROD", 1, 1, A, [0], doc="product over an array dimension (Vensim PROD)"),
        _b("MEAN", 1, None, A, [1], doc="mean over an array dimension or of the arguments"),
        _b("SIZE", 1, 1, A, [0], doc="number of elements of an array"),
        _b("STDDEV", 1, 1, A, [0], doc="standard deviation over an array dimension"),
        # Vensim's vector functions: over the last dimension of an arrayed argument, flattened with arrays
        _b(
            "VECTOR_SORT_ORDER",
            2,
            2,
            A,
            [0, 0],
            doc="Vensim VECTOR SORT ORDER(vector, direction): the 0-based "
            "index of the element in each place of the sorted vector (ascending when direction > 0)",
        ),
        _b(
            "VECTOR_RANK",
            2,
            2,
            A,
            [0, 0],
            doc="Vensim VECTOR RANK(vector, direction): the 1-based rank of "
            "each element (1 for the smallest when direction > 0, for the largest otherwise)",
        ),
        _b(
            "VECTOR_REORDER",
            2,
            2,
            A,
            [0, 0],
            doc="Vensim VECTOR REORDER(vector, order): the element of vector at each 0-based index of order",
        ),
        _b(
            "VECTOR_ELM_MAP",
            2,
            2,
            A,
            [0, 0],
            doc="Vensim VECTOR ELM MAP(vector[e], offset): the element "
            "offset places after e (NaN outside the vector)",
        ),
        _b(
            "VECTOR_SELECT",
            5,
            5,
            A,
            [0, 0, 0, 0, 0],
            doc="Vensim VECTOR SELECT(selection, expression, "
            "missing, numerical action, error action): a sum, product, minimum, maximum or mean of the "
            "expression where the selection is not 0",
        ),
        _b(
            "ALLOCATE_BY_PRIORITY",
            5,
            5,
            A,
            [1, 0, 0, 0, 1],
            doc="Vensim ALLOCATE BY PRIORITY(request, "
            "priority, size, width, supply): the supply shared out by priority, each priority spread over "
            "the width",
        ),
        _b(
            "VECTOR_LOOKUP",
            5,
            5,
            A,
            [0, 0, 0, 0, 0],
            doc="Vensim VECTOR LOOKUP(vec[first], x, xmin, xmax, "
            "mode): the vector's values at points evenly spaced from xmin to xmax, used as a graphical function "
            "(mode 0 interpolates; 1-9 as LOOKUP AREA, BACKWARD, EXTRAPOLATE, FORWARD, INVERT, SLOPE...)",
        ),
        _b("_VLOOKUP", 5, None, A, [0], doc="internal: VECTOR LOOKUP over flattened elements"),
        _b(
            "INVERT_MATRIX",
            2,
            2,
            A,
            [0, 0],
            doc="Vensim INVERT MATRIX(matrix[i, j], size): the inverse of "
            "the square matrix over the last two dimensions",
        ),
        # what the vector functions become once arrays are flattened (one call per element)
        _b("_INVERT", 4, None, A, [0], doc="internal: one element of an inverted matrix"),
        _b("_VSORT_ORDER", 3, None, A, [0], doc="internal: VECTOR SORT ORDER of one element"),
        _b("_VRANK", 3, None, A, [0], doc="internal: VECTOR RANK of one element"),
        _b("_VPICK", 2, None, A, [0], doc="internal: one element of a vector by 0-based index"),
        _b("_VSELECT", 5, None, A, [0], doc="internal: VECTOR SELECT over flattened elements"),
        _b("_ALLOC_PRIORITY", 5, None, A, [0], doc="internal: ALLOCATE BY PRIORITY of one element"),
        _b("LOOKUP", 2, 2, BuiltinKind.LOOKUP, [0, 0], doc="graphical function applied to x"),
        # Vensim's other uses of a graphical function (its name first)
        _b(
            "LOOKUP_FORWARD",
            2,
            2,
            L,
            [0, 0],
            doc="Vensim LOOKUP FORWARD(table, x): the value at the first "
            "point at or after x (no interpolation)",
        ),
        _b(
            "LOOKUP_BACKWARD",
            2,
            2,
            L,
            [0, 0],
            doc="Vensim LOOKUP BACKWARD(table, x): the value at the last "
            "point at or before x (no interpolation)",
        ),
        _b(
            "LOOKUP_EXTRAPOLATE",
            2,
            2,
            L,
            [0, 0],
            doc="Vensim LOOKUP EXTRAPOLATE(table, x): interpolated, "
            "and the end segments extended beyond the points",
        ),
        _b(
            "LOOKUP_SLOPE",
            2,
            2,
            L,
            [0, 0],
            doc="Vensim LOOKUP SLOPE(table, x): the slope of the segment "
            "holding x (0 beyond the points, where the table is held flat)",
        ),
        _b(
            "LOOKUP_INVERT",
            2,
            2,
            L,
            [0, 0],
            doc="Vensim LOOKUP INVERT(table, y): the first x where the "
            "interpolated table equals y (the end nearest y when none does)",
        ),
        _b(
            "LOOKUP_AREA",
            3,
            3,
            L,
            [0, -1, 1],
            doc="Vensim LOOKUP AREA(table, x1, x2): the area under the "
            "table from x1 to x2 (held flat beyond the points)",
        ),
    ]
}

#: Alternative spellings accepted on input and printed in the canonical form.
ALIASES = {
    "SMOOTH": "SMTH1",
    "SMOOTH3": "SMTH3",
    "ARCSINE": "ARCSIN",
    "SQR": "SQRT",
    # Vensim's names for XMILE builtins with the same arguments and meaning
    "XIDZ": "SAFEDIV",
    "ZIDZ": "SAFEDIV",
    "SMOOTHI": "SMTH1",
    "SMOOTH3I": "SMTH3",
    "DELAY1I": "DELAY1",
    "DELAY3I": "DELAY3",
    "FORECAST": "FORCST",
    "INITIAL": "INIT",
    # Vensim's DELAY INFORMATION "is DELAY FIXED with a delay time that may vary": the input of
    # delay time ago, which XMILE's pipeline DELAY is
    "DELAY_INFORMATION": "DELAY",
    "VMIN": "MIN",
    "VMAX": "MAX",
}


#: builtins whose first argument names a graphical function (``LOOKUP(table, x)``...)
TABLE_CALLS = frozenset(n for n, b in BUILTINS.items() if b.kind is BuiltinKind.LOOKUP)


def lookup_builtin(name: str) -> Builtin | None:
    """Return the builtin called ``name`` (any case, aliases accepted), or None."""
    key = name.upper()
    key = ALIASES.get(key, key)
    return BUILTINS.get(key)
