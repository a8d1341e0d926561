"""``python -m trafficsys``: the same command line as ``trafficsys``."""

import sys

from trafficsys.cli import main

if __name__ == "__main__":
    sys.exit(main())
