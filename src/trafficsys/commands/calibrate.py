"""``trafficsys calibrate``: fit a model to a place's published figures (a local-data file)."""

from __future__ import annotations

import argparse

from ._args import MODEL_HELP, add_force, check_outputs

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``trafficsys calibrate``."""
    parser.add_argument(
        "data",
        help="local-data TOML file: [unit], [set.CONSTANT], [targets.VARIABLE] with "
        "their sources, [fit] constants (format: trafficsys.io.localdata; example: "
        "data/local/telangana.toml)",
    )
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument(
        "--fit", nargs="+", metavar="CONSTANT", help="constants to fit (default: the file's [fit])"
    )
    parser.add_argument("--write", metavar="TOML", help="write the adapted, calibrated model here")
    add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Fit, then print the fit to each target and whether each constant is identified."""
    import trafficsys as ts

    check_outputs(other=args.write, force=args.force)
    model = ts.load(args.model) if args.model else ts.load_default()
    fit = ts.calibrate(model, args.data, params=args.fit)
    local = fit.local
    print(
        f"Calibration of {model.name} to {local.name} ({args.data}): "
        f"{'converged' if fit.success else 'did NOT converge'} ({fit.nfev} evaluations)"
    )
    print("\nFit to each target (model mean over the target's years vs the published figure):")
    observed = fit.fitted - fit.residuals
    for t in local.targets:
        sim = float(fit.fitted[t.variable].mean())
        obs = float(observed[t.variable].mean())
        scale = t.sd if t.sd is not None else abs(obs) * t.tolerance
        ok = abs(sim - obs) <= 2 * scale
        print(
            f"  {t.variable:28s} model {sim:10.4g}   published {obs:10.4g}   "
            f"{'within' if ok else 'OUTSIDE'} 2x its uncertainty ({scale:.3g})"
        )
        print(f"  {'':28s} source: {t.source}")
    print("\nFitted constants (value +- the sd the figures' uncertainty allows) and identifiability:")
    ident = fit.identifiability()
    for name, row in fit.params.iterrows():
        i = ident.loc[name]
        print(
            f"  {name:30s} {row['value']:11.4g} +- {i['sd']:<10.3g} range [{row['range_low']:.4g}, "
            f"{row['range_high']:.4g}]  {'identified' if i['identified'] else 'NOT identified'}: {i['why']}"
        )
    if not ident["identified"].all():
        print(
            "\n  A constant that is not identified is not pinned down by these figures: add a target that "
            "moves it alone, or fix it from another source ([set.NAME] with its source)."
        )
    if args.write:
        from ..io import save

        save(fit.model, args.write)
        print(f"\nwrote {args.write}")
    return 0
