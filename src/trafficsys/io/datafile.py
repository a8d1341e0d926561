"""Data files: time series that fill a Vensim model's data variables (``ts.load(path, data=FILE)``).

A Vensim *data variable* has no equation (``x :INTERPOLATE:``, ``y[r]
:HOLD BACKWARD:``, or just ``z ~ ~ |``): Vensim fills it from a data file
chosen when the model is run.  The same file, exported as a table, fills it
here.  One sheet of numbers, either way round::

    Time   x     y[north]   y[south]          Time       0    1    2
    0      1     5          7                 x          1    2
    1      2                8          or     y[north]   5         9
    2            9          9                 y[south]   7    8    9

time down the rows (a row of names, then one row per time) or time across
the columns (a row of times, then one row per variable: Vensim's ``.tab``
export).  The orientation is told from which of the first row and the first
column holds the times; a file where both or neither do is refused.  A blank
cell (or ``:NA:``) is a time with no value: the series has points at the other
times only.  Suffixes: ``.tab`` (tab-separated), ``.csv`` (comma-separated),
``.txt`` (tabs if the first line has one, else commas) and ``.xlsx`` (the
first sheet).

Names are matched like the model's (case, spaces and underscores aside);
a subscripted variable takes one series per element, ``y[north]``.  A data
variable's keyword says how it reads between its points (interpolated by
default).  A column naming a variable the model computes, or one it does not
have, is not used (as in Vensim, a data file may hold a whole earlier run); a
:class:`DataFileWarning` lists them.

Errors are :class:`~trafficsys.errors.DataFileError`, naming the file, the row
and the column (1-based, as a spreadsheet shows them).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .. import limits
from ..errors import DataFileError, ModelWarning
from ..model.names import canonical

__all__ = ["DataFileWarning", "DataTable", "Series", "read_data_file", "split_name"]

SUFFIXES = (".tab", ".csv", ".txt", ".xlsx")
_MISSING = ("", ":na:")


class DataFileWarning(ModelWarning):
    """Columns of a data file that fill no data variable of the model (it computes them, or lacks them)."""


@dataclass(frozen=True)
class Series:
    """One variable's (or element's) time series, and where its name stands in the file."""

    name: str  #: as written, ``y[north]``
    key: str  #: the variable's canonical name, ``y``
    elements: tuple[str, ...]  #: canonical element names, ``("north",)``
    times: tuple[float, ...]
    values: tuple[float, ...]
    row: int  #: 1-based row of the name
    column: int  #: 1-based column of the name


@dataclass(frozen=True)
class DataTable:
    """A data file's series; ``across`` is True when time runs across the columns."""

    file: str
    across: bool
    series: tuple[Series, ...]

    @property
    def orientation(self) -> str:
        """``"time across the columns"`` or ``"time down the rows"``."""
        return "time across the columns" if self.across else "time down the rows"


_NAME = re.compile(r"^(?P<base>[^\[\]]*?)\s*(?:\[(?P<subs>[^\[\]]*)\])?\s*$")


