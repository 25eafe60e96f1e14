"""``python -m curate.cli``: the ``curate`` command."""

from __future__ import annotations

import sys

from curate.cli.main import main

sys.exit(main())
