"""The compiled kernel: a whole ensemble in one numba function, cached on disk.

The code generator (:mod:`~trafficsys.engine.codegen`, flavour ``"kernel"``)
writes one function per (model structure, method, saved variables): a loop
over a block of runs, each run's state in local variables, the time loop
inside, the ledger accumulated as it goes, only what is saved or needed
computed, and the saves written straight into a preallocated array laid out
run-major, ``out[run, save, variable]``.  The function releases the GIL; an
ensemble is cut into one block of runs per CPU, run on threads.

Why threads rather than numba's ``prange``: the parallel compiler compiles
the loop body a second time (as a gufunc) for the same parallel speed on
independent runs.  ``benchmarks/kernel_prange.py`` compiles the same
generated source both ways: the reference model's kernel took 4.1 s of CPU
to compile with threads and 9.2 s with ``prange`` (the 24-stock chain 2.0 s
and 3.3 s), its 5,000 runs 0.50 s of CPU either way, with identical saves.

The source is generated from our own validated AST with mangled identifiers
only (as every generated function in the engine); it is written to a file in
the user's cache folder (``platformdirs.user_cache_dir("trafficsys")``, or
``$TRAFFICSYS_CACHE_DIR``) named by its hash, so that numba's own cache keeps
the machine code beside it and a second process loads it without compiling.
The text run is always the one generated in this process; the file only gives
numba a place for its cache.

:func:`choose` decides between this kernel and the numpy path.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import threading
import time
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelError, UnsupportedFeatureError
from ..model.elements import Extrapolation
from .codegen import KernelUnsupported, _Program
from .methods import Method

__all__ = ["BACKENDS", "STATS", "Kernel", "available", "cache_dir", "choose", "get_kernel", "kernel_source"]

#: the values of ``simulate(backend=...)`` and of ``$TRAFFICSYS_BACKEND``
BACKENDS = ("auto", "numba", "numpy")
#: calls of at least this many runs take the kernel under backend="auto" (compiling it if need be), fewer numpy
AUTO_RUNS = 100
#: a compile announces itself after this many seconds
ANNOUNCE_AFTER = 1.0
#: kernels longer than this many lines are left to numpy unless ``backend="numba"`` asks for them: numba's
#: compile time grows with the square of a function's length (its SSA pass revisits every block for each
#: variable assigned in the time loop). Measured on a loaded 2-core machine (CPU seconds): 744 lines (the
#: reference model) 4 s, 1,114 lines 8 s, 2,219 lines 24 s, 4,428 lines 95 s, 11,456 lines (a published
#: 500-variable model) over 10 min; at this bound a compile takes about 30 s, once per model structure.
AUTO_KERNEL_LINES = 2500

_log = logging.getLogger("trafficsys")
_LOADED: dict[str, Any] = {}  #: source hash -> compiled dispatcher, for this process
#: kernels this process compiled, and loaded from the disk cache
STATS = {"compiled": 0, "loaded": 0}
_LOCK = threading.Lock()
_RUNTIME_NAMES = (
    "INF",
    "_abs",
    "_gabs",
    "_ite",
    "_limit",
    "_negv",
    "_posv",
    "_scaleneg",
    "_scalepos",
    "_arccos",
    "_arcsin",
    "_arctan",
    "_clampneg",
    "_cos",
    "_exp",
    "_floor",
    "_fmod",
    "_interp",
    "_log",
    "_log10",
    "_max2",
    "_min2",
    "_mod",
    "_pow",
    "_pulse",
    "_gammaln",
    "_invert",
    "_lforward",
    "_lbackward",
    "_lslope",
    "_lextrapolate",
    "_linvert",
    "_larea",
    "_vsort_order",
    "_vrank",
    "_vpick",
    "_vselect_check",
    "_alloc_priority",
    "_r_random",
    "_r_random01",
    "_r_normal",
    "_r_lognormal",
    "_r_exprnd",
    "_r_poisson",
    "_r_random_normal",
    "_r_random_exponential",
    "_r_random_triangular",
    "_r_random_poisson",
    "_pulse_train",
    "_sign",
    "_sinh",
    "_cosh",
    "_tanh",
    "_quantum",
    "_ramp",
    "_round",
    "_safediv",
    "_sin",
    "_sqrt",
    "_stepf",
    "_tan",
    "_trunc",
)
_SIGNATURE = (
    "(float64[:, ::1], int64, int64, float64, float64, float64, int64, int64, float64[:, :, ::1], "
    "float64[:, ::1], float64[:, ::1], float64[:, ::1], float64[::1])"
)
#: runs per thread below which an ensemble runs on the calling thread alone
MIN_RUNS_PER_THREAD = 8


def available() -> bool:
    """Return True if numba can be imported (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def cache_dir() -> Path | None:
    """Return the folder kernels are cached in (None if there is no writable one)."""
    env = os.environ.get("TRAFFICSYS_CACHE_DIR")
    if env:
        base = Path(env)
    else:
        import platformdirs

        base = Path(platformdirs.user_cache_dir("trafficsys"))
    path = base / "kernels"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


def _runtime_stamp() -> str:
    """Return a hash of the builtins' source and numba's version (kernels built on others are not reused)."""
    from importlib.metadata import version

    here = Path(__file__).with_name("kernel_runtime.py")
    return hashlib.sha256(here.read_bytes() + version("numba").encode()).hexdigest()[:16]


def kernel_source(plan: Any, method: Method, record: tuple[str, ...] | None, file: str | None = None) -> str:
    """Return the module source of the kernel for ``plan`` (raises :class:`KernelUnsupported`)."""
    p = _Program(plan, method, "kernel", file, record)
    p.kernel_function()
    head = [
        "import numpy as np",
        "from numba import njit",
        f"from trafficsys.engine.kernel_runtime import {', '.join(_RUNTIME_NAMES)}",
        "_CACHE = True",
        "",
    ]
    for name, ident in p.table_ids.items():
        t = plan.tables[name]
        xs = [float(x) for x in t.xs]
        ys = [float(y) for y in t.ys]
        slopes = [
            (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) if xs[i + 1] != xs[i] else 0.0
            for i in range(len(xs) - 1)
        ] or [0.0]
        kind = (
            0
            if t.extrapolation is Extrapolation.DISCRETE
            else (2 if t.extrapolation is Extrapolation.EXTRAPOLATE else 1)
        )
        head += [
            f"{ident}X = np.array({xs!r})",
            f"{ident}Y = np.array({ys!r})",
            f"{ident}S = np.array({slopes!r})",
            "",
            "@njit(cache=_CACHE, error_model='numpy')",
            f"def {ident}(x):",
            f"    return _interp(x, {ident}X, {ident}Y, {ident}S, {kind})",
            "",
        ]
    return "\n".join(head + p.lines) + "\n"


@dataclass
class Kernel:
    """A compiled kernel and what its arrays hold."""

    fn: Any
    nrec: int
    nstates: int
    nacc: int

    def run(
        self,
        P: np.ndarray,
        n: int,
        start: float,
        dt: float,
        stop: float,
        nsteps: int,
        every: int,
        out: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Run ``n`` runs: ``P`` is (constants, runs), ``out`` (runs, saves, variables), both C-ordered.

        Returns ``(S0, SF, ACC, BAD)``: initial and final states (runs, states), the ledger's
        accumulators (runs, flows), and per run 0.0, or NaN if a saved value was not finite.
        """
        S0 = np.empty((n, self.nstates))
        SF = np.empty((n, self.nstates))
        ACC = np.empty((n, self.nacc))
        BAD = np.empty(n)
        args: tuple[Any, ...] = (
            float(start),
            float(dt),
            float(stop),
            np.int64(nsteps),
            np.int64(every),
            out,
            S0,
            SF,
            ACC,
            BAD,
        )
        threads = min(_threads(), n // MIN_RUNS_PER_THREAD)
        if threads <= 1:
            self.fn(P, np.int64(0), np.int64(n), *args)
        else:  # the kernel releases the GIL: one contiguous block of runs per thread
            cuts = [n * i // threads for i in range(threads + 1)]
            futures = [
                _pool().submit(self.fn, P, np.int64(a), np.int64(b), *args) for a, b in zip(cuts, cuts[1:])
            ]
            for f in futures:
                f.result()
        return S0, SF, ACC, BAD


_POOL: ThreadPoolExecutor | None = None
_POOL_PID = 0


def _threads() -> int:
    """Threads an ensemble runs on: ``$TRAFFICSYS_THREADS``, else the CPUs this process may use."""
    env = os.environ.get("TRAFFICSYS_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _pool() -> ThreadPoolExecutor:
    """Return the threads kernels run on (made again in a forked child, whose copy has no live threads)."""
    global _POOL, _POOL_PID
    with _LOCK:
        if _POOL is None or _POOL_PID != os.getpid() or _POOL._max_workers < _threads():
            _POOL = ThreadPoolExecutor(max_workers=_threads(), thread_name_prefix="trafficsys-kernel")
            _POOL_PID = os.getpid()
        return _POOL


class _Announcer:
    """Say on stderr (a terminal) or in the log what a compile taking more than a second is doing."""

    def __init__(self, what: str):
        self.what = what
        self.said = False
        self.t0 = time.perf_counter()
        self.timer = threading.Timer(ANNOUNCE_AFTER, self.say)
        self.timer.daemon = True

    def _emit(self, text: str) -> None:
        if sys.stderr is not None and sys.stderr.isatty():
            print(text, file=sys.stderr, flush=True)
        else:
            _log.info(text)

    def say(self) -> None:
        self.said = True
        self._emit(f"trafficsys: {self.what} ...")

    def __enter__(self) -> _Announcer:
        self.timer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timer.cancel()
        if self.said:
            self._emit(f"trafficsys: {self.what}: done in {time.perf_counter() - self.t0:.1f} s")


def _load(cm: Any, method: Method, record: tuple[str, ...] | None) -> Any:
    """Compile the kernel module of ``cm`` (generated here from its plan) and return its compiled ``_kernel``."""
    source, digest = cm_source(cm, method, record)
    title = f"model '{cm.model.name}' ({method.name})"
    folder = cache_dir()
    name = f"tskernel_{digest}"
    if folder is not None:
        path = folder / f"{name}.py"
        try:
            if not path.exists() or path.read_text(encoding="utf-8") != source:
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(source, encoding="utf-8")
                os.replace(tmp, path)
        except OSError:
            folder = None
    if folder is None:  # no cache folder: compile in memory only
        source = source.replace("_CACHE = True", "_CACHE = False", 1)
        filename = f"<trafficsys kernel {digest}>"
        cached = False
    else:
        filename = str(folder / f"{name}.py")
        cached = any((folder / "__pycache__").glob(f"{name}._kernel-*.nbi"))
    # a module of its own, registered, so that numba's cache finds it again when it loads the kernel
    module = types.ModuleType(name)
    module.__file__ = filename
    ns = module.__dict__
    # compiled-ast: the kernel source is generated above from our validated AST (mangled identifiers only)
    code = compile(source, filename, "exec")
    exec(code, ns)  # compiled-ast: defines the kernel and its graphical functions
    sys.modules[name] = module
    fn = ns["_kernel"]
    what = (
        f"loading the compiled kernel of {title}"
        if cached
        else f"compiling {title} with numba (once per model structure; "
        + ("cached in " + str(folder) if folder is not None else "not cached: no writable cache folder")
        + ")"
    )
    lines = kernel_lines(source)
    if not cached and lines > AUTO_KERNEL_LINES:
        what += (
            f"; its kernel has {lines:,} lines and numba's compile time grows with the square of that: expect "
            "minutes (backend='numpy' starts at once)"
        )
    with _Announcer(what):
        fn.compile(_SIGNATURE)
    STATS["loaded" if sum(fn.stats.cache_hits.values()) else "compiled"] += 1
    return fn


def get_kernel(cm: Any, method: Method, record: tuple[str, ...] | None) -> Kernel:
    """Return the kernel of ``cm`` for ``method`` saving ``record`` (compiled or loaded once per process).

    Raises
    ------
    KernelUnsupported
        When the model uses a construct the kernel does not handle.
    """
    key = ("kernel", method.name, record)
    got = cm._code.get(key)
    if got is not None:
        return got
    _, digest = cm_source(cm, method, record)
    with _LOCK:
        fn = _LOADED.get(digest)
        if fn is None:
            fn = _load(cm, method, record)
            _LOADED[digest] = fn
    nrec = len(cm.recorded if record is None else record)
    k = Kernel(fn, nrec, len(cm.states), cm.n_acc)
    cm._code[key] = k
    return k


def cm_source(cm: Any, method: Method, record: tuple[str, ...] | None) -> tuple[str, str]:
    """Return the kernel source of a compiled model and its hash (cached; KernelUnsupported if none)."""
    key = ("kernel-source", method.name, record)
    got = cm._code.get(key)
    if got is None:
        try:
            source = kernel_source(cm.plan, method, record, cm.model.file)
            source = f"# trafficsys kernel, runtime {_runtime_stamp()}\n" + source
            got = (source, hashlib.sha256(source.encode()).hexdigest()[:24])
        except KernelUnsupported as e:
            got = e
        cm._code[key] = got
    if isinstance(got, KernelUnsupported):
        raise got
    return got


def choose(backend: str | None, cm: Any, method: Method, record: tuple[str, ...] | None, runs: int) -> str:
    """Resolve ``backend`` (``"auto"``, ``"numba"``, ``"numpy"``; None: ``$TRAFFICSYS_BACKEND``, else auto).

    ``"auto"`` takes the kernel when numba can be imported, the model has
    nothing the kernel lacks, and the call runs at least :data:`AUTO_RUNS`
    runs; else numpy.  The rule looks at nothing but the call (not at what is
    loaded in this process or cached on disk), so the same call always takes
    the same path and gives the same bits.  Why 100: numba's import and the
    loading of a cached kernel cost about 0.6 s of CPU once per process (a
    compile, seconds, once per model structure on the machine), while a
    vectorised numpy call costs a fixed 0.15 s or more for the reference
    model whatever its runs; a 100-run Monte Carlo of it (spin-up and run)
    takes 0.8 s on numpy and 0.04 s on the kernel, a single run 3 ms on numpy.
    A model whose kernel would pass :data:`AUTO_KERNEL_LINES` lines runs on
    numpy (its compile would take minutes) unless ``backend="numba"`` is
    given.  A ``backend="numba"`` that cannot be honoured raises;
    ``TRAFFICSYS_BACKEND=numba`` falls back to numpy where the kernel cannot
    serve or would be that long.
    """
    from_env = backend is None
    if backend is None:
        backend = os.environ.get("TRAFFICSYS_BACKEND", "auto").strip().lower() or "auto"
    if backend not in BACKENDS:
        where = "$TRAFFICSYS_BACKEND" if from_env else "backend"
        raise ModelError(f"{where} must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numpy":
        return "numpy"
    if not available():
        if backend == "numba" and not from_env:
            raise ModelError("backend='numba' needs numba (pip install numba); or use backend='auto'")
        return "numpy"
    try:
        source, _ = cm_source(cm, method, record)
    except KernelUnsupported as e:
        if backend == "numba" and not from_env:
            raise UnsupportedFeatureError(
                f"the compiled kernel does not handle {e}; use backend='numpy' "
                "(or 'auto', which does so by itself)",
                file=cm.model.file,
            ) from None
        return "numpy"
    if backend == "numba" and not from_env:
        return "numba"
    if kernel_lines(source) > AUTO_KERNEL_LINES:  # the compile would cost minutes: numpy serves at once
        return "numpy"
    return "numba" if backend == "numba" or runs >= AUTO_RUNS else "numpy"


def kernel_lines(source: str) -> int:
    """Return the length in lines of the kernel function in ``source`` (what numba's compile time follows)."""
    start = source.find("\ndef _kernel(")
    return source.count("\n", start) if start >= 0 else source.count("\n")
