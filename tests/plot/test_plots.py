"""Library figures stay readable: units on the axes, labelled intervals, nothing cut off by a plain savefig."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import trafficsys as ts
from trafficsys.analysis import loop_dominance, sensitivity
from trafficsys.plot import compare as plot_compare
from trafficsys.plot._style import thousands


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _saved(ax, tmp_path, name="fig.png"):
    """Save with a plain savefig (no bbox_inches) and return the renderer that drew it."""
    fig = ax.figure
    path = tmp_path / name
    fig.savefig(path)
    assert path.stat().st_size > 0
    return fig.canvas.get_renderer()


def _inside_figure(artist, renderer, tol=1.0):
    bb = artist.get_window_extent(renderer)
    fb = artist.figure.bbox
    return bb.x0 >= fb.x0 - tol and bb.y0 >= fb.y0 - tol and bb.x1 <= fb.x1 + tol and bb.y1 <= fb.y1 + tol


def _visible_labels(ticklabels):
    return [t for t in ticklabels if t.get_visible() and t.get_text()]


def _no_overlap(labels, renderer):
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    return all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))


def competing_model():
    """Logistic growth with long variable names: two loops that compete, a long title and long legend."""
    m = ts.Model("logistic", stop=20, dt=0.125, time_units="year")
    m.constant("growth_rate_of_the_exploited_population", 0.5, range=(0.3, 0.9))
    m.constant("carrying_capacity_of_the_criminal_market", 1000.0)
    m.stock(
        "people_held_in_exploitation_by_networks",
        10.0,
        inflows=["recruitment_into_exploitation"],
        outflows=["exits_from_exploitation"],
    )
    m.flow(
        "recruitment_into_exploitation",
        "growth_rate_of_the_exploited_population * people_held_in_exploitation_by_networks",
    )
    m.flow(
        "exits_from_exploitation",
        "growth_rate_of_the_exploited_population * people_held_in_exploitation_by_networks"
        " * people_held_in_exploitation_by_networks / carrying_capacity_of_the_criminal_market",
    )
    return m


@pytest.fixture(scope="module")
def dominance():
    m = competing_model()
    return loop_dominance(m, ts.simulate(m))


@pytest.fixture(scope="module")
def ensemble_dominance():
    m = competing_model()
    return loop_dominance(m, ts.monte_carlo(m, n=6, seed=1))


@pytest.fixture(scope="module")
def comparison():
    return ts.compare(ts.load_default(), ["survivor_led"], n=12, seed=1)


def test_thousands_formatter():
    assert thousands(450000) == "450,000"
    assert thousands(-12500.0) == "-12,500"
    assert thousands(0.25) == "0.25"
    assert thousands(12) == "12"


def test_dominance_axis_has_time_units_and_plain_savefig_keeps_title_and_legend(dominance, tmp_path):
    ax = dominance.plot()
    assert ax.get_xlabel() == "time (year)"
    r = _saved(ax, tmp_path)
    assert _inside_figure(ax.title, r)
    assert _inside_figure(ax.get_legend(), r)
    assert _inside_figure(ax.xaxis.label, r) and _inside_figure(ax.yaxis.label, r)


def test_dominance_on_given_axes_returns_them(dominance):
    _, ax = plt.subplots()
    assert dominance.plot(ax=ax) is ax


def test_dominance_shares_time_units_legend_inside(ensemble_dominance, tmp_path):
    ax = ensemble_dominance.plot_shares()
    assert ax.get_xlabel() == "time (year)"
    r = _saved(ax, tmp_path)
    assert _inside_figure(ax.get_legend(), r)
    assert _inside_figure(ax.title, r)


def test_dominance_shares_legend_is_bounded_with_many_loops(ensemble_dominance):
    from trafficsys.plot.dominance import plot_dominance_shares

    ax = plot_dominance_shares(ensemble_dominance, top=1)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 2 and texts[1] == "1 other loops"
    # the grey band keeps the rest: every time window still sums to the share of runs with a dominant loop
    heights = {}
    for patch in ax.patches:
        heights[patch.get_x()] = heights.get(patch.get_x(), 0) + patch.get_height()
    shares = ensemble_dominance.shares()
    np.testing.assert_allclose(sorted(heights.values()), sorted(shares.sum(axis=1).values))


def test_comparison_metric_labels_interval_fonts_and_thousands(comparison, tmp_path):
    ax = comparison.plot(metric="exploitation_person_years")
    assert "5–95%" in ax.get_xlabel() and "median" in ax.get_xlabel()
    r = _saved(ax, tmp_path)
    ticks = _visible_labels(ax.get_xticklabels())
    assert any("," in t.get_text() for t in ticks), [t.get_text() for t in ticks]
    assert all(t.get_fontsize() >= 10 for t in ticks + _visible_labels(ax.get_yticklabels()))
    assert ax.xaxis.label.get_fontsize() >= 10
    assert _no_overlap(ticks, r)
    for artist in (ax.title, ax.xaxis.label, *ax.get_yticklabels()):
        assert _inside_figure(artist, r)


def test_comparison_figure_led_by_paired_differences_readable(comparison, tmp_path):
    fig = comparison.figure(tmp_path / "cmp.png")
    assert (tmp_path / "cmp.png").stat().st_size > 0
    r = fig.canvas.get_renderer()
    assert "same future" in fig.get_suptitle()
    assert _inside_figure(fig._suptitle, r)
    paired_axes = [a for a in fig.axes if "in the same future" in a.get_title().replace("\n", " ")]
    assert len(paired_axes) >= 4
    # the first panel (top left) is the paired chart of the primary metric
    assert fig.axes[0] is paired_axes[0]
    assert fig.axes[0].get_title().startswith(comparison.metrics[comparison.primary].label)
    for ax in paired_axes:
        ticks = _visible_labels(ax.get_xticklabels())
        assert _no_overlap(ticks, r), [t.get_text() for t in ticks]
        assert all(t.get_fontsize() >= 10 for t in ticks)
        assert all("of futures" in t.get_text() for t in _visible_labels(ax.get_yticklabels()))
        for artist in (ax.title, ax.xaxis.label):
            assert _inside_figure(artist, r)
    # titles of panels side by side do not run into each other
    boxes = [a.title.get_window_extent(r) for a in paired_axes[1:]]
    assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_paired_chart_states_share_of_futures_improved(comparison):
    ax = comparison.plot()
    s = comparison.strategies[1]
    d = comparison.paired_difference(comparison.primary)
    want = f"better in {d.loc[s, 'share_improved']:.0%} of futures"
    assert any(want in t.get_text() for t in ax.get_yticklabels())
    # the median dot sits at the paired median of that strategy
    dots = [ln for ln in ax.get_lines() if ln.get_marker() == "o"]
    assert np.isclose(dots[0].get_xdata()[0], d.loc[s, "improvement_median"])


def test_comparison_fan_and_regions(comparison, tmp_path):
    ax = plot_compare.plot_fan(comparison)
    r = _saved(ax, tmp_path, "fan.png")
    assert "middle 50%" in ax.get_title()
    assert _inside_figure(ax.title, r)
    assert _inside_figure(ax.get_legend(), r)
    assert not ax.get_legend().get_window_extent(r).overlaps(ax.get_window_extent(r))
    a, b = comparison.strategies[1], comparison.strategies[0]
    ax = plot_compare.plot_regions(comparison, a, b)
    r = _saved(ax, tmp_path, "regions.png")
    legend = ax.get_legend()
    assert _inside_figure(legend, r)
    # the legend sits outside the data area, so it covers no sampled future
    assert not legend.get_window_extent(r).overlaps(ax.get_window_extent(r))


@pytest.mark.parametrize(
    "method,options", [("elasticity", {}), ("morris", {"trajectories": 6}), ("sobol", {"n": 8})]
)
def test_sensitivity_names_and_legend_survive_plain_savefig(method, options, tmp_path):
    m = competing_model()
    res = (
        sensitivity(
            m,
            "people_held_in_exploitation_by_networks@10",
            method=method,
            seed=1,
            constants=["growth_rate_of_the_exploited_population"],
            **options,
        )
        if method != "elasticity"
        else sensitivity(m, "people_held_in_exploitation_by_networks@10", method=method)
    )
    ax = res.plot()
    r = _saved(ax, tmp_path)
    names = _visible_labels(ax.get_yticklabels())
    assert any("growth_rate_of_the_exploited_population" == t.get_text() for t in names)
    for artist in (*names, ax.title, ax.xaxis.label):
        assert _inside_figure(artist, r)
    if method != "elasticity":
        assert "confidence interval" in ax.get_xlabel()
        assert _inside_figure(ax.get_legend(), r)


def test_tick_labels_tell_close_ticks_apart():
    from trafficsys.plot._style import distinct_labels

    assert distinct_labels([2133.0, 2133.05, 2133.1]) == ["2,133.00", "2,133.05", "2,133.10"]
    assert distinct_labels([1000, 2000]) == ["1,000", "2,000"]
    assert distinct_labels([0.2834, 0.28345, 0.2835]) == ["0.2834", "0.28345", "0.2835"]


def test_a_nearly_constant_big_stock_gets_distinct_tick_labels(tmp_path):
    """A stock moving by a fraction of a unit around 2,133 once had '2,133' on every tick."""
    m = ts.Model("flat", stop=10, dt=0.25, time_units="year")
    m.stock("network", 2133.0, inflows=["drift"], units="trafficker")
    m.flow("drift", "0.02", units="trafficker/year")
    ax = ts.simulate(m).plot("network")
    _saved(ax, tmp_path)
    ticks = [t.get_text() for t in _visible_labels(ax.get_yticklabels())]
    assert len(ticks) >= 3 and len(set(ticks)) == len(ticks), ticks


def test_results_plot_time_units_and_thousands(tmp_path):
    m = ts.Model("growth", stop=10, dt=0.25, time_units="year")
    m.stock("people", 100000.0, inflows=["arrivals"], units="person")
    m.flow("arrivals", "0.2 * people", units="person/year")
    ax = ts.simulate(m).plot("people")
    r = _saved(ax, tmp_path)
    assert ax.get_xlabel() == "time (year)"
    ticks = _visible_labels(ax.get_yticklabels())
    assert any("," in t.get_text() for t in ticks)
    assert _inside_figure(ax.yaxis.label, r)


def test_runs_overlay_scenarios_with_units(tmp_path):
    m = competing_model()
    m.scenario("fast", {"growth_rate_of_the_exploited_population": 0.8})
    base, fast = ts.simulate(m), ts.simulate(m, scenario="fast")
    ax = base.plot("people_held_in_exploitation_by_networks", compare={"fast": fast})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == 2 and labels[1].startswith("fast")
    lines = ax.get_lines()
    np.testing.assert_allclose(
        lines[1].get_ydata(), fast["people_held_in_exploitation_by_networks"].values[:, 0]
    )
    assert lines[0].get_color() != lines[1].get_color()
    r = _saved(ax, tmp_path)
    assert _inside_figure(ax.get_legend(), r)


def test_ensemble_fan_has_median_and_two_bands():
    m = competing_model()
    mc = ts.monte_carlo(m, n=40, seed=2)
    ax = mc.plot_fan("people_held_in_exploitation_by_networks")
    values = mc["people_held_in_exploitation_by_networks"].values
    median = [ln for ln in ax.get_lines() if ln.get_label() == "median"][0]
    np.testing.assert_allclose(median.get_ydata(), np.percentile(values, 50, axis=1))
    bands = [c for c in ax.collections if "percentile" in c.get_label()]
    assert [b.get_label().split(" (")[1] for b in bands] == ["90% of runs)", "50% of runs)"]
    # the 90% band encloses the 50% band at every time
    outer, inner = (b.get_paths()[0].vertices for b in bands)
    assert outer[:, 1].max() >= inner[:, 1].max() and outer[:, 1].min() <= inner[:, 1].min()


def test_runs_figure_one_panel_per_variable_with_its_units(tmp_path):
    from trafficsys.plot.runs import runs_figure

    m = ts.Model("two", stop=5, dt=0.5, time_units="year")
    m.stock("people", 1000.0, outflows=["leaving"], units="person")
    m.flow("leaving", "people / 10", units="person/year")
    m.stock("money", 5e6, units="USD")
    fig = runs_figure(ts.simulate(m), ["people", "money"], path=tmp_path / "runs.png")
    units = [ax.get_ylabel() for ax in fig.axes if ax.get_visible()]
    assert units == ["person", "USD"]
    assert (tmp_path / "runs.png").stat().st_size > 0
