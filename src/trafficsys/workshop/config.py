"""The workshop file: rounds, years per round, budget, levers with bounds, indicators and the debrief.

A workshop file is TOML (``docs/workshop.md`` describes every field).  It is
read once, checked against the model it will be played on, and turned into a
frozen :class:`Workshop`.  :meth:`Workshop.check_decision` is the one place a
team's decision is judged acceptable; the pages repeat its checks in the
browser for comfort, the server's answer is the one that counts.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import FileFormatError, ModelError
from ..model.elements import Constant
from ..model.model import Model

__all__ = [
    "Lever",
    "Indicator",
    "Question",
    "Workshop",
    "DecisionError",
    "load_workshop",
    "default_workshop_path",
    "MAX_TEAMS",
]

#: most teams a session may have (each is a simulation in memory and a form on the summary screen)
MAX_TEAMS = 60
#: a decision's spending levers must add up to the budget within this share of it
BUDGET_TOLERANCE = 1e-6


class DecisionError(ModelError):
    """A team's decision is not acceptable (a bound, the budget, a missing or non-numeric value)."""


@dataclass(frozen=True)
class Lever:
    """One decision a team makes each round."""

    name: str
    label: str
    constant: str  #: the model constant it sets
    min: float
    max: float
    default: float
    spends: bool  #: a line of the budget: the spending levers' values add up to the budget
    to_model: str  #: "share": the constant gets value / budget; "value": the value itself
    step: float | None = None
    units: str = ""
    help: str = ""


@dataclass(frozen=True)
class Indicator:
    """A model variable teams watch."""

    name: str
    label: str
    units: str = ""
    better: str = "higher"


@dataclass(frozen=True)
class Question:
    """A debrief question tied to one of the model's named loops."""

    loop: str
    text: str


