"""Archetype detection: the textbook files x detectors matrix, roles, ranking, robustness."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

import trafficsys as ts
from trafficsys.cld import ArchetypeMatch, CausalLoopDiagram, archetypes
from trafficsys.cld.archetype_search import ARCHETYPES, KINDS
from trafficsys.model.elements import Link

FOLDER = REPO / "models" / "archetypes"
FILES = {  # file -> the archetype it draws
    "fixes_that_fail": "fixes_that_fail",
    "shifting_the_burden": "shifting_the_burden",
    "shifting_the_burden_to_the_intervenor": "shifting_the_burden",
    "limits_to_growth": "limits_to_growth",
    "eroding_goals": "eroding_goals",
    "escalation": "escalation",
    "success_to_the_successful": "success_to_the_successful",
    "tragedy_of_the_commons": "tragedy_of_the_commons",
    "growth_and_underinvestment": "growth_and_underinvestment",
}
#: roles filled by a variable outside the archetype's loops (a limit, a standard)
OUTSIDE = {"limiting_condition", "resource_limit", "performance_standard"}
#: archetypes that share their loop structure with another one
TWINS = {"eroding_goals": "escalation", "escalation": "eroding_goals"}


def load(stem: str) -> CausalLoopDiagram:
    return ts.load(FOLDER / f"{stem}.toml").cld()


def tagged_roles(cld: CausalLoopDiagram, kind: str) -> dict[str, str]:
    """The role -> variable the file's role tags declare."""
    out = {}
    for v in cld.variables:
        for tag in cld.tags(v):
            if tag in ARCHETYPES[kind].roles:
                out[tag] = v
    return out


def strip(cld: CausalLoopDiagram, keep_tags: bool = False, rename=None) -> CausalLoopDiagram:
    """A copy with renamed variables, and without role tags unless ``keep_tags``."""
    rename = rename or (lambda v: v)
    variables = {
        rename(v): ({"role": info["role"]} if keep_tags and info.get("role") else {})
        for v, info in cld.variables.items()
    }
    links = [Link(rename(lk.source), rename(lk.target), lk.polarity, lk.delay) for lk in cld.links]
    return CausalLoopDiagram(cld.name, variables, links)


def same_roles(kind: str, got: dict, want: dict) -> bool:
    """Equal roles; in the tragedy of the commons, A and B are interchangeable (the structure is symmetric)."""
    if got == want:
        return True
    if kind == "tragedy_of_the_commons":
        swapped = dict(want, activity_a=want.get("activity_b"), activity_b=want.get("activity_a"))
        return got == swapped
    return False


def find(matches: list[ArchetypeMatch], kind: str, roles: dict[str, str], core_only: bool = False):
    for a in matches:
        if a.kind != kind:
            continue
        got = {r: v for r, v in a.roles.items() if not (core_only and r in OUTSIDE)}
        want = {r: v for r, v in roles.items() if not (core_only and r in OUTSIDE)}
        if same_roles(kind, got, want):
            return a
    return None


# ----------------------------------------------------------------------- the matrix
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stem", FILES)
def test_matrix_file_x_detector(stem, kind):
    """Each file is detected as its own archetype, and as no structurally different one."""
    found = archetypes(load(stem))
    kinds = {a.kind for a in found}
    if kind == FILES[stem]:
        assert kinds == {kind}, found
        (a,) = found
        assert a.ambiguous_with == ()  # the role tags settle eroding goals vs escalation
    else:
        assert kind not in kinds


@pytest.mark.parametrize("stem", FILES)
def test_roles_of_each_file(stem):
    cld = load(stem)
    kind = FILES[stem]
    (a,) = archetypes(cld)
    assert set(a.roles) == set(ARCHETYPES[kind].roles)
    assert a.roles == tagged_roles(cld, kind)
    assert len(a.loops) == {
        "tragedy_of_the_commons": 4,
        "shifting_the_burden": 3,
        "growth_and_underinvestment": 3,
    }.get(kind, 2)
    assert {lp.variables for lp in a.loops} <= {lp.variables for lp in cld.loops()}


