"""``trafficsys validate``: the reference model passes, broken files fail with status 1 and say why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import REPO

import trafficsys as ts
from trafficsys.cli import COMMANDS, build_parser, main
from trafficsys.model.elements import Kind

EXAMPLE = REPO / "models" / "examples" / "exploitation_exit.toml"


def _write(tmp_path: Path, old: str, new: str, name: str = "broken.toml") -> Path:
    text = EXAMPLE.read_text()
    assert old in text, f"the example model no longer contains {old!r}; update this test"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return path


def test_registered_with_help():
    assert "validate" in COMMANDS
    help_text = build_parser()._subparsers._group_actions[0].choices["validate"].format_help()
    assert "--no-units" in help_text and "model" in help_text


def test_reference_model_is_valid(capsys):
    assert main(["validate"]) == 0
    out, err = capsys.readouterr()
    m = ts.load_default()
    n_stocks = len(m.names(Kind.STOCK))
    line = out.strip().splitlines()[-1]
    assert line.startswith("OK: model 'anti_trafficking_ecosystem'")
    assert f"{len(m)} variables" in line
    assert f"{n_stocks} stocks" in line and n_stocks > 0
    assert "units consistent" in line
    assert err == ""


def test_no_units_says_units_were_skipped(capsys):
    assert main(["validate", "--no-units", str(EXAMPLE)]) == 0
    out, _ = capsys.readouterr()
    assert re.search(r"OK: model 'exploitation_exit' .*13 variables: 2 stocks, 3 flows", out)
    assert "units not checked (--no-units)" in out


def test_misspelt_name_fails_with_file_variable_and_suggestion(tmp_path, capsys):
    path = _write(tmp_path, '"recruitment_rate * at_risk"', '"recruitmnt_rate * at_risk"')
    assert main(["validate", str(path)]) == 1
    out, err = capsys.readouterr()
    assert "OK" not in out
    assert "1 error" in err
    assert str(path) in err
    assert "variable 'recruitment'" in err
    assert "did you mean 'recruitment_rate'" in err
    assert "Traceback" not in err


def test_every_problem_is_counted_and_listed(tmp_path, capsys):
    path = _write(tmp_path, '"recruitment_rate * at_risk"', '"recruitmnt_rate * at_risk"')
    text = path.read_text().replace("value = 0.08\n", "value = 5\n", 1)  # self_exit_rate outside [0.03, 0.2]
    path.write_text(text)
    assert main(["validate", str(path)]) == 1
    _, err = capsys.readouterr()
    assert "2 errors" in err
    assert "recruitmnt_rate" in err and "self_exit_rate" in err


def test_units_error_is_caught_unless_skipped(tmp_path, capsys):
    path = _write(tmp_path, 'units = "person/year"', 'units = "person"')
    assert main(["validate", str(path)]) == 1
    _, err = capsys.readouterr()
    assert "unit" in err.lower()
    assert main(["validate", "--no-units", str(path)]) == 0


def test_warnings_are_printed_and_still_ok(tmp_path, capsys):
    path = _write(tmp_path, "dt = 0.125\n", "dt = 0.125\nsaveper = 0.3\n")
    assert main(["validate", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert "warning: saveper (0.3) is not a multiple of dt (0.125)" in out
    assert out.strip().splitlines()[-1].endswith("1 warning")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("[model\nname = 'x'\n", "not valid TOML"),
        (None, "no such file"),
    ],
)
def test_unreadable_file_is_status_1(tmp_path, capsys, content, expected):
    path = tmp_path / "m.toml"
    if content is not None:
        path.write_text(content)
    assert main(["validate", str(path)]) == 1
    _, err = capsys.readouterr()
    assert "cannot read" in err and expected in err and "Traceback" not in err


def test_hand_drawn_diagram_is_counted(capsys):
    path = EXAMPLE.parents[1] / "archetypes" / "shifting_the_burden.toml"
    m = ts.load(path)
    assert main(["validate", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert f"hand-drawn causal-loop diagram: {len(m.cld_variables)} variables, {len(m.links)} links" in out


def test_model_without_units_does_not_claim_consistent_units(tmp_path, capsys):
    path = tmp_path / "bare.toml"
    path.write_text(
        '[model]\nname = "bare"\n\n[constants.k]\nvalue = 0.1\n\n'
        '[stocks.x]\ninitial = "100"\noutflows = ["loss"]\n\n[flows.loss]\nequation = "k * x"\n'
    )
    assert main(["validate", str(path)]) == 0
    out, _ = capsys.readouterr()
    assert "no units declared" in out and "units consistent" not in out