def split_name(name: str) -> tuple[str, tuple[str, ...]] | None:
    """Return ``(variable key, element keys)`` of a column name ``y[north, a]``; None if it is not one."""
    text = name.strip()
    while len(text) > 1 and text.startswith('"') and text.endswith('"'):
        text = text[1:-1].strip()
    m = _NAME.match(text)
    if not m or not m.group("base").strip():
        return None
    subs = m.group("subs")
    elements = tuple(canonical(s.strip().strip('"')) for s in subs.split(",")) if subs is not None else ()
    if any(not e for e in elements):
        return None
    return canonical(m.group("base").strip().strip('"')), elements


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _grid(path: Path) -> list[list[str]]:
    """Return the file's cells as text, rows of equal length."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        limits.check_file_size(path)
        try:
            import openpyxl
        except ImportError:  # pragma: no cover - the test extra installs openpyxl
            raise DataFileError(
                "reading .xlsx data files needs openpyxl: pip install 'trafficsys[excel]'", file=str(path)
            ) from None
        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # noqa: BLE001 - a damaged workbook raises many kinds
            raise DataFileError(
                f"cannot read the workbook ({type(e).__name__}: {e})", file=str(path)
            ) from None
        try:
            sheet = book.worksheets[0]
            rows = [["" if c is None else str(c) for c in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    else:
        raw = limits.read_file(path)
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        first = text.split("\n", 1)[0]
        delimiter = "\t" if suffix == ".tab" or (suffix == ".txt" and "\t" in first) else ","
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    rows = [[c.strip() for c in r] for r in rows]
    while rows and not any(rows[-1]):
        rows.pop()
    width = max((len(r) for r in rows), default=0)
    return [r + [""] * (width - len(r)) for r in rows]


def read_data_file(path: str | os.PathLike) -> DataTable:
    """Read a data file (see the module docstring): every series with its times.

    Raises
    ------
    DataFileError
        An unknown suffix; a file with no series; a file whose orientation
        cannot be told; a time that is blank, not a number or not after the
        one before; a cell that is not a number; a blank or unreadable name; a
        name given twice.  Each names the file, the row and the column.
    """
    p = Path(path)
    f = str(p)
    if p.suffix.lower() not in SUFFIXES:
        raise DataFileError(
            f"cannot read a '{p.suffix or '(no suffix)'}' data file; use one of {', '.join(SUFFIXES)}", file=f
        )
    grid = _grid(p)
    if len(grid) < 2 or len(grid[0]) < 2:
        raise DataFileError(
            "the file holds no series: it needs a row (or column) of times and a variable beside it", file=f
        )
    head = [c for c in grid[0][1:] if c]
    side = [r[0] for r in grid[1:] if r[0]]
    across = bool(head) and all(_number(c) is not None for c in head)
    down = bool(side) and all(_number(c) is not None for c in side)
    if across == down:
        what = "both hold only numbers" if across else "neither holds only numbers"
        raise DataFileError(
            f"cannot tell whether time runs down the rows or across the columns: the first row and the "
            f"first column {what}; put the times in the first column under a row of variable names "
            "(time down), or in the first row beside a column of names (time across)",
            file=f,
        )
    # one orientation: cells[i][j] with i the series, j the time; (row, column) of each cell in the file
    if across:
        n_series, n_times = len(grid) - 1, len(grid[0]) - 1

        def at(i: int, j: int) -> tuple[int, int]:
            return i + 1, j + 1  # 0-based row, column in the grid

        def name_at(i: int) -> tuple[int, int]:
            return i + 1, 0

        def time_at(j: int) -> tuple[int, int]:
            return 0, j + 1
    else:
        n_series, n_times = len(grid[0]) - 1, len(grid) - 1

        def at(i: int, j: int) -> tuple[int, int]:
            return j + 1, i + 1

        def name_at(i: int) -> tuple[int, int]:
            return 0, i + 1

        def time_at(j: int) -> tuple[int, int]:
            return j + 1, 0

    def where(rc: tuple[int, int]) -> str:
        return f"row {rc[0] + 1}, column {rc[1] + 1}"

    times: list[float] = []
    for j in range(n_times):
        r, c = time_at(j)
        cell = grid[r][c]
        t = _number(cell)
        if t is None:
            what = "is blank" if not cell else f"'{cell}' is not a number"
            raise DataFileError(f"{where((r, c))}: the time {what}; every time must be a number", file=f)
        if times and t <= times[-1]:
            raise DataFileError(
                f"{where((r, c))}: time {cell} does not come after the time before it ({times[-1]:g}); "
                "times must increase",
                file=f,
            )
        times.append(t)
    series: list[Series] = []
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    for i in range(n_series):
        r, c = name_at(i)
        name = grid[r][c]
        cells = [grid[a][b] for a, b in (at(i, j) for j in range(n_times))]
        if not name:
            if any(cells):
                raise DataFileError(f"{where((r, c))}: a series without a name; name its variable", file=f)
            continue  # an empty column or row (a trailing separator)
        parsed = split_name(name)
        if parsed is None:
            raise DataFileError(
                f"{where((r, c))}: '{name}' is not a variable name (a name, or name[element, ...])", file=f
            )
        if parsed in seen:
            raise DataFileError(
                f"{where((r, c))}: '{name}' is given twice (also as '{seen[parsed]}')", file=f
            )
        seen[parsed] = name
        xs: list[float] = []
        ys: list[float] = []
        for j, cell in enumerate(cells):
            if cell.lower() in _MISSING:
                continue
            v = _number(cell)
            if v is None:
                raise DataFileError(
                    f"{where(at(i, j))}: '{cell}' is not a number ({name} at time {times[j]:g}); "
                    "leave the cell blank for a time without data",
                    file=f,
                )
            xs.append(times[j])
            ys.append(v)
        series.append(Series(name, parsed[0], parsed[1], tuple(xs), tuple(ys), r + 1, c + 1))
    if not series:
        raise DataFileError("the file holds no named series", file=f)
    return DataTable(f, across, tuple(series))
