"""Generate docs/model.md's variable tables and structure pictures from the model file.

Run ``python tools/model_tables.py``: it rewrites the part of docs/model.md
between ``<!-- tables:start -->`` and ``<!-- tables:end -->`` and renders
docs/img/stock_flow.png (people and cases) and docs/img/named_loops.png (the
named feedback loops as a signed causal diagram).
"""

from __future__ import annotations

from pathlib import Path

import trafficsys as ts
from trafficsys.model.elements import Kind

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "model.md"
IMG = ROOT / "docs" / "img"
PEOPLE = [
    "vulnerable",
    "in_exploitation",
    "institutional_care",
    "community_reintegration",
    "reintegrated",
    "survivor_leaders",
]


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def tables(m) -> str:
    """Markdown tables of every stock, flow, auxiliary, constant, graphical function and named loop."""
    out = []
    out.append(
        "### Stocks\n\n| stock | units | initial | inflows | outflows | doc |\n|---|---|---|---|---|---|"
    )
    for e in m.elements(Kind.STOCK):
        out.append(
            f"| `{e.name}` | {e.units} | `{_cell(e.initial)}` | {', '.join(e.inflows) or '-'} | "
            f"{', '.join(e.outflows) or '-'} | {_cell(e.doc)} |"
        )
    out.append("\n### Flows\n\n| flow | units | equation | doc |\n|---|---|---|---|")
    for e in m.elements(Kind.FLOW):
        out.append(f"| `{e.name}` | {e.units} | `{_cell(e.equation)}` | {_cell(e.doc)} |")
    out.append("\n### Auxiliaries\n\n| auxiliary | units | equation | doc |\n|---|---|---|---|")
    for e in m.elements(Kind.AUX):
        out.append(f"| `{e.name}` | {e.units} | `{_cell(e.equation)}` | {_cell(e.doc)} |")
    out.append(
        "\n### Constants\n\n| constant | value | range | units | source | doc |\n|---|---|---|---|---|---|"
    )
    for e in m.constants:
        rng = f"{e.range[0]:g} - {e.range[1]:g}" if e.range else "-"
        out.append(f"| `{e.name}` | {e.value:g} | {rng} | {e.units} | {_cell(e.source)} | {_cell(e.doc)} |")
    lookups = m.elements(Kind.LOOKUP)
    if lookups:
        out.append(
            "\n### Graphical functions\n\n| lookup | units | points (x, y) | extrapolation | doc |\n"
            "|---|---|---|---|---|"
        )
        for e in lookups:
            points = ", ".join(f"({x:g}, {y:g})" for x, y in e.points)
            out.append(
                f"| `{e.name}` | {e.units or '-'} | {points} | {e.extrapolation.value} | {_cell(e.doc)} |"
            )
    out.append("\n### Named loops\n\n| loop | polarity | variables (causal order) | doc |\n|---|---|---|---|")
    for lp in m.loops.values():
        out.append(f"| `{lp.name}` | {lp.polarity} | {' -> '.join(lp.variables)} | {_cell(lp.doc)} |")
    return "\n".join(out)


def stock_flow_picture(m, path: Path) -> None:
    """Render the people and case stocks with their flows to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pos = {
        "vulnerable": (0, 2),
        "in_exploitation": (2, 2),
        "institutional_care": (4, 3),
        "community_reintegration": (4, 1),
        "reintegrated": (6, 1),
        "survivor_leaders": (8, 1),
        "cases_under_investigation": (4, -1),
        "cases_in_trial": (6, -1),
        "cases_convicted": (8, -0.5),
        "cases_acquitted": (8, -1.5),
        "cases_closed": (6, -2),
    }
    fig, ax = plt.subplots(figsize=(13, 6.5))
    stocks = {s.name: s for s in m.stocks}
    for name, (x, y) in pos.items():
        ax.add_patch(
            plt.Rectangle(
                (x - 0.75, y - 0.3), 1.5, 0.6, fc="#e8f1fa" if name in PEOPLE else "#f4efe6", ec="0.3"
            )
        )
        ax.text(x, y, name.replace("_", "\n", 1), ha="center", va="center", fontsize=8)
    for fl in m.elements(Kind.FLOW):
        src = [s for s, e in stocks.items() if fl.name in e.outflows and s in pos]
        dst = [s for s, e in stocks.items() if fl.name in e.inflows and s in pos]
        if not src and not dst:
            continue
        a = pos[src[0]] if src else (pos[dst[0]][0] - 1.6, pos[dst[0]][1] + 0.6)
        b = pos[dst[0]] if dst else (pos[src[0]][0] + 0.3, pos[src[0]][1] + 0.9)
        if not dst and not src:
            continue
        if fl.name.startswith(("exploitation_year", "identification_tally", "re_trafficking_tally")):
            continue
        rad = 0.25 if fl.name.startswith("re_trafficking") else 0.0
        ax.annotate(
            "",
            xy=b,
            xytext=a,
            arrowprops={
                "arrowstyle": "-|>",
                "lw": 1.6,
                "color": "#1f5a99" if (src and src[0] in PEOPLE) or (dst and dst[0] in PEOPLE) else "#8c6d31",
                "shrinkA": 22,
                "shrinkB": 22,
                "connectionstyle": f"arc3,rad={rad}",
            },
        )
        mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + (0.35 if rad else 0.08)
        ax.text(mx, my, fl.name, fontsize=6.5, ha="center", color="0.25")
    ax.set_xlim(-2.2, 9.2)
    ax.set_ylim(-2.6, 3.8)
    ax.axis("off")
    ax.set_title(
        "Stocks and flows: people (blue) and cases (brown); arrows without a source or target "
        "cross the model boundary",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def loops_picture(m, path: Path) -> None:
    """Render the named loops as a signed causal diagram to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import networkx as nx

    cld = m.cld()
    g = nx.DiGraph()
    for lp in m.loops.values():
        vs = list(lp.variables)
        for a, b in zip(vs, vs[1:] + vs[:1]):
            g.add_edge(a, b, polarity=cld.link(a, b).polarity)
    pos = nx.kamada_kawai_layout(g)
    fig, ax = plt.subplots(figsize=(14, 11))
    colors = ["#1b9e77" if d["polarity"] == "+" else "#d95f02" for _, _, d in g.edges(data=True)]
    nx.draw_networkx_edges(
        g,
        pos,
        ax=ax,
        edge_color=colors,
        arrows=True,
        arrowsize=12,
        width=1.3,
        connectionstyle="arc3,rad=0.08",
        node_size=1800,
    )
    nx.draw_networkx_labels(
        g,
        pos,
        ax=ax,
        labels={n: n.replace("_", "\n") for n in g},
        font_size=7,
        bbox={"fc": "white", "ec": "0.6", "boxstyle": "round,pad=0.2"},
    )
    ax.set_title(
        "The named feedback loops of the reference model (green: + link, orange: - link)", fontsize=11
    )
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    """Rewrite the generated part of docs/model.md and the two pictures."""
    m = ts.load_default()
    text = DOC.read_text()
    start, end = "<!-- tables:start -->", "<!-- tables:end -->"
    i, j = text.index(start) + len(start), text.index(end)
    DOC.write_text(text[:i] + "\n\n" + tables(m) + "\n\n" + text[j:])
    IMG.mkdir(parents=True, exist_ok=True)
    stock_flow_picture(m, IMG / "stock_flow.png")
    loops_picture(m, IMG / "named_loops.png")
    print(f"wrote {DOC}, {IMG / 'stock_flow.png'}, {IMG / 'named_loops.png'}")


if __name__ == "__main__":
    main()
