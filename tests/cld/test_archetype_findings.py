"""Archetype findings: grouping, ranking by role tags / behaviour / structure, and screen-sized views."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import REPO

import trafficsys as ts
from trafficsys.cld import CausalLoopDiagram, archetypes
from trafficsys.cld.findings import CORE, ArchetypeFindings, ArchetypeMatches, group_archetypes
from trafficsys.model.elements import Link

FOLDER = REPO / "models" / "archetypes"
STEMS = sorted(p.stem for p in FOLDER.glob("*.toml"))
KB = 1024


def key(m):
    """The grouping key, restated from the documented definition."""
    core = CORE[m.kind]
    return (
        m.kind,
        m.variant,
        frozenset(m.loops[i].id for i in core.loops),
        tuple(m.roles[r] for r in core.roles),
    )


def check_partition(matches, findings):
    """Every match is in exactly one finding, findings have distinct keys, a finding's matches share its key."""
    assert sum(f.n_matches for f in findings) == len(matches) == findings.n_matches
    assert sorted(id(m) for f in findings for m in f.matches) == sorted(id(m) for m in matches)
    keys = [key(f.best) for f in findings]
    assert len(set(keys)) == len(keys)
    for f in findings:
        assert {key(m) for m in f.matches} == {key(f.best)}
        assert {lp.id for lp in f.core_loops} == key(f.best)[2]
        for role, vs in f.roles.items():  # every variable that fills a role in some match is listed, once
            assert set(vs) == {m.roles[role] for m in f.matches if m.roles[role]}
            assert len(vs) == len(set(vs))
        for role in CORE[f.kind].roles:
            assert len(f.roles[role]) <= 1
        assert f.loops[: len(f.core_loops)] == f.core_loops
        assert {lp.id for lp in f.loops} == {lp.id for m in f.matches for lp in m.loops}
    assert [f.rank for f in findings] == list(range(1, len(findings) + 1))


# ------------------------------------------------------------------------- the reference model
@pytest.fixture(scope="module")
def reference(reference_model, reference_cld):
    return reference_model, reference_cld, archetypes(reference_cld)


def test_reference_model_matches_group_into_far_fewer_findings(reference):
    _, cld, found = reference
    findings = found.findings
    check_partition(found, findings)
    assert len(findings) < len(found) / 2
    gu = findings.of_kind("growth_and_underinvestment")
    assert len(gu) < gu.n_matches / 3  # the bulk of the matches are routes of a few structures


def test_core_roles_sit_on_the_core_loops(reference):
    """The core of a finding is where its core loops meet: every core role variable is on a core loop."""
    _, _, found = reference
    for f in found.findings:
        on_core = {v for lp in f.core_loops for v in lp.variables}
        for role, v in f.core_roles.items():
            assert v in on_core, (f, role)


def test_reference_model_top_finding_is_the_tagged_shifting_the_burden(reference):
    _, cld, found = reference
    top = found.findings[0]
    assert top.kind == "shifting_the_burden" and top.variant == "to_the_intervenor"
    assert {lp.name for lp in top.core_loops} == {"symptomatic_fix_ngo_raids", "fundamental_solution_police"}
    assert (
        top.role("problem_symptom") == "in_exploitation"
        and top.role("symptomatic_solution") == "ngo_raid_exits"
    )
    assert "shifting_the_burden_to_ngos" in {lp.name for lp in top.path_loops}
    assert top.n_matches > 1 and "role tags" in top.rank_reason
    # every role the model tags and the finding fills agrees
    for role, v in top.tags_agree:
        assert role in cld.tags(v)
    assert top.tags_conflict == ()


def test_reference_model_best_fixes_that_fail_uses_the_tagged_fix(reference):
    """Tags of shifting the burden read as fixes that fail's roles (a symptomatic solution is a fix)."""
    _, _, found = reference
    ftf = found.findings.of_kind("fixes_that_fail")[0]
    assert (ftf.role("problem"), ftf.role("fix")) == ("in_exploitation", "ngo_raid_exits")
    assert {r for r, _ in ftf.tags_agree} == {"problem", "fix"}


