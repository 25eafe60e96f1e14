"""``python -m curate.cli``: the ``curate`` command."""

from __future__ import annotations

import sys

from curate.cli.main import main

if __name__ == "__main__":  # importing this module (the packaging test imports them all) runs nothing
    sys.exit(main())