@pytest.mark.parametrize("stem", [s for s in FILES if FILES[s] not in TWINS])
def test_roles_without_any_tags(stem):
    """Structure alone finds the archetype and its roles when no other archetype shares it."""
    cld = load(stem)
    kind = FILES[stem]
    expected = tagged_roles(cld, kind)
    found = archetypes(strip(cld))
    assert [a.kind for a in found] == [kind]
    assert found[0].roles == expected
    assert found[0].ambiguous_with == ()


@pytest.mark.parametrize("stem", ["eroding_goals", "escalation"])
def test_twins_without_tags_report_the_ambiguity(stem):
    cld = strip(load(stem))
    (a,) = archetypes(cld)
    assert {a.kind, *a.ambiguous_with} == {"eroding_goals", "escalation"}
    assert any("role tags" in n for n in a.notes)


@pytest.mark.parametrize("stem", ["eroding_goals", "escalation"])
def test_one_tag_settles_the_twins(stem):
    cld = load(stem)
    hub = tagged_roles(cld, FILES[stem])["gap" if stem == "eroding_goals" else "relative_position"]
    bare = strip(cld)
    bare.variables[hub]["role"] = "gap" if stem == "eroding_goals" else "relative_position"
    (a,) = archetypes(bare)
    assert a.kind == FILES[stem] and a.ambiguous_with == ()


def test_intervenor_variant():
    (a,) = archetypes(load("shifting_the_burden_to_the_intervenor"))
    assert a.kind == "shifting_the_burden" and a.variant == "to_the_intervenor"
    assert a.roles["symptomatic_solution"] == "ngo_raids"
    assert a.roles["fundamental_solution"] == "state_first_response_capacity"
    assert a.roles["side_effect"] == "reliance_on_ngos"
    assert "intervenor" in a.title
    (plain,) = archetypes(load("shifting_the_burden"))
    assert plain.variant is None


def test_shifting_the_burden_ranks_above_the_fixes_that_fail_it_contains():
    everything = archetypes(load("shifting_the_burden"), deduplicate=False)
    kinds = [a.kind for a in everything]
    assert kinds[0] == "shifting_the_burden" and "fixes_that_fail" in kinds
    stb, ftf = everything[0], everything[kinds.index("fixes_that_fail")]
    assert stb.score > ftf.score
    assert set(ftf.loop_ids) < set(stb.loop_ids)
    assert [a.kind for a in archetypes(load("shifting_the_burden"))] == ["shifting_the_burden"]


def test_delay_position_tells_fixes_that_fail_from_limits_to_growth():
    # B and R on the common arc a -> b; the exclusive arcs: R via c, B via d
    edges = [("a", "b", "+"), ("b", "c", "+"), ("c", "a", "+"), ("b", "d", "+"), ("d", "a", "-")]
    on_r = archetypes(CausalLoopDiagram.from_edges(edges, delays=[("b", "c")]))
    on_b = archetypes(CausalLoopDiagram.from_edges(edges, delays=[("b", "d")]))
    none = archetypes(CausalLoopDiagram.from_edges(edges))
    assert on_r[0].kind == "fixes_that_fail" and on_r[0].ambiguous_with == ()
    assert on_b[0].kind == "limits_to_growth" and on_b[0].ambiguous_with == ()
    assert {none[0].kind, *none[0].ambiguous_with} == {"fixes_that_fail", "limits_to_growth"}


def test_kinds_filter_and_unknown_kind():
    cld = load("tragedy_of_the_commons")
    assert [a.kind for a in archetypes(cld, kinds=["escalation"])] == ["escalation"]
    with pytest.raises(ts.ModelError, match="unknown archetype"):
        archetypes(cld, kinds=["heroes"])


def test_top_level_api():
    m = ts.load(FOLDER / "fixes_that_fail.toml")
    assert [a.kind for a in ts.archetypes(m)] == ["fixes_that_fail"]
    assert isinstance(ts.archetypes(m.cld())[0], ts.ArchetypeMatch)
    assert "Fixes that fail" in str(ts.archetypes(m)[0])


