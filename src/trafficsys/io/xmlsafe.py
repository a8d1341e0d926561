"""Safe XML reading: every XML byte trafficsys reads goes through here.

Model files come from strangers.  The parser is :mod:`defusedxml`, with DTDs,
entity declarations and external references all refused, so entity bombs
("billion laughs"), external entities (``file:///etc/passwd``) and DTD tricks
fail with a :class:`~trafficsys.errors.FileFormatError` before anything is
expanded or fetched.  The ``file_size`` limit (:mod:`trafficsys.limits`) refuses huge files before a byte
is parsed.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

from .. import limits
from ..errors import FileFormatError

__all__ = ["read_xml", "parse_xml_bytes", "local"]

_ISEE_NS = "http://iseesystems.com/XMILE"
_ROOT_TAG = re.compile(rb"<(?:[\w.-]+:)?xmile\b[^>]*>", re.S)


def local(tag: str) -> str:
    """Return the local part of a (possibly namespaced) tag or attribute name."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def read_xml(path: str | os.PathLike) -> ET.Element:
    """Read and parse an XML file safely; return the root element.

    Raises
    ------
    FileFormatError
        When the file is missing, not well-formed, or uses a DTD, entities
        or external references.
    LimitError
        When the file is larger than the ``file_size`` limit (:mod:`trafficsys.limits`).
    """
    path = os.fspath(path)
    return parse_xml_bytes(limits.read_file(path), file=path)


def parse_xml_bytes(data: bytes, *, file: str | None = None) -> ET.Element:
    """Parse XML bytes safely (see :func:`read_xml`)."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    limits.check("file_size", len(data), "the XML text", "split the model into smaller files", file=file)
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data[:65536].lower():
        raise FileFormatError(
            "the file declares a DTD or entities; XMILE model files need neither and trafficsys refuses "
            "them (entity expansion and external entities are a security risk): remove the <!DOCTYPE ...> "
            "block",
            file=file,
        )
    data = _declare_isee(data)
    try:
        return DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise FileFormatError(
            f"refused unsafe XML ({type(e).__name__}): DTDs, entities and external references are not "
            "allowed in model files",
            file=file,
        ) from None
    except ET.ParseError as e:
        line, col = getattr(e, "position", (None, None))
        raise FileFormatError(
            f"not well-formed XML at line {line}, column {col} ({e.msg if hasattr(e, 'msg') else e}); "
            "open the file in a text editor and fix the tag there",
            file=file,
        ) from None
    except LookupError as e:  # the XML declaration names an encoding Python does not know
        raise FileFormatError(
            f"the XML declaration names an encoding Python does not know ({e}); "
            'save the file as UTF-8 and declare encoding="utf-8"',
            file=file,
        ) from None
    except (ValueError, RecursionError) as e:
        raise FileFormatError(f"cannot parse the XML ({type(e).__name__})", file=file) from None


def _declare_isee(data: bytes) -> bytes:
    # Stella and xmutil write `isee:` attributes and tags without declaring the
    # prefix; a strict parser rejects those as unbound.  Declare it on the root.
    if b"isee:" not in data:
        return data
    m = _ROOT_TAG.search(data, 0, 65536)
    if m is None or b"xmlns:isee" in m.group(0):
        return data
    tag = m.group(0)
    end = len(tag) - (2 if tag.endswith(b"/>") else 1)
    new = tag[:end] + b' xmlns:isee="' + _ISEE_NS.encode() + b'"' + tag[end:]
    return data[: m.start()] + new + data[m.end() :]
