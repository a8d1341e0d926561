"""Hostile XML is refused fast, with a FileFormatError, and nothing outside the file is read."""

import time

import pytest

import trafficsys as ts
from trafficsys.io import xmlsafe
from trafficsys.io.xmile import read_xmile

MODEL = """<?xml version="1.0"?>
<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0" version="1.0">
 <sim_specs><start>0</start><stop>1</stop><dt>1</dt></sim_specs>
 <model><variables><aux name="a"><eqn>{eqn}</eqn></aux></variables></model>
</xmile>"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xmile [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xmile version="1.0"><model><variables><aux name="a"><doc>&lol9;</doc><eqn>1</eqn></aux></variables></model></xmile>
"""


def external_entity(target: str) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE xmile [ <!ENTITY xxe SYSTEM "file://{target}"> ]>
<xmile version="1.0"><model><variables><aux name="a"><doc>&xxe;</doc><eqn>1</eqn></aux></variables></model></xmile>
"""


def _timed_refusal(path):
    t0 = time.perf_counter()
    with pytest.raises(ts.FileFormatError) as info:
        ts.load(path)
    assert time.perf_counter() - t0 < 1.0
    return info.value


def test_billion_laughs_is_refused_fast(tmp_path):
    p = tmp_path / "bomb.xmile"
    p.write_text(BILLION_LAUGHS)
    err = _timed_refusal(p)
    assert "DTD" in str(err) and str(p) in str(err)


def test_external_entity_is_refused_without_reading_the_target(tmp_path, monkeypatch):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    p = tmp_path / "xxe.xmile"
    p.write_text(external_entity(str(secret)))
    opened = []
    real_open = open

    def spy(file, *a, **k):
        opened.append(str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr("builtins.open", spy)
    err = _timed_refusal(p)
    assert "TOP-SECRET" not in str(err)
    assert str(secret) not in opened


def test_external_entity_without_doctype_keyword_case(tmp_path):
    # lower-case doctype and a parameter entity: still refused
    p = tmp_path / "pe.xmile"
    p.write_text(
        '<?xml version="1.0"?><!doctype x [<!ENTITY % pe SYSTEM "http://example.com/x">%pe;]><xmile/>'
    )
    _timed_refusal(p)


def test_fifty_megabyte_file_is_refused_before_parsing(tmp_path, monkeypatch):
    p = tmp_path / "huge.xmile"
    with open(p, "wb") as fh:
        fh.write(MODEL.format(eqn="1").encode()[:-9])
        fh.write(b"<!--" + b"x" * (50 * 1024 * 1024) + b"-->")
        fh.write(b"</xmile>")
    parsed = []
    monkeypatch.setattr(xmlsafe, "parse_xml_bytes", lambda *a, **k: parsed.append(1))
    with pytest.raises(ts.LimitError) as info:
        ts.load(p)
    err = info.value
    assert "file_size" in str(err) and "MiB" in str(err) and not parsed


def test_malformed_xml_names_line_and_column(tmp_path):
    p = tmp_path / "bad.xmile"
    p.write_text("<xmile>\n<model><variables><aux name='a'></variables></model></xmile>")
    with pytest.raises(ts.FileFormatError, match=r"line 2, column \d+"):
        read_xmile(p)


def test_not_xmile_root(tmp_path):
    p = tmp_path / "other.xml"
    p.write_text("<svg></svg>")
    with pytest.raises(ts.FileFormatError, match="not an XMILE"):
        read_xmile(p)


def test_hostile_equation_text_is_a_parse_error_not_code(tmp_path):
    p = tmp_path / "inject.xmile"
    p.write_text(MODEL.format(eqn="__import__('os').system('echo hi')"))
    with pytest.raises(ts.ParseError) as info:
        read_xmile(p)
    assert info.value.variable == "a" and info.value.column is not None


def test_deep_nesting_is_refused(tmp_path):
    p = tmp_path / "deep.xmile"
    p.write_text(MODEL.format(eqn="(" * 5000 + "1" + ")" * 5000))
    t0 = time.perf_counter()
    with pytest.raises(ts.ParseError):
        read_xmile(p)
    assert time.perf_counter() - t0 < 1.0