# ------------------------------------------------------------- stock-flow models
def stock_flow_shifting_the_burden() -> ts.Model:
    """NGO raids relieve trafficking; reliance on NGOs slows the build-up of state capacity."""
    m = ts.Model("stb_sf", stop=20, dt=0.25, time_units="year")
    m.constant("recruitment", 100, units="person/year")
    m.constant("raid_intensity", 0.002, range=(0.001, 0.004))
    m.constant("build_rate", 0.01, range=(0.005, 0.02))
    m.constant("erosion_rate", 0.1, range=(0.05, 0.2))
    m.constant("arrest_efficiency", 0.001, range=(0.0005, 0.002))
    m.stock("trafficking", 1000, inflows=["new_cases"], outflows=["rescues", "arrests"], non_negative=True)
    m.flow("new_cases", "recruitment")
    m.aux("ngo_raids", "raid_intensity * trafficking")
    m.flow("rescues", "ngo_raids * trafficking * 0.001")
    m.aux("reliance_on_ngos", "SMTH1(ngo_raids, 2)")
    m.stock("state_capacity", 1, inflows=["capacity_building"], outflows=["erosion"], non_negative=True)
    m.flow("capacity_building", "build_rate * trafficking / (1 + reliance_on_ngos)")
    m.flow("erosion", "erosion_rate * state_capacity")
    m.flow("arrests", "arrest_efficiency * state_capacity * trafficking")
    return m


def test_shifting_the_burden_in_a_stock_flow_model():
    cld = stock_flow_shifting_the_burden().cld()
    found = archetypes(cld)
    assert found[0].kind == "shifting_the_burden"
    assert found[0].roles == {
        "problem_symptom": "trafficking",
        "symptomatic_solution": "ngo_raids",
        "fundamental_solution": "state_capacity",
        "side_effect": "reliance_on_ngos",
    }
    # the first-order drains (trafficking -> rescues -> trafficking...) are not used
    assert all(lp.length > 2 for a in found for lp in a.loops)
    assert archetypes(cld, drains=True)  # they can be asked for


def test_tags_in_a_stock_flow_model_mark_the_intervenor():
    m = stock_flow_shifting_the_burden()
    import dataclasses

    m.add(dataclasses.replace(m["ngo_raids"], role="intervenor"), replace=True)
    assert archetypes(m.cld())[0].variant == "to_the_intervenor"


# ------------------------------------------------------------------ robustness
_NAMES = [
    f"{a}_{b}"
    for a in ("alpha", "beta", "gamma", "delta", "omega", "kappa")
    for b in ("x", "y", "z", "w", "v")
]


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(FILES)), st.permutations(_NAMES), st.booleans())
def test_detection_survives_renaming(stem, names, keep_tags):
    cld = load(stem)
    kind = FILES[stem]
    mapping = dict(zip(cld.variables, names))
    renamed = strip(cld, keep_tags=keep_tags, rename=mapping.__getitem__)
    expected = {r: mapping[v] for r, v in tagged_roles(cld, kind).items()}
    found = archetypes(renamed)
    if kind in TWINS and not keep_tags:
        (a,) = found
        assert {a.kind, *a.ambiguous_with} == {kind, TWINS[kind]}
        return
    assert [a.kind for a in found] == [kind]
    assert same_roles(kind, found[0].roles, expected) if not keep_tags else found[0].roles == expected


@st.composite
def embeddings(draw, two_way: bool):
    stem = draw(st.sampled_from(sorted(FILES)))
    n_extra = draw(st.integers(0, 9))
    seed = draw(st.integers(0, 10_000))
    return stem, n_extra, seed, two_way or draw(st.booleans())


