"""The store protocol: the registry's view of lakeFS's model.

Repositories hold branches; a commit has string metadata; tags name commits; any *ref* (branch,
tag or commit id) resolves to a commit. Every listing is paginated lakeFS-style: pass the last
item's id as ``after`` and keep going while ``has_more``. Implementations: ``registry.local``
(embedded, content-addressed directory) and ``registry.lakefs_store`` (a lakeFS server through
the ``lakefs`` SDK). Both raise only ``registry.errors`` exceptions.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Callable, Generic, Protocol, TypeVar, runtime_checkable

__all__ = [
    "Commit",
    "DiffEntry",
    "DiffType",
    "ImportObject",
    "Importer",
    "Linker",
    "ObjectInfo",
    "Page",
    "Store",
    "paginate",
]

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class Page(Generic[T]):
    results: list[T]
    has_more: bool
    next_offset: str = ""  # pass as ``after`` for the next page


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectInfo:
    path: str
    size_bytes: int
    sha256: str  # hex; recorded by the registry as object metadata on upload


@dataclass(frozen=True, kw_only=True, slots=True)
class Commit:
    id: str
    message: str
    metadata: Mapping[str, str] = field(default_factory=dict)
    parents: tuple[str, ...] = ()
    creation_date: int = 0  # unix seconds


class DiffType(str, enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True, kw_only=True, slots=True)
class DiffEntry:
    path: str
    type: DiffType


@dataclass(frozen=True, kw_only=True, slots=True)
class ImportObject:
    """One object to register in place, without copying its bytes (see :class:`Importer`)."""

    path: str  # on the branch
    uri: str  # where the bytes are: s3://bucket/key
    sha256: str  # hex, verified by the caller
    size_bytes: int
    checksum: str  # the object store's ETag when the caller verified the bytes (no quotes)


@runtime_checkable
class Importer(Protocol):
    """A store that can take objects already in its own object storage without copying them
    (lakeFS's import API). Optional: the registry copies through ``upload_object`` otherwise."""

    def can_import(self, uri: str) -> bool:
        """Whether objects under ``uri`` may be imported (same kind of storage as the store's)."""

    def import_objects(
        self, repo: str, branch: str, objects: list[ImportObject], *, message: str
    ) -> None:
        """Make each object's ``uri`` the content of its ``path`` on ``branch`` (committed with
        ``message``), with its sha256 recorded as for an upload (staged). IntegrityError when
        what the store found at a ``uri`` is not the object of that size and checksum;
        RegistryError when the store cannot read it."""


@runtime_checkable
class Linker(Protocol):
    """A store that can put an object's bytes at a local path without copying them (the local
    store: a hard link to its content-addressed object). Optional: callers download otherwise."""

    def link_object(self, repo: str, ref: str, path: str, *, dest_path: str,
                    sha256: str) -> bool:
        """Make ``dest_path`` (a local file, replaced atomically) the object's bytes without
        reading them. IntegrityError when the object at ``ref`` is not ``sha256`` or its bytes
        are missing; False when no link can be made there (another filesystem)."""


@runtime_checkable
class Store(Protocol):
    """What the registry needs from a versioned object store."""

    # Repositories.
    def create_repository(self, repo: str, *, default_branch: str = "main") -> None:
        """Create an empty repository with an initial commit on ``default_branch``.
        Raises ConflictError if it exists."""

    def repository_exists(self, repo: str) -> bool: ...

    def list_repositories(self, *, after: str = "", amount: int = 100) -> Page[str]: ...

    # Branches and refs.
    def create_branch(self, repo: str, branch: str, *, source_ref: str) -> str:
        """Create ``branch`` at ``source_ref``; returns its commit id. ConflictError if it exists."""

    def delete_branch(self, repo: str, branch: str) -> None: ...

    def list_branches(self, repo: str, *, after: str = "", amount: int = 100) -> Page[str]: ...

    def get_commit(self, repo: str, ref: str) -> Commit:
        """Resolve any ref (branch, tag, commit id) to its commit. NotFoundError if none."""

    def log(self, repo: str, ref: str, *, after: str = "", amount: int = 100) -> Page[Commit]:
        """Commits reachable from ``ref``, newest first (first-parent order)."""

    # Objects (uncommitted writes go to a branch's staging area).
    def upload_object(
        self, repo: str, branch: str, path: str, *, local_path: str, sha256: str
    ) -> ObjectInfo:
        """Upload a local file to ``branch`` at ``path``; ``sha256`` is recorded as metadata."""

    def delete_object(self, repo: str, branch: str, path: str) -> None: ...

    def stat_object(self, repo: str, ref: str, path: str) -> ObjectInfo:
        """NotFoundError if ``path`` does not exist at ``ref``."""

    def list_objects(
        self, repo: str, ref: str, *, prefix: str = "", after: str = "", amount: int = 1000
    ) -> Page[ObjectInfo]:
        """Objects at ``ref`` (including a branch's uncommitted changes), sorted by path."""

    def download_object(self, repo: str, ref: str, path: str, *,
                        dest_path: str) -> str | None:
        """Write the object's bytes to ``dest_path`` (a local file). Returns the sha256 of the
        bytes written when the store hashed them on the way (None when it did not), so that a
        caller checking them need not read the file again."""

    # Commits, merges, tags, diffs.
    def commit(
        self, repo: str, branch: str, *, message: str, metadata: Mapping[str, str]
    ) -> Commit:
        """Commit the branch's staged changes. ConflictError if there are none."""

    def merge(
        self,
        repo: str,
        source_ref: str,
        destination_branch: str,
        *,
        message: str,
        metadata: Mapping[str, str],
    ) -> str:
        """Merge ``source_ref`` into ``destination_branch``; returns the new head commit id.
        ConflictError on a conflict, HookFailedError when a pre-merge hook refuses."""

    def create_tag(self, repo: str, tag: str, ref: str) -> str:
        """Tag the commit ``ref`` resolves to; returns that commit id. ConflictError if taken."""

    def list_tags(
        self, repo: str, *, after: str = "", amount: int = 100
    ) -> Page[tuple[str, str]]:
        """(tag, commit id) pairs sorted by tag name."""

    def diff(
        self, repo: str, left_ref: str, right_ref: str, *, after: str = "", amount: int = 1000
    ) -> Page[DiffEntry]:
        """Object-level changes going from ``left_ref`` to ``right_ref``, sorted by path."""


def paginate(fetch: Callable[[str], Page[T]]) -> Iterator[T]:
    """Iterate every item of a paginated listing: ``paginate(lambda after: store.list_tags(r, after=after))``."""
    after = ""
    while True:
        page = fetch(after)
        yield from page.results
        if not page.has_more:
            return
        after = page.next_offset
