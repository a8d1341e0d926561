"""One module per ``trafficsys`` subcommand: ``add_arguments(parser)`` and ``run(args)``."""

__all__: list[str] = []
