"""Sectors: named parts of a big model, kept on round trip, checked, and carried into the diagram."""

from __future__ import annotations

import pytest

import trafficsys as ts
from trafficsys.errors import StructureError, UnknownVariableError


def test_every_reference_variable_is_in_exactly_one_sector():
    m = ts.load_default()
    listed = [v for sc in m.sectors.values() for v in sc.variables]
    assert len(listed) == len(set(listed)), "a variable is listed in two sectors"
    assert set(listed) == set(m.names()), (
        f"not in any sector: {sorted(set(m.names()) - set(listed))}; unknown: {sorted(set(listed) - set(m.names()))}"
    )
    assert len(m.sectors) >= 8


@pytest.mark.parametrize("suffix", [".toml", ".xmile"])
def test_sectors_survive_a_round_trip(tmp_path, suffix):
    m = ts.load_default()
    path = tmp_path / f"model{suffix}"
    ts.save(m, path)
    back = ts.load(path)
    assert back.sectors == m.sectors
    assert back.sector_of("police_capacity") == m.sector_of("police_capacity") == "police"


def _small():
    m = ts.Model("s", stop=1)
    m.constant("k", 0.1, units="1/year")
    m.stock("x", initial=1, outflows=["out"], units="person")
    m.flow("out", "k * x", units="person/year")
    return m


def test_a_sector_listing_an_unknown_variable_is_an_error_naming_it():
    m = _small()
    m.sector("main", ["x", "outt"])
    with pytest.raises(UnknownVariableError, match="sector 'main' lists 'outt'.*did you mean 'out'"):
        m.validate()


def test_a_variable_in_two_sectors_is_an_error():
    m = _small()
    m.sector("a", ["x", "out"])
    m.sector("b", ["out", "k"])
    with pytest.raises(StructureError, match="'out' is listed in sectors 'a' and 'b'"):
        m.validate()


def test_the_diagram_knows_each_variable_sector():
    m = _small()
    m.sector("main", ["x", "out"])
    cld = m.cld(numeric=False)
    assert cld.variables["x"]["sector"] == "main"
    assert "sector" not in cld.variables["k"]