@dataclass(frozen=True)
class Workshop:
    """A checked workshop file."""

    title: str
    rounds: int
    years_per_round: float
    budget: float
    budget_units: str
    teams: int
    briefing: str
    levers: tuple[Lever, ...]
    indicators: tuple[Indicator, ...]
    strategies: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    blocks_target: str | None = None
    blocks_runs: int = 8
    blocks_seed: int = 1
    file: str | None = field(default=None, compare=False)

    # ------------------------------------------------------------ decisions
    def defaults(self) -> dict[str, float]:
        """Return every lever's default (an acceptable decision: checked when the file is read)."""
        return {lv.name: lv.default for lv in self.levers}

    def check_decision(self, decisions: Any) -> dict[str, float]:
        """Return ``decisions`` as ``{lever: float}`` when acceptable, else raise :class:`DecisionError`.

        Every lever must be given, as a finite number (not text, not a
        boolean) within its bounds; no other key is allowed; the spending
        levers must add up to the budget.
        """
        if not isinstance(decisions, Mapping):
            raise DecisionError(f"'decisions' must be an object of lever -> number, got {_kind(decisions)}")
        known = {lv.name for lv in self.levers}
        unknown = [k for k in decisions if k not in known]
        if unknown:
            raise DecisionError(f"unknown lever '{unknown[0]}'; the levers are {', '.join(sorted(known))}")
        out: dict[str, float] = {}
        for lv in self.levers:
            if lv.name not in decisions:
                raise DecisionError(f"lever '{lv.name}' ({lv.label}) is missing; give every lever a value")
            v = decisions[lv.name]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise DecisionError(f"lever '{lv.name}' must be a number, got {_shown(v)}")
            v = float(v)
            if not math.isfinite(v):
                raise DecisionError(f"lever '{lv.name}' must be a finite number, got {v}")
            if not lv.min <= v <= lv.max:
                raise DecisionError(
                    f"lever '{lv.name}' ({lv.label}) must be between {lv.min:g} and {lv.max:g}, got {v:g}"
                )
            out[lv.name] = v
        spent = sum(out[lv.name] for lv in self.levers if lv.spends)
        if any(lv.spends for lv in self.levers) and abs(spent - self.budget) > BUDGET_TOLERANCE * self.budget:
            raise DecisionError(
                f"the budget lines add up to {spent:g} but the budget is {self.budget:g} "
                f"{self.budget_units}; spend all of it, no more"
            )
        return out

    def model_values(self, decision: Mapping[str, float]) -> dict[str, float]:
        """Return the model constants an accepted decision sets."""
        return {
            lv.constant: (decision[lv.name] / self.budget if lv.to_model == "share" else decision[lv.name])
            for lv in self.levers
        }

    def round_end(self, model: Model, k: int) -> float:
        """Model time at the end of round ``k`` (1-based)."""
        return float(model.specs.start) + k * self.years_per_round

    # ------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("file")
        return d

    def digest(self) -> str:
        """Return a digest of the workshop's content (sessions remember which workshop they were played with)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def levers_json(self) -> dict[str, dict[str, Any]]:
        """Return the levers as the API shows them: ``{name: {min, max, default, ...}}``."""
        return {
            lv.name: {
                "min": lv.min,
                "max": lv.max,
                "default": lv.default,
                "step": lv.step,
                "label": lv.label,
                "spends": lv.spends,
                "units": lv.units or (self.budget_units if lv.spends else ""),
                "help": lv.help,
            }
            for lv in self.levers
        }


def default_workshop_path() -> Path:
    """Return the path of the workshop file shipped for the reference model."""
    from ..io.resources import model_path

    return model_path("anti_trafficking_ecosystem.workshop")


# ------------------------------------------------------------ reading
_WORKSHOP_KEYS = {"title", "rounds", "years_per_round", "budget", "budget_units", "teams", "briefing"}
_LEVER_KEYS = {"label", "constant", "spends", "to_model", "min", "max", "default", "step", "units", "help"}
_INDICATOR_KEYS = {"label", "units", "better"}
_DEBRIEF_KEYS = {"strategies", "blocks_target", "blocks_runs", "blocks_seed", "questions"}


def load_workshop(path: str | Path, model: Model) -> Workshop:
    """Read and check a workshop file against the model it will be played on.

    Raises
    ------
    FileFormatError
        Naming the file and the field, for anything missing, mistyped or
        inconsistent with the model (an unknown constant, a default outside its
        bounds, defaults that do not add up to the budget, more rounds than the
        model's horizon holds...).
    """
    path = Path(path)
    try:
        text = limits.read_file(path).decode("utf-8")  # the one file guard every reader uses
    except OSError as e:
        raise FileFormatError(f"cannot read the workshop file: {e.strerror or e}", file=str(path)) from None
    except UnicodeDecodeError:
        raise FileFormatError("the workshop file is not UTF-8 text", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise FileFormatError(f"not valid TOML: {e}", file=str(path)) from None
    return parse_workshop(data, model, file=str(path))


def parse_workshop(data: Mapping[str, Any], model: Model, *, file: str | None = None) -> Workshop:
    """Check the parsed TOML of a workshop file against ``model`` (see :func:`load_workshop`)."""
    r = _Reader(file)
    r.keys(data, {"workshop", "levers", "indicators", "debrief"}, "the file")
    w = r.table(data, "workshop", "[workshop]")
    r.keys(w, _WORKSHOP_KEYS, "[workshop]")
    rounds = r.integer(w, "rounds", "[workshop]", least=1, most=100)
    years = r.number(w, "years_per_round", "[workshop]", positive=True)
    budget = r.number(w, "budget", "[workshop]", positive=True)
    teams = r.integer(w, "teams", "[workshop]", least=1, most=MAX_TEAMS, default=4)
    horizon = float(model.specs.stop) - float(model.specs.start)
    if rounds * years > horizon * (1 + 1e-9):
        raise FileFormatError(
            f"[workshop]: {rounds} rounds of {years:g} {model.time_units} need "
            f"{rounds * years:g}, but the model runs only {horizon:g} ({model.specs.start:g} to "
            f"{model.specs.stop:g}); use fewer rounds or shorter ones",
            file=file,
        )
    steps = years / float(model.specs.dt)
    if abs(steps - round(steps)) > 1e-6:
        raise FileFormatError(
            f"[workshop]: years_per_round = {years:g} is not a whole number of the model's time "
            f"steps (DT = {model.specs.dt:g}); choose a multiple of DT",
            file=file,
        )
    levers = []
    raw_levers = r.table(data, "levers", "[levers]")
    if not raw_levers:
        raise FileFormatError(
            "[levers]: give at least one lever ([levers.NAME] with constant, min, max, default)", file=file
        )
    constants_seen: dict[str, str] = {}
    for name, t in raw_levers.items():
        where = f"[levers.{name}]"
        if not isinstance(t, Mapping):
            raise FileFormatError(f"{where} must be a table", file=file)
        r.keys(t, _LEVER_KEYS, where)
        const = r.text(t, "constant", where)
        if const not in model:
            raise FileFormatError(f"{where}: the model has no constant '{const}'", file=file, variable=const)
        if not isinstance(model[const], Constant):
            raise FileFormatError(
                f"{where}: '{const}' is a {model[const].kind.value}, not a constant; a lever sets a constant",
                file=file,
                variable=const,
            )
        if const in constants_seen:
            raise FileFormatError(
                f"{where}: '{const}' is already set by lever '{constants_seen[const]}'",
                file=file,
                variable=const,
            )
        constants_seen[const] = name
        spends = r.boolean(t, "spends", where, default=False)
        to_model = r.text(t, "to_model", where, default="share" if spends else "value")
        if to_model not in ("share", "value"):
            raise FileFormatError(
                f'{where}: to_model must be "share" (the constant gets value / budget) or '
                f'"value", got {to_model!r}',
                file=file,
            )
        lo = r.number(t, "min", where)
        hi = r.number(t, "max", where)
        default = r.number(t, "default", where)
        step = r.number(t, "step", where, positive=True, default=None)
        if not lo <= default <= hi:
            raise FileFormatError(
                f"{where}: need min <= default <= max, got {lo:g}, {default:g}, {hi:g}", file=file
            )
        levers.append(
            Lever(
                name,
                r.text(t, "label", where, default=name.replace("_", " ")),
                const,
                lo,
                hi,
                default,
                spends,
                to_model,
                step,
                r.text(t, "units", where, default=""),
                " ".join(r.text(t, "help", where, default="").split()),
            )
        )
    spending = [lv for lv in levers if lv.spends]
    if spending:
        total = sum(lv.default for lv in spending)
        if abs(total - budget) > BUDGET_TOLERANCE * budget:
            raise FileFormatError(
                f"[levers]: the defaults of the spending levers add up to {total:g}, not the budget "
                f"{budget:g}; the defaults must form an acceptable decision",
                file=file,
            )
    indicators = []
    for name, t in r.table(data, "indicators", "[indicators]").items():
        where = f"[indicators.{name}]"
        if not isinstance(t, Mapping):
            raise FileFormatError(f"{where} must be a table", file=file)
        r.keys(t, _INDICATOR_KEYS, where)
        if name not in model:
            raise FileFormatError(f"{where}: the model has no variable '{name}'", file=file, variable=name)
        better = r.text(t, "better", where, default="higher")
        if better not in ("higher", "lower"):
            raise FileFormatError(f'{where}: better must be "higher" or "lower", got {better!r}', file=file)
        indicators.append(
            Indicator(
                name,
                r.text(t, "label", where, default=name.replace("_", " ")),
                r.text(t, "units", where, default=""),
                better,
            )
        )
    if not indicators:
        raise FileFormatError("[indicators]: name at least one model variable for teams to watch", file=file)
    d = r.table(data, "debrief", "[debrief]")
    r.keys(d, _DEBRIEF_KEYS, "[debrief]")
    strategies = d.get("strategies", [])
    if not isinstance(strategies, list) or not all(isinstance(s, str) for s in strategies):
        raise FileFormatError("[debrief]: strategies must be a list of the model's scenario names", file=file)
    for s in strategies:
        if s not in model.scenarios:
            raise FileFormatError(
                f"[debrief]: the model has no scenario '{s}'; it has {', '.join(model.scenarios) or 'none'}",
                file=file,
            )
    questions = []
    for i, q in enumerate(d.get("questions", [])):
        where = f"[[debrief.questions]] number {i + 1}"
        if not isinstance(q, Mapping):
            raise FileFormatError(f"{where} must be a table with loop and text", file=file)
        r.keys(q, {"loop", "text"}, where)
        loop = r.text(q, "loop", where, default="")
        if loop and loop not in model.loops:
            raise FileFormatError(
                f"{where}: the model names no loop '{loop}'; it names {', '.join(model.loops) or 'none'}",
                file=file,
            )
        questions.append(Question(loop, " ".join(r.text(q, "text", where).split())))
    target = r.text(d, "blocks_target", "[debrief]", default="") or model.metadata.get("target") or None
    if target is not None and target not in model:
        raise FileFormatError(
            f"[debrief]: blocks_target '{target}' is not a variable of the model", file=file
        )
    return Workshop(
        title=r.text(w, "title", "[workshop]", default=model.name),
        rounds=rounds,
        years_per_round=years,
        budget=budget,
        budget_units=r.text(w, "budget_units", "[workshop]", default=""),
        teams=teams,
        briefing=r.text(w, "briefing", "[workshop]", default="").strip(),
        levers=tuple(levers),
        indicators=tuple(indicators),
        strategies=tuple(strategies),
        questions=tuple(questions),
        blocks_target=target,
        blocks_runs=r.integer(d, "blocks_runs", "[debrief]", least=1, most=10_000, default=8),
        blocks_seed=r.integer(d, "blocks_seed", "[debrief]", least=0, most=2**32 - 1, default=1),
        file=file,
    )


class _Reader:
    """Typed access to the parsed TOML, every error naming the file and the field."""

    def __init__(self, file: str | None):
        self.file = file

    def fail(self, message: str) -> FileFormatError:
        return FileFormatError(message, file=self.file)

    def keys(self, t: Mapping[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(t) - allowed)
        if extra:
            raise self.fail(
                f"{where}: unknown field '{extra[0]}'; the fields are {', '.join(sorted(allowed))}"
            )

    def table(self, t: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        v = t.get(key, {})
        if not isinstance(v, Mapping):
            raise self.fail(f"{where} must be a table")
        return v

    def number(
        self, t: Mapping[str, Any], key: str, where: str, *, positive: bool = False, default: Any = ...
    ) -> Any:
        if key not in t:
            if default is ...:
                raise self.fail(f"{where}: '{key}' is missing")
            return default
        v = t[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise self.fail(f"{where}: '{key}' must be a finite number, got {_shown(v)}")
        if positive and v <= 0:
            raise self.fail(f"{where}: '{key}' must be above zero, got {v!r}")
        return float(v)

    def integer(
        self, t: Mapping[str, Any], key: str, where: str, *, least: int, most: int, default: int | None = None
    ) -> int:
        if key not in t:
            if default is None:
                raise self.fail(f"{where}: '{key}' is missing")
            return default
        v = t[key]
        if isinstance(v, bool) or not isinstance(v, int) or not least <= v <= most:
            raise self.fail(
                f"{where}: '{key}' must be a whole number from {least} to {most}, got {_shown(v)}"
            )
        return v

    def text(self, t: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
        if key not in t:
            if default is None:
                raise self.fail(f"{where}: '{key}' is missing")
            return default
        v = t[key]
        if not isinstance(v, str):
            raise self.fail(f"{where}: '{key}' must be text, got {_shown(v)}")
        return v

    def boolean(self, t: Mapping[str, Any], key: str, where: str, *, default: bool) -> bool:
        v = t.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(f"{where}: '{key}' must be true or false, got {_shown(v)}")
        return v


def _kind(v: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", type(None): "null"}.get(type(v), type(v).__name__)


def _shown(v: Any) -> str:
    s = json.dumps(v) if isinstance(v, (str, int, float, bool, type(None), list, dict)) else repr(v)
    return s if len(s) <= 40 else s[:37] + "..."