def embed(stem: str, n_extra: int, seed: int, direction_in: bool, two_way: bool):
    """The textbook pattern (tags kept only on the twins' hub) inside a random signed digraph."""
    rnd = random.Random(seed)
    cld = load(stem)
    kind = FILES[stem]
    expected = tagged_roles(cld, kind)
    bare = strip(cld)
    if kind in TWINS:
        hub = "gap" if kind == "eroding_goals" else "relative_position"
        bare.variables[expected[hub]]["role"] = hub
    pattern = list(bare.variables)
    extra = [f"noise_{i}" for i in range(n_extra)]
    for a in extra:
        for b in extra:
            if a != b and rnd.random() < 0.2:
                bare.add_link(Link(a, b, rnd.choice("+-")))
    for p in pattern:
        for e in extra:
            if rnd.random() < 0.15:
                if two_way:
                    src, dst = (p, e) if rnd.random() < 0.5 else (e, p)
                else:
                    src, dst = (e, p) if direction_in else (p, e)
                bare.add_link(Link(src, dst, rnd.choice("+-?")))
    return bare, kind, expected


@settings(max_examples=60, deadline=None)
@given(embeddings(two_way=False))
def test_detection_survives_extra_variables_and_links(case):
    """Unrelated variables and links (no new loop through the pattern): the match is still reported."""
    stem, n_extra, seed, direction_in = case
    cld, kind, expected = embed(stem, n_extra, seed, direction_in, two_way=False)
    found = archetypes(cld)
    a = find(found, kind, expected, core_only=True)
    assert a is not None, (stem, [str(x) for x in found])
    assert a.ambiguous_with == ()


@settings(max_examples=60, deadline=None)
@given(embeddings(two_way=True))
def test_detection_survives_embedding_in_random_digraphs(case):
    """Links both ways create new loops through the pattern: the match is found, or is part of a larger one."""
    stem, n_extra, seed, _ = case
    cld, kind, expected = embed(stem, n_extra, seed, True, two_way=True)
    assert find(archetypes(cld, deduplicate=False), kind, expected, core_only=True) is not None
    textbook = {lp.variables for lp in load(stem).loops()}  # the pattern's own loops, same names
    found = archetypes(cld)
    if find(found, kind, expected, core_only=True) is None:
        assert any(
            len(a.loops) > len(textbook) and textbook <= {lp.variables for lp in a.loops} for a in found
        )


# ------------------------------------------------------------------------- CLI
def test_cli_archetypes_and_loops(capsys):
    from trafficsys.cli import main

    assert main(["archetypes", str(FOLDER / "shifting_the_burden_to_the_intervenor.toml")]) == 0
    out = capsys.readouterr().out
    assert "Shifting the burden (to the intervenor)" in out
    assert "symptomatic_solution  ngo_raids" in out
    assert main(["loops", str(FOLDER / "tragedy_of_the_commons.toml")]) == 0
    out = capsys.readouterr().out
    assert "4 feedback loops: 2 reinforcing (R), 2 balancing (B), 0 unknown (?)" in out
    assert main(["loops", "--independent", str(FOLDER / "growth_and_underinvestment.toml")]) == 0
    assert "3 shortest independent loop set" in capsys.readouterr().out
    assert main(["loops", "--through", "nowhere", str(FOLDER / "escalation.toml")]) == 2
    assert "no variable 'nowhere'" in capsys.readouterr().err


def test_cli_summarises_each_archetype_before_the_best_matches(capsys):
    from trafficsys.cli import main

    path = FOLDER / "shifting_the_burden_to_the_intervenor.toml"
    found = archetypes(load(path.stem), deduplicate=False)  # with the matches contained in larger ones
    assert len({a.title for a in found}) > 1
    assert main(["archetypes", "--matches", "--all", "--top", "1", str(path)]) == 0  # the matches, ungrouped
    out = capsys.readouterr().out
    head, _, detail = out.partition("The best matches")
    counts = {}
    for a in found:
        counts[a.title] = counts.get(a.title, 0) + 1
    for title, n in counts.items():  # one summary line per archetype, with its number of matches
        line = next(ln for ln in head.splitlines() if ln.strip().startswith(title + "  "))
        assert line.split()[len(title.split())] == str(n)
    assert detail.count("    loops: ") == 1  # --top 1: one match in detail
