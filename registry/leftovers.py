"""What a killed ``register`` leaves behind, and how the next one clears it.

``register`` uploads a build to a branch of its own, ``build-<fingerprint>-<started>-<random>``
(``started`` in unix seconds), and deletes it when it ends. A process killed in between leaves
that branch (and its staged objects: lakeFS drops them with the branch; the local store's
staging area goes with it too) and, in the local store, temporary files of writes cut short.
The next ``register`` of the dataset deletes the build branches started more than
``max_age_s`` ago and the store's temporary files as old: a register still running is never
older than that (the default, a day, is far longer than registering a build takes; a zero-copy
import of a bucket takes minutes). Branches named otherwise are never touched.

>>> name = build_branch("ab" * 32, started=1_700_000_000)
>>> name.startswith("build-abababababab-1700000000-")
True
>>> branch_started(name), branch_started("build-abababababab-c0ffee12"), branch_started("main")
(1700000000, None, None)
"""

from __future__ import annotations

import logging
import re
import secrets
from typing import Protocol, runtime_checkable

from registry.errors import NotFoundError
from registry.store import Store, paginate

__all__ = ["STALE_AFTER_S", "TempFiles", "branch_started", "build_branch", "clear_leftovers"]

log = logging.getLogger(__name__)

STALE_AFTER_S = 24 * 3600.0
_BUILD_BRANCH = re.compile(r"^build-[0-9a-f]{12}-(\d{10,})-[0-9a-f]{8}$")


@runtime_checkable
class TempFiles(Protocol):
    """A store whose interrupted writes can leave temporary files (the local store)."""

    def remove_temp_files(self, repo: str, *, older_than_s: float, now: float) -> list[str]:
        """Delete the temporary files of ``repo`` (and of uploads) last written more than
        ``older_than_s`` before ``now``; what was deleted."""


def build_branch(fingerprint: str, *, started: float) -> str:
    """The branch one register uploads its build to."""
    return f"build-{fingerprint[:12]}-{int(started)}-{secrets.token_hex(4)}"


def branch_started(name: str) -> int | None:
    """When the register owning build branch ``name`` started (unix seconds); None for a
    branch that is not one."""
    m = _BUILD_BRANCH.match(name)
    return int(m.group(1)) if m else None


def clear_leftovers(store: Store, repo: str, *, now: float, max_age_s: float) -> list[str]:
    """Delete the build branches of ``repo`` started more than ``max_age_s`` before ``now``,
    and the store's temporary files as old; what was deleted (each logged)."""
    cleared = []
    for name in list(paginate(lambda after: store.list_branches(repo, after=after))):
        started = branch_started(name)
        if started is None or now - started <= max_age_s:
            continue
        try:
            store.delete_branch(repo, name)
        except NotFoundError:
            continue  # another register cleared it first
        log.warning("%s: deleted branch %s, left by a register that did not finish (started "
                    "%.1f h ago)", repo, name, (now - started) / 3600)
        cleared.append(f"branch {name}")
    if isinstance(store, TempFiles):
        for path in store.remove_temp_files(repo, older_than_s=max_age_s, now=now):
            log.warning("deleted %s, a temporary file of a write that did not finish", path)
            cleared.append(path)
    return cleared
