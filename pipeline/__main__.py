"""``python -m pipeline ...``: see pipeline.cli."""

import sys

from pipeline.cli import main

# Guarded: worker processes (forkserver) import the main module again under another name.
if __name__ == "__main__":
    sys.exit(main())