def test_reference_model_views_are_small_and_carry_the_counts(reference):
    _, cld, found = reference
    findings = found.findings
    for obj in (found, findings):
        text, page = repr(obj), obj._repr_html_()
        assert len(text) < 20 * KB and len(page) < 20 * KB
        assert f"{len(found):,} archetype matches in {len(findings):,} findings" in text
        assert f"{len(found):,} archetype matches in {len(findings):,} findings" in page
        assert f"and {len(findings) - findings.show:,} more findings" in text
    assert "growth_and_underinvestment" in repr(found)  # the per-archetype counts
    counts = found.by_kind().set_index("kind")
    assert counts["matches"].sum() == len(found) and counts["findings"].sum() == len(findings)
    loops = cld.loops()
    text, page = repr(loops), loops._repr_html_()
    assert len(text) < 20 * KB and len(page) < 20 * KB
    c = loops.counts()
    head = f"{len(loops):,} feedback loops: {c['R']:,} reinforcing (R), {c['B']:,} balancing (B)"
    assert head in text and head in page
    assert f"and {len(loops) - loops.show:,} more" in text
    by_length = loops.summary()
    assert by_length["total"].sum() == len(loops)
    assert by_length.loc[2, "B"] == sum(1 for lp in loops if lp.length == 2 and lp.polarity == "B")


def test_summary_is_the_top_n_with_the_rest_counted(reference):
    _, _, found = reference
    df = found.summary(5)
    assert len(df) == 5 and df.attrs["more"] == len(found.findings) - 5
    assert list(df["rank"]) == [1, 2, 3, 4, 5]
    assert df["matches"].iloc[0] == found.findings[0].n_matches
    assert len(found.findings.to_pandas()) == len(found.findings)
    assert len(found.to_pandas()) == len(found)


def test_behavioural_ranking_from_a_run_of_the_reference_model(reference):
    m, _, found = reference
    r = ts.simulate(m)
    d = ts.loop_dominance(m, r)
    ranked = ts.archetypes(m, results=r)
    assert [(a.kind, a.roles, a.loop_ids) for a in ranked] == [(a.kind, a.roles, a.loop_ids) for a in found]
    findings = ranked.findings
    check_partition(ranked, findings)
    assert findings.behavioural and "loop dominance" in findings.headline()
    # the behaviour is recomputed here from LoopDominance.ranking(), keyed by the loops' links
    table = d.ranking()
    by_links = {
        frozenset(zip(v.split(" -> "), v.split(" -> ")[1:] + v.split(" -> ")[:1])): s
        for v, s in zip(table["variables"], table["mean_abs_relative"])
    }
    for f in findings[:20]:
        want = np.mean([by_links[frozenset(lp.links)] for lp in f.best.loops])
        assert f.behaviour == pytest.approx(want, rel=1e-9)
    # within one level of tag agreement, more behaviour ranks first
    net = [len(f.tags_agree) - len(f.tags_conflict) for f in findings]
    for a, b in zip(findings, findings[1:]):
        if len(a.tags_agree) - len(a.tags_conflict) == len(b.tags_agree) - len(b.tags_conflict):
            assert a.behaviour >= b.behaviour
    assert net == sorted(net, reverse=True)
    assert "% of their partition's loop activity" in findings[0].rank_reason


# ------------------------------------------------------------------------- small diagrams
FTF_TWO_ROUTES = [
    ("problem", "fix", "+"),
    ("fix", "problem", "-"),
    ("fix", "harm", "+"),
    ("harm", "problem", "+"),
    ("fix", "debt", "+"),
    ("debt", "stigma", "+"),
    ("stigma", "problem", "+"),
]


def test_routes_of_one_fix_are_one_finding():
    cld = CausalLoopDiagram.from_edges(FTF_TWO_ROUTES)
    found = archetypes(cld)
    assert len(found) == 2
    (f,) = found.findings
    assert f.kind == "fixes_that_fail" and f.n_matches == 2
    assert f.core_roles == {"problem": "problem", "fix": "fix"}
    assert f.roles["unintended_consequence"] == ("harm", "debt")  # the shorter route first
    assert [lp.polarity for lp in f.core_loops] == ["B"] and len(f.path_loops) == 2
    assert "2 matches that differ in the reinforcing loop" in f.rank_reason
    assert str(f).startswith("Fixes that fail: problem=problem, fix=fix") and "via R1 R2 (2 matches)" in str(
        f
    )


def two_fixes(tag: str | None = None) -> CausalLoopDiagram:
    """Two separate fixes that fail: a short one (a) and a longer one (b)."""
    edges = [
        ("pa", "fa", "+"),
        ("fa", "pa", "-"),
        ("fa", "ca", "+"),
        ("ca", "pa", "+"),
        ("pb", "fb", "+"),
        ("fb", "xb", "+"),
        ("xb", "pb", "-"),
        ("fb", "cb", "+"),
        ("cb", "yb", "+"),
        ("yb", "pb", "+"),
    ]
    cld = CausalLoopDiagram.from_edges(edges)
    if tag:
        cld.variables["fb"]["role"] = tag
    return cld


