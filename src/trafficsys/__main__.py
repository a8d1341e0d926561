"""``python -m trafficsys``: the same command line as ``trafficsys``."""

import sys

from trafficsys.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
