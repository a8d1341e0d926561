"""XMILE 1.0 in and out (``.xmile``, ``.stmx``, ``.itmx``, ``.xml``).

* :mod:`~trafficsys.io.xmile.read`: safe XML -> plain records -> :class:`~trafficsys.model.Model`
  (what the reader understands, and what it refuses, is listed there);
* :mod:`~trafficsys.io.xmile.write`: a model as XMILE that PySD and Stella open, with
  trafficsys-only data in an extension namespace so ``load(save(m)) == m``;
* :mod:`~trafficsys.io.xmile.diagram`: the positions of the ``<views>`` section
  (kept ones, else an automatic layered layout of the stock-flow graph);
* :mod:`~trafficsys.io.xmile.namespaces`: the XML namespaces.
"""

from __future__ import annotations

from .diagram import ROW_STOCKS, layout
from .namespaces import TS_NS, XMILE_NS
from .read import read_xmile
from .write import write_xmile, xmile_string

__all__ = ["read_xmile", "write_xmile", "xmile_string", "XMILE_NS", "TS_NS", "layout", "ROW_STOCKS"]