def test_structure_ranks_shorter_loops_first():
    f = archetypes(two_fixes()).findings
    assert [x.role("fix") for x in f] == ["fa", "fb"]
    assert f[0].score > f[1].score


@pytest.mark.parametrize("tag", ["fix", "symptomatic_solution"])
def test_a_finding_whose_roles_agree_with_the_tags_ranks_first_and_says_so(tag):
    f = archetypes(two_fixes(tag)).findings
    assert [x.role("fix") for x in f] == ["fb", "fa"]
    assert f[0].tags_agree == (("fix", "fb"),)
    assert "roles agree with the model's role tags: fb as fix" in f[0].rank_reason


def test_a_conflicting_tag_ranks_last_and_says_so():
    cld = two_fixes()
    cld.variables["fa"]["role"] = "goal"  # a role of another archetype, not an alias of fix
    f = archetypes(cld).findings
    assert [x.role("fix") for x in f] == ["fb", "fa"]
    assert f[1].tags_conflict == (("fix", "fa"),)
    assert "fa is tagged goal but plays fix" in f[1].rank_reason


def test_tags_that_are_not_roles_are_ignored():
    cld = two_fixes()
    cld.variables["fa"]["role"] = "policy"
    f = archetypes(cld).findings
    assert [x.role("fix") for x in f] == ["fa", "fb"] and f[0].tags_conflict == ()


def test_behaviour_given_as_loop_scores_reorders_equal_tag_levels():
    found = archetypes(two_fixes())
    b_loops = {lp.id for f in found.findings if f.role("fix") == "fb" for lp in f.loops}
    scores = {lp.id: (0.4 if lp.id in b_loops else 0.1) for a in found for lp in a.loops}
    f = group_archetypes(found, two_fixes(), dominance=scores)
    assert [x.role("fix") for x in f] == ["fb", "fa"]
    assert f[0].behaviour == pytest.approx(0.4) and f[1].behaviour == pytest.approx(0.1)
    assert f.behavioural
    tagged = group_archetypes(found, two_fixes("fix"), dominance={k: 0.4 - v for k, v in scores.items()})
    assert [x.role("fix") for x in tagged] == ["fb", "fa"]  # tags still rank first


def test_results_need_the_model_or_loop_dominance():
    cld = CausalLoopDiagram.from_edges(FTF_TWO_ROUTES)
    with pytest.raises(ts.ModelError, match="pass the model"):
        archetypes(cld, results=object())


def stock_flow_fix() -> ts.Model:
    """A fix (raids) relieves a stock; shelter stays send some back later."""
    m = ts.Model("ftf_sf", stop=10, dt=0.125)
    m.constant("recruitment", 50)
    m.constant("raid_rate", 0.2)
    m.stock("exploited", 200, inflows=["recruits", "returns"], outflows=["raids"], non_negative=True)
    m.stock("sheltered", 0, inflows=["raids"], outflows=["releases"], non_negative=True)
    m.flow("recruits", "recruitment")
    m.aux("raid_effort", "raid_rate * exploited")
    m.flow("raids", "raid_effort")
    m.flow("releases", "sheltered / 2")
    m.flow("returns", "0.3 * releases")
    return m


def test_archetypes_of_a_model_with_results_and_with_its_loop_dominance_agree():
    m = stock_flow_fix()
    r = ts.simulate(m)
    d = ts.loop_dominance(m, r)
    a, b = ts.archetypes(m, results=r).findings, archetypes(m.cld(), results=d).findings
    assert a and [(f.kind, f.behaviour, f.loop_behaviour) for f in a] == [
        (f.kind, f.behaviour, f.loop_behaviour) for f in b
    ]
    assert all(f.behaviour is not None and 0 <= f.behaviour <= 1 for f in a)


def test_the_list_contract_is_kept():
    cld = CausalLoopDiagram.from_edges(FTF_TWO_ROUTES)
    found = archetypes(cld)
    assert isinstance(found, list) and isinstance(found, ArchetypeMatches)
    assert found == list(found)
    assert isinstance(found[0], ts.ArchetypeMatch)
    head = found[:1]
    assert isinstance(head, ArchetypeMatches) and head.cld is cld and len(head.findings) == 1
    assert isinstance(found.findings[:1], ArchetypeFindings)
    assert isinstance(cld.archetypes(), ArchetypeMatches)
    found.pop()  # the grouped view follows the list
    assert found.findings[0].n_matches == 1
    assert "no archetype match" in repr(archetypes(CausalLoopDiagram.from_edges([("a", "b"), ("b", "a")])))


