"""The error hierarchy: every mistake a user can make raises a :class:`ModelError`.

Messages name the file, the variable and, for equations, the position, and say
what to do.  The hierarchy is shallow on purpose (one base, one level of
domain-named subclasses) so that ``except ts.ModelError`` catches everything a
user can cause and nothing else.
"""

from __future__ import annotations

__all__ = [
    "ModelError",
    "ParseError",
    "UnknownVariableError",
    "DuplicateVariableError",
    "InvalidNameError",
    "StructureError",
    "AlgebraicLoopError",
    "UnitsError",
    "RangeError",
    "ArityError",
    "SimulationError",
    "FileFormatError",
    "DataFileError",
    "UnsupportedFeatureError",
    "LimitError",
    "ModelWarning",
]


class ModelError(Exception):
    """Base class of every error a user can cause with a model or its inputs.

    Parameters
    ----------
    message
        What went wrong and what to do about it.
    file
        The model file involved, if any.
    variable
        The variable involved, if any.
    """

    def __init__(self, message: str, *, file: str | None = None, variable: str | None = None):
        self.message = message
        self.file = file
        self.variable = variable
        super().__init__(message)

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(f"in {self.file}")
        if self.variable:
            where.append(f"variable '{self.variable}'")
        prefix = (" ".join(where) + ": ") if where else ""
        return prefix + self.message

    def with_context(self, *, file: str | None = None, variable: str | None = None) -> ModelError:
        """Fill in the file and variable if they are not known yet; return ``self``."""
        if file and not self.file:
            self.file = file
        if variable and not self.variable:
            self.variable = variable
        return self


class ParseError(ModelError):
    """An equation could not be parsed.

    Carries the equation ``text`` and the 1-based ``column`` of the problem; the
    message shows the equation with a caret line under that column.
    """

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        column: int | None = None,
        file: str | None = None,
        variable: str | None = None,
    ):
        self.text = text
        self.column = column
        super().__init__(message, file=file, variable=variable)

    def __str__(self) -> str:
        head = super().__str__()
        if self.column is None:
            return head
        line = self.text.replace("\n", " ").replace("\t", " ")
        if len(line) > 200:  # keep the caret line readable for huge inputs
            start = max(0, self.column - 100)
            line = line[start : start + 200]
            col = self.column - start
        else:
            col = self.column
        return f"{head} (column {self.column})\n    {line}\n    {' ' * (col - 1)}^"


class UnknownVariableError(ModelError):
    """An equation refers to a name the model does not define."""


class DuplicateVariableError(ModelError):
    """Two variables share one (normalised) name."""


class InvalidNameError(ModelError):
    """A variable's name breaks the rule for names (see :func:`trafficsys.model.names.name_problem`)."""


class StructureError(ModelError):
    """The stock-flow structure is wrong (a flow attached to no stock or twice...)."""


class AlgebraicLoopError(ModelError):
    """A cycle of equations with no stock or delay on it.

    ``cycle`` lists every variable on the loop, in order.
    """

    def __init__(self, message: str, *, cycle: list[str], file: str | None = None):
        self.cycle = list(cycle)
        super().__init__(message, file=file, variable=cycle[0] if cycle else None)


class UnitsError(ModelError):
    """Dimensional inconsistency in an equation or between a flow and its stock."""


class RangeError(ModelError):
    """A constant's value lies outside its declared range."""


class ArityError(ParseError):
    """A builtin called with the wrong number of arguments (found while parsing)."""


class SimulationError(ModelError):
    """A run failed: NaN or infinity appeared, or the run was set up wrongly.

    ``time`` and ``run`` say where a non-finite value first appeared.
    """

    def __init__(
        self,
        message: str,
        *,
        variable: str | None = None,
        time: float | None = None,
        run: int | None = None,
        file: str | None = None,
    ):
        self.time = time
        self.run = run
        super().__init__(message, file=file, variable=variable)


class FileFormatError(ModelError):
    """A model file is malformed, hostile (XML bombs...), too large, or of unknown type."""


class DataFileError(FileFormatError):
    """A data file given to fill a model's data variables is malformed (the message names its row and column)."""


class UnsupportedFeatureError(ModelError):
    """A model uses a feature trafficsys does not implement; the message names it."""


class LimitError(ModelError):
    """An input or a job is larger than a resource limit allows (see :mod:`trafficsys.limits`).

    ``limit`` is the limit's name (a field of :class:`trafficsys.limits.Limits`),
    ``value`` the size asked for and ``allowed`` the limit in force.  The
    message says how to raise it: ``ts.limits.override(name=...)`` in Python,
    ``--limit name=...`` on the command line.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        value: float,
        allowed: float,
        file: str | None = None,
        variable: str | None = None,
    ):
        self.limit = limit
        self.value = value
        self.allowed = allowed
        super().__init__(message, file=file, variable=variable)


class ModelWarning(UserWarning):
    """Base class of the warnings about a user's model or values (a renamed variable, a value out of range...).

    The command line prints each as a one-line note; in Python they are ordinary warnings
    (``warnings.simplefilter("error", ts.ModelWarning)`` makes them errors).
    """
