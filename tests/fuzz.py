"""Settings shared by the property-based (fuzz) tests.

The suite runs a fixed, derandomized set of examples so that it stays fast and every run tries
the same inputs; ``CURATE_FUZZ_EXAMPLES=20000`` runs that many random ones instead (locally, to
hunt for new failures).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["fuzz_settings"]


def fuzz_settings(examples: int) -> settings:
    """``examples`` derandomized examples per test, or ``$CURATE_FUZZ_EXAMPLES`` random ones."""
    wanted = int(os.environ.get("CURATE_FUZZ_EXAMPLES", "0") or 0)
    return settings(
        max_examples=wanted or examples,
        derandomize=not wanted,
        deadline=None,  # a shared 2-core machine: time is bounded by pytest-timeout instead
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
