"""Progress bars for long analyses: shown on a terminal, silent anywhere else.

Every function that runs more than a second of ensembles takes
``progress=None`` and passes it here: ``None`` shows a bar only when standard
error is a terminal (so pipes, log files, CI and notebooks stay clean),
``True`` and ``False`` force it on or off.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["progress_bar", "wanted"]


def wanted(progress: bool | None) -> bool:
    """Resolve ``progress``: None means "when standard error is a terminal"."""
    if progress is not None:
        return bool(progress)
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_bar(total: int, desc: str, progress: bool | None = None, *, unit: str = "step") -> Any:
    """Return a tqdm bar on standard error (a no-op bar when ``progress`` resolves to False).

    Use it as a context manager and call ``update(k)`` as work completes.
    """
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        disable=not wanted(progress),
        leave=False,
        file=sys.stderr,
        dynamic_ncols=True,
    )
