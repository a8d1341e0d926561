"""The XML namespaces an XMILE file written by trafficsys uses."""

from __future__ import annotations

__all__ = ["XMILE_NS", "TS_NS"]

XMILE_NS = "http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"
#: Namespace of the trafficsys extension elements (ignored by other tools).
TS_NS = "https://trafficsys.org/ns/xmile-ext/1"
