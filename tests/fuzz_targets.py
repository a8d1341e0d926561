"""Fuzz targets shared by the tests (a bounded number of examples) and ``tools/fuzz.py`` (long runs).

Each target takes a hypothesis-drawn hostile text and plants it in one field of
one file format: names, equations, units, docs, sources and lookups, in TOML,
XMILE and Vensim.  The text carries a payload that would create a sentinel
file if any reader, validator, simulator, writer or dependency ran it.  A
target passes when loading the file either works or raises a ``ModelError``,
and the sentinel never appears.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
from hypothesis import strategies as st

import trafficsys as ts
from trafficsys.engine.kernel import cache_dir

__all__ = ["payloads", "FIELDS", "FORMATS", "plant", "check"]


def _code(flag: Path) -> list[str]:
    f = str(flag)
    return [
        f"__import__('os').system('touch {f}')",
        f'__import__("os").system("touch {f}")',
        f"open('{f}', 'w').write('x')",
        f'"""\n__import__("os").system("touch {f}")\n"""',
        f"'''\n__import__('os').system('touch {f}')\n'''",
        f"\\\"\"\"\n__import__('os').system('touch {f}')#",
        f"{{{{__import__('os').system('touch {f}')}}}}",
        f"]],(__import__('os').system('touch {f}'),0)-(1,1)],(0,0)",
        f"<![CDATA[{f}]]>",
    ]


def payloads(flag: Path):
    """Hostile texts: code that would touch ``flag``, wrapped in random text and quotes."""
    noise = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
    quotes = st.sampled_from(["", "'", '"', '"""', "'''", "\\", "\n", "|", "~", "{", "}", "[", "]"])
    return st.builds(
        lambda a, q1, code, q2, b: a + q1 + code + q2 + b,
        noise,
        quotes,
        st.sampled_from(_code(flag)),
        quotes,
        noise,
    )


FIELDS = ["doc", "units", "source", "equation", "lookup_doc", "model_doc", "name"]
FORMATS = ["toml", "xmile", "mdl"]


def _model(field: str, text: str) -> ts.Model:
    m = ts.Model("fuzz", start=0, stop=2, dt=1, doc=text if field == "model_doc" else "")
    m.constant(
        "c",
        1.0,
        units=text if field == "units" else "person",
        doc=text if field == "doc" else "",
        source=text if field == "source" else "assumption: fuzz",
        range=(0.5, 2),
    )
    m.stock("s", initial="1", inflows=["f"], units="person", non_negative=True)
    m.flow("f", text if field == "equation" else "c * tab(s)", units="person/year")
    m.lookup("tab", [(0, 0), (10, 1)], doc=text if field == "lookup_doc" else "")
    return m


_VENSIM = """{{UTF-8}}
s = INTEG(f, 1)
\t~\tperson
\t~\t{doc}
\t|

f = c * tab(s)
\t~\t{units}
\t~\t|

c = 1
\t~\tperson [0.5, 2]
\t~\t{doc}
\t|

tab([(0,0)-(10,{lk})],(0,0),(10,1))
\t~\t
\t~\t{doc}
\t|

INITIAL TIME = 0
\t~\tyear
\t~\t|
FINAL TIME = 2
\t~\tyear
\t~\t|
TIME STEP = 1
\t~\tyear
\t~\t|
SAVEPER = TIME STEP
\t~\tyear
\t~\t|
"""


_TOML_NAMED = """[model]
name = "fuzz"
start = 0
stop = 2
dt = 1

[constants.c]
value = 1
units = "person"

[constants.{name}]
value = 1
units = "person"

[stocks.s]
initial = 1
inflows = ["f"]
units = "person"

[flows.f]
equation = "c"
units = "person/year"
"""

_XMILE_NAMED = """<?xml version="1.0" encoding="utf-8"?>
<xmile version="1.0" xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0">
<header><name>fuzz</name></header>
<sim_specs><start>0</start><stop>2</stop><dt>1</dt></sim_specs>
<model><variables>
<stock name="s"><eqn>1</eqn><inflow>f</inflow><units>person</units></stock>
<flow name="f"><eqn>c</eqn><units>person/year</units></flow>
<aux name="c"><eqn>1</eqn><units>person</units></aux>
<aux name={name}><eqn>1</eqn><units>person</units></aux>
</variables></model>
</xmile>
"""