@pytest.mark.parametrize("stem", STEMS)
def test_each_textbook_file_is_one_finding_of_its_one_match(stem):
    cld = ts.load(FOLDER / f"{stem}.toml").cld()
    found = archetypes(cld)
    (f,) = found.findings
    assert f.matches == (found[0],) and f.kind == found[0].kind
    assert {r: v[0] if v else None for r, v in f.roles.items()} == found[0].roles
    expected = {
        "fixes_that_fail": "B",
        "shifting_the_burden": "BB",
        "limits_to_growth": "B",
        "tragedy_of_the_commons": "BB",
        "growth_and_underinvestment": "B",
        "eroding_goals": "BB",
        "escalation": "BB",
        "success_to_the_successful": "RR",
    }[f.kind]
    assert "".join(lp.polarity for lp in f.core_loops) == expected
    assert f.tags_conflict == () and len(f.tags_agree) >= 1  # the files tag their roles
    assert len(repr(found)) < 4 * KB


def random_diagram(seed: int, n: int = 9) -> CausalLoopDiagram:
    rnd = random.Random(seed)
    names = [f"v{i}" for i in range(n)]
    cld = CausalLoopDiagram.from_edges([])
    for a in names:
        for b in names:
            if a != b and rnd.random() < 0.25:
                cld.add_link(Link(a, b, rnd.choice("+-")))
    return cld


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_grouping_is_a_partition_on_random_diagrams(seed, dedup):
    cld = random_diagram(seed)
    found = archetypes(cld, deduplicate=dedup)
    check_partition(found, found.findings)


# ------------------------------------------------------------------------------- CLI
def test_cli_shows_findings_by_default(capsys, tmp_path):
    from trafficsys.cli import main

    cld = CausalLoopDiagram.from_edges(FTF_TWO_ROUTES)
    path = tmp_path / "ftf.toml"
    path.write_text(
        "".join(f'[[links]]\nfrom = "{a}"\nto = "{b}"\npolarity = "{s}"\n\n' for a, b, s in FTF_TWO_ROUTES)
    )
    assert [a.kind for a in archetypes(ts.load(path))] == [a.kind for a in archetypes(cld)]
    csv = tmp_path / "findings.csv"
    assert main(["archetypes", str(path), "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "2 archetype match(es) in 1 finding(s)" in out
    assert " 1. Fixes that fail" in out and "[fixes_that_fail, score" in out and "2 matches]" in out
    assert "core loops: B1" in out and "via: R1, R2" in out
    assert "unintended_consequence  harm | debt" in out
    import pandas as pd

    table = pd.read_csv(csv)
    assert list(table["matches"]) == [2] and table["path_loops"][0] == "R1 R2"
    assert main(["archetypes", str(path), "--matches"]) == 0
    out = capsys.readouterr().out
    assert "2 archetype match(es)" in out and "finding" not in out


def test_cli_reference_model_summary_and_dominance(capsys):
    from trafficsys.cli import main

    assert main(["archetypes", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "showing the best 3" in out
    assert "growth_and_underinvestment" in out.split("The best findings")[0]  # the per-archetype table
    assert out.count("    core loops: ") == 3
    assert " 1. Shifting the burden (to the intervenor)" in out
    assert len(out) < 20 * KB
    assert main(["archetypes", "--top", "2", "--dominance", "--kind", "fixes_that_fail"]) == 0
    out = capsys.readouterr().out
    assert "then loop dominance (base run)" in out and "% of their partition's loop activity" in out
    assert main(["archetypes", "--scenario", "survivor_led"]) == 2
    assert "--scenario only applies with --dominance" in capsys.readouterr().err


def test_the_docs_state_the_reference_counts(reference):
    import re

    _, _, found = reference
    text = (REPO / "docs" / "archetypes.md").read_text()
    page = " ".join(text.split())
    m = re.search(
        r"The reference model gives ([\d,]+) matches, ([\d,]+) of them growth and underinvestment", page
    )
    assert m and int(m[1].replace(",", "")) == len(found)
    gu = found.findings.of_kind("growth_and_underinvestment")
    assert int(m[2].replace(",", "")) == gu.n_matches
    m = re.search(
        r"the ([\d,]+) matches make ([\d,]+) findings; the ([\d,]+) growth and underinvestment "
        r"matches make ([\d,]+)",
        page,
    )
    assert m and int(m[2].replace(",", "")) == len(found.findings) and int(m[4]) == len(gu)
