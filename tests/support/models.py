"""Small models with known behaviour, built the way a user would build them."""

from __future__ import annotations

import trafficsys as ts


def logistic(
    r: float = 0.5,
    k: float = 1000.0,
    pop0: float = 10.0,
    *,
    stop: float = 20,
    dt: float = 0.0625,
    r_range: tuple[float, float] = (0.3, 0.9),
    k_range: tuple[float, float] | None = None,
    documented: bool = False,
) -> ts.Model:
    """Logistic growth as two loops: births ``r * pop`` (R) and crowding deaths ``r * pop^2 / k`` (B).

    The population follows ``k / (1 + (k / pop0 - 1) exp(-r t))``. ``documented`` adds the units,
    time units and sources a model file on disk carries.
    """

    def units(text: str) -> dict:
        return {"units": text} if documented else {}

    source = "assumption: test" if documented else ""
    m = ts.Model("logistic", stop=stop, dt=dt, time_units="year" if documented else "time")
    m.constant("r", r, range=r_range, source=source, **units("1/year"))
    m.constant("k", k, range=k_range, source=source, **units("person"))
    m.stock("pop", pop0, inflows=["births"], outflows=["deaths"], **units("person"))
    m.flow("births", "r * pop", **units("person/year"))
    m.flow("deaths", "r * pop * pop / k", **units("person/year"))
    return m


def teacup() -> ts.Model:
    """The SDXorg teacup: a cup at 180 degrees cooling towards a 70-degree room, time constant 10."""
    m = ts.Model("teacup", stop=30, dt=0.125)
    m.constant("characteristic_time", 10)
    m.constant("room_temperature", 70)
    m.stock("teacup_temperature", initial=180, outflows=["heat_loss_to_room"])
    m.flow("heat_loss_to_room", "(teacup_temperature - room_temperature) / characteristic_time")
    return m


def dense_feedback(n: int = 9, *, stop: float = 20, dt: float = 0.125) -> ts.Model:
    """``n`` stocks, each fed by every other through a saturating flow, each draining: ``sum C(n,k)(k-1)!`` loops.

    With ``n = 9`` the model has 125,673 feedback loops (every cycle of the complete digraph on the
    stocks, plus each stock's drain): too many to list, the case the strongest-path search is for.
    """
    m = ts.Model(f"dense_feedback_{n}", stop=stop, dt=dt)
    for i in range(n):
        m.constant(f"tau_{i}", 2.0 + (4.0 * ((i * 5) % n)) / n, doc="drain time of stock i")
    for i in range(n):
        terms = " + ".join(
            f"{0.1 * (1 + (i * 7 + j * 3) % 5) / n:.4f} * s_{j} / (1 + s_{j} / 50)"
            for j in range(n)
            if j != i
        )
        m.stock(f"s_{i}", float(5 + 3 * i), inflows=[f"in_{i}"], outflows=[f"out_{i}"])
        m.flow(f"in_{i}", terms)
        m.flow(f"out_{i}", f"s_{i} / tau_{i}")
    return m