def plant(folder: Path, fmt: str, field: str, text: str) -> Path | None:
    """Write a small model with ``text`` in ``field`` as a ``fmt`` file; None when the builder refused it.

    A hostile *name* is written straight into the file (the builder would refuse it before any reader
    saw it): a TOML table key, an XMILE ``name`` attribute, a Vensim variable name.
    """
    path = folder / f"fuzz.{fmt}"
    if fmt == "mdl":
        parts = {"doc": "", "units": "person", "lk": "1"}
        if field == "name":
            text_mdl = _VENSIM.format(**parts) + f"\n{text} = 1\n\t~\tperson\n\t~\t\n\t|\n"
            path.write_text(text_mdl, encoding="utf-8")
            return path
        key = {
            "doc": "doc",
            "model_doc": "doc",
            "lookup_doc": "doc",
            "source": "doc",
            "units": "units",
            "equation": "lk",
        }[field]
        parts[key] = text
        path.write_text(_VENSIM.format(**parts), encoding="utf-8")
        return path
    if field == "name":
        if fmt == "toml":
            path.write_text(_TOML_NAMED.format(name=json.dumps(text)), encoding="utf-8")
        else:
            path.write_text(_XMILE_NAMED.format(name=quoteattr(text)), encoding="utf-8")
        return path
    try:
        m = _model(field, text)
        ts.save(m, path)
    except ts.ModelError:
        return None
    return path


# ---------------------------------------------------------------- files opened outside the model's folder
_OPENED: list[str] | None = None


def _hook(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_hook)

#: where the interpreter and the installed packages live: reading them is not reading the user's files
_INSTALLED = tuple(
    {
        os.path.realpath(p)
        for p in (
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            *sysconfig.get_paths().values(),
            str(Path(ts.__file__).resolve().parent.parent),
        )
    }
    | {
        "/dev/",
        "/proc/",
        "/sys/",
        "/usr/share/zoneinfo/",
        "/etc/localtime",
        "/usr/lib/",
        "/lib/",
        "/etc/mime.types",
    }
)
# (system information: memory size, time zones, shared libraries, the MIME table a dependency reads when
# it first imports mimetypes; not the user's files)


def outside(opened: list[str], folder: Path) -> list[str]:
    """The paths in ``opened`` that are neither in ``folder`` nor part of the installation."""
    root = os.path.realpath(folder)
    # a package-metadata lookup (importlib.metadata) opens each entry of the module search path itself
    # to see whether it is a zip archive: an entry a library added (dask puts its scratch folders there)
    # is part of the installation's search, not a user's file
    search_path = {os.path.realpath(e) for e in sys.path if e}
    # the compiled kernels' cache (written by trafficsys, named by the hash of the source it generated)
    kernels = cache_dir()
    ours = (os.path.realpath(kernels) + os.sep,) if kernels is not None else ()
    out = []
    for p in opened:
        rp = os.path.realpath(p)
        if (
            rp == root
            or rp.startswith(root + os.sep)
            or rp.startswith(_INSTALLED + ours)
            or rp in search_path
        ):
            continue
        out.append(p)
    return out


def check(path: Path | None, flag: Path) -> str:
    """Load, validate, simulate, save, load and compare; only ModelError may escape; no sentinel may exist.

    No file outside the model's folder (other than the installed packages' own) may be opened.
    Returns ``"refused"`` when a reader or the builder refused the text with a ModelError, else ``"ok"``.
    """
    global _OPENED
    outcome = "refused" if path is None else "ok"
    if path is not None:
        _OPENED = []
        try:
            return _check(path, flag)
        finally:
            stray = outside(_OPENED, path.parent)
            _OPENED = None
            assert not stray, f"opened outside the model's folder: {stray[:3]}"
    assert not os.path.exists(flag), f"a planted payload ran: {flag} exists"
    return outcome


def _check(path: Path, flag: Path) -> str:
    outcome = "ok"
    if True:
        try:
            m = ts.load(path)
            m.validate()
            first = ts.simulate(m).to_pandas()
            again = path.with_name("again" + (path.suffix if path.suffix != ".mdl" else ".toml"))
            ts.save(m, again)
            second = ts.simulate(ts.load(again)).to_pandas()
        except ts.ModelError:
            outcome = "refused"
        else:  # the round trip keeps the model: the same numbers
            assert list(first.columns) == list(second.columns)
            assert np.allclose(first.to_numpy(float), second.to_numpy(float), equal_nan=True)
    assert not os.path.exists(flag), f"a planted payload ran: {flag} exists"
    return outcome
