"""In-memory model of the part of lakeFS the registry's lakeFS store uses.

Behaviour follows lakeFS's OpenAPI spec (``api/swagger.yml``) and, where the spec is silent,
its server (``pkg/api/controller.go``, ``pkg/graveler``): ref resolution order (full commit id,
branch, tag, commit-id prefix), a branch's staging area over its head commit, commits that fail
with "no changes", merges that always create a two-parent merge commit (also when the
destination did not move, and when the destination holds every change of the source already)
with a three-way object-level merge and conflicts, the commit log's
creation-date order, two- and three-dot diffs, and pagination (``after``, ``amount`` up to
1000, ``next_offset`` = the last id when ``has_more``); a tag and a branch never share a name.
Errors are :class:`ApiError` with the status code and message lakeFS uses. The HTTP layer is
``tests.registry.lakefs_server``. ``tests/registry/test_lakefs_servers_agree.py`` checks all of
this against a real lakeFS (1.86): where they differed, this model was changed.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["ApiError", "Entry", "LakeFSModel"]

REPOSITORY_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
BRANCH_ID = re.compile(r"^\w[-\w]*$")
STORAGE_NAMESPACE = re.compile(r"^(s3|gs|https?|mem|local|transient)://.*$")
COMMIT_PREFIX = re.compile(r"^[a-fA-F0-9]{1,64}$")
MAX_PER_PAGE, DEFAULT_PER_PAGE = 1000, 100
MERGE_STRATEGY_KEY = ".lakefs.merge.strategy"

T = TypeVar("T")
Tree = Mapping[str, "Entry"]  # committed content: path -> entry


class ApiError(Exception):
    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message} if body is None else body


@dataclass(frozen=True, kw_only=True)
class Entry:
    address: str  # key of the bytes in LakeFSModel.blobs
    size: int
    checksum: str  # md5 hex, like the ETag of lakeFS's local block adapter
    mtime: int
    content_type: str
    metadata: Mapping[str, str]

    def identity(self) -> tuple[Any, ...]:
        # lakeFS: catalog.EntryToValue hashes size, ETag, user metadata and content type.
        return (self.size, self.checksum, sorted(self.metadata.items()), self.content_type)


@dataclass(frozen=True, kw_only=True)
class CommitRecord:
    id: str
    parents: tuple[str, ...]
    committer: str
    message: str
    creation_date: int  # unix seconds, as the API shows it
    created_ns: int  # lakeFS orders its log by the exact time (then by id), not by seconds
    meta_range_id: str
    metadata: Mapping[str, str]
    generation: int
    tree: Tree


@dataclass
class Branch:
    commit_id: str
    staging: dict[str, Entry | None] = field(default_factory=dict)  # None: a tombstone


@dataclass
class Repository:
    id: str
    storage_namespace: str
    default_branch: str
    creation_date: int
    branches: dict[str, Branch] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, CommitRecord] = field(default_factory=dict)


class LakeFSModel:
    """All state of one test server; every public method is atomic (one lock)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._repos: dict[str, Repository] = {}
        self._used_namespaces: set[str] = set()
        self._failing_pre_merge: dict[tuple[str, str | None], str] = {}
        self._nonce = itertools.count()
        self.blobs: dict[str, bytes] = {}

    # Hooks.

    def fail_pre_merge(self, repo: str, message: str, branch: str | None = None) -> None:
        with self._lock:
            self._failing_pre_merge[(repo, branch)] = message

    def clear_hooks(self) -> None:
        with self._lock:
            self._failing_pre_merge.clear()

    # Repositories.

    def create_repository(self, name: str, namespace: str, default_branch: str) -> Repository:
        with self._lock:
            if name in self._repos:
                raise ApiError(409, "error creating repository: not unique")
            if not REPOSITORY_ID.match(name):  # checked against the spec's schema first
                raise ApiError(400, "request body has an error: doesn't match schema "
                                    "#/components/schemas/RepositoryCreation: Error at \"/name\": "
                                    f"string doesn't match the regular expression "
                                    f"\"{REPOSITORY_ID.pattern}\"")
            _validate(default_branch, BRANCH_ID, "branch")
            if not STORAGE_NAMESPACE.match(namespace):
                raise ApiError(400, "failed to create repository: invalid storage namespace")
            if namespace.rstrip("/") in self._used_namespaces:
                raise ApiError(400, "failed to create repository: storage namespace already in use")
            self._used_namespaces.add(namespace.rstrip("/"))
            repo = Repository(name, namespace, default_branch, int(time.time()))
            first = self._add_commit(repo, (), "", "Repository created", {}, {}, generation=1,
                                     meta_range_id="")  # lakeFS: the first commit has none
            repo.branches[default_branch] = Branch(first.id)
            self._repos[name] = repo
            return repo

    def repository(self, name: str) -> Repository:
        with self._lock:
            if name not in self._repos:
                _validate(name, REPOSITORY_ID, "repository")
                raise ApiError(404, "repository not found")
            return self._repos[name]

    def list_repositories(self, prefix: str, after: str, amount: int | None):
        with self._lock:
            return paginate(sorted(self._repos.values(), key=_id), _id, prefix, after, amount)

    # Branches, tags and refs.

    def create_branch(self, repo_id: str, name: str, source: str) -> str:
        with self._lock:
            repo = self.repository(repo_id)
            _validate(name, BRANCH_ID, "branch")
            if name in repo.branches:
                raise ApiError(409, "branch already exists: not unique")
            if name in repo.tags:
                raise ApiError(409, f"tag ID {name}: conflict found")
            try:
                commit_id = self._resolve(repo, source).id
            except ApiError as exc:
                if exc.status == 404:
                    raise ApiError(404, f"source reference '{source}': not found") from None
                raise
            repo.branches[name] = Branch(commit_id)
            return commit_id

    def delete_branch(self, repo_id: str, name: str) -> None:
        with self._lock:
            repo = self.repository(repo_id)
            self._branch(repo, name)
            if name == repo.default_branch:
                raise ApiError(403, "cannot delete repository default branch")
            del repo.branches[name]

    def list_branches(self, repo_id: str, prefix: str, after: str, amount: int | None):
        with self._lock:
            refs = sorted((n, b.commit_id) for n, b in self.repository(repo_id).branches.items())
            return paginate(refs, lambda r: r[0], prefix, after, amount)

    def create_tag(self, repo_id: str, tag: str, ref: str) -> str:
        with self._lock:
            repo = self.repository(repo_id)
            _validate_tag(tag)
            if tag in repo.tags:
                raise ApiError(409, "tag already exists: not unique")
            if tag in repo.branches:
                raise ApiError(409, f"branch name {tag}: conflict found")
            repo.tags[tag] = self._resolve(repo, ref).id
            return repo.tags[tag]

    def list_tags(self, repo_id: str, prefix: str, after: str, amount: int | None):
        with self._lock:
            refs = sorted(self.repository(repo_id).tags.items())
            return paginate(refs, lambda r: r[0], prefix, after, amount)

    def get_commit(self, repo_id: str, ref: str) -> CommitRecord:
        with self._lock:
            repo = self.repository(repo_id)
            try:
                return self._resolve(repo, ref)
            except ApiError as exc:
                if exc.status == 404:
                    raise ApiError(404, "commit not found") from None
                raise

    def log(self, repo_id: str, ref: str, after: str, amount: int | None, first_parent: bool):
        """lakeFS's CommitIterator: a queue ordered by creation date, then commit id, newest
        first; ``after`` is the last commit id of the previous page."""
        with self._lock:
            repo = self.repository(repo_id)
            start = self._resolve(repo, ref)
            queue = [_newest_first(start)]
            seen = {start.id}
            commits: list[CommitRecord] = []
            while queue:
                commit = heapq.heappop(queue)[2]
                commits.append(commit)
                parents = commit.parents[:1] if first_parent else commit.parents
                for parent in parents:
                    if parent not in seen:
                        seen.add(parent)
                        heapq.heappush(queue, _newest_first(repo.commits[parent]))
            ids = [c.id for c in commits]
            if after and after not in ids:
                try:
                    self._resolve(repo, after)
                except ApiError as exc:
                    if exc.status == 404:
                        raise ApiError(404, "from ref: not found") from None
                    raise
            if after:
                commits = commits[ids.index(after) + 1 :] if after in ids else []
            limit = page_size(amount)
            return paginate(commits[: limit + 1], _id, "", "", limit)

    # Objects.

    def put_object(
        self,
        repo_id: str,
        branch: str,
        path: str,
        data: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str],
        if_none_match: str | None,
    ) -> Entry:
        address = uuid.uuid4().hex
        entry = Entry(
            address=address,
            size=len(data),
            checksum=hashlib.md5(data).hexdigest(),
            mtime=int(time.time()),
            content_type=content_type,
            metadata=dict(metadata),
        )
        with self._lock:
            repo = self.repository(repo_id)
            if branch not in repo.branches:
                raise ApiError(404, f"branch '{branch}' not found")
            if not path:
                raise ApiError(400, "path: required value: invalid value")
            if if_none_match == "*" and path in self._view(repo, branch):
                raise ApiError(412, "path already exists")
            self.blobs[address] = data
            repo.branches[branch].staging[path] = entry
            return entry

    def delete_object(self, repo_id: str, branch: str, path: str) -> None:
        """Missing objects are not an error (spec: "Missing objects will not return a NotFound")."""
        with self._lock:
            repo = self.repository(repo_id)
            b = self._branch(repo, branch)
            if path in repo.commits[b.commit_id].tree:
                b.staging[path] = None
            else:
                b.staging.pop(path, None)

    def stat_object(self, repo_id: str, ref: str, path: str) -> Entry:
        with self._lock:
            repo = self.repository(repo_id)
            entry = self._view(repo, ref).get(path)
            if entry is None:
                raise ApiError(404, "not found")
            return entry

    def list_objects(self, repo_id: str, ref: str, prefix: str, after: str, amount: int | None):
        with self._lock:
            view = self._view(self.repository(repo_id), ref)
            entries = sorted(view.items())
            return paginate(entries, lambda e: e[0], prefix, after, amount)

    # Commits, merges, diffs.

    def commit(
        self,
        repo_id: str,
        branch: str,
        committer: str,
        message: str,
        metadata: Mapping[str, str],
        allow_empty: bool,
    ) -> CommitRecord:
        with self._lock:
            repo = self.repository(repo_id)
            if branch not in repo.branches:
                _validate(branch, BRANCH_ID, "branch")
                raise ApiError(404, f"prepare-commit hook aborted, run id '{uuid.uuid4().hex[:20]}'"
                                    ": list actions from commit: listing actions: not found")
            b = repo.branches[branch]
            parent = repo.commits[b.commit_id]
            tree = _apply(parent.tree, b.staging)
            if not allow_empty and (not b.staging or _meta_range_id(tree) == _content(parent)):
                raise ApiError(400, "commit: no changes")
            commit = self._add_commit(
                repo, (parent.id,), committer, message, metadata, tree, parent.generation + 1
            )
            repo.branches[branch] = Branch(commit.id)
            return commit

    def merge(
        self,
        repo_id: str,
        source_ref: str,
        destination: str,
        committer: str,
        message: str,
        metadata: Mapping[str, str],
        allow_empty: bool,
    ) -> str:
        with self._lock:
            repo = self.repository(repo_id)
            dest_branch = self._branch(repo, destination)
            if dest_branch.staging:
                raise ApiError(400, "uncommitted changes (dirty branch)")
            try:
                source = self._resolve(repo, source_ref)
            except ApiError as exc:
                if exc.status == 404:
                    raise ApiError(404, f"update branch {destination}: get commit by ref "
                                        f"{source_ref}: not found") from None
                raise
            dest = repo.commits[dest_branch.commit_id]
            base = self._merge_base(repo, source, dest)
            if _content(source) == _content(base) and not allow_empty:
                raise ApiError(400, f"update branch {destination}: no changes")
            if _content(dest) == _content(base):
                tree: Tree = source.tree  # only the source changed
            else:
                tree = _merge_trees(base.tree, source.tree, dest.tree)
            metadata = {**metadata, MERGE_STRATEGY_KEY: "default"}
            parents = (dest.id, source.id)
            generation = max(dest.generation, source.generation) + 1
            message = message or f"Merge '{source_ref}' into '{destination}'"
            commit = self._add_commit(repo, parents, committer, message, metadata, tree, generation)
            failure = self._failing_pre_merge.get((repo.id, destination))
            failure = failure or self._failing_pre_merge.get((repo.id, None))
            if failure is not None:
                raise ApiError(
                    412,
                    f"update branch {destination}: pre-merge hook aborted, run id "
                    f"'{uuid.uuid4().hex[:20]}': 1 error occurred:\n\t* hook run id '0000_0000' "
                    f"failed on action 'curate-gate' hook 'validate': action failed: {failure}\n\n",
                )
            dest_branch.commit_id = commit.id
            return commit.id

    def diff(
        self,
        repo_id: str,
        left_ref: str,
        right_ref: str,
        diff_type: str,
        prefix: str,
        after: str,
        amount: int | None,
    ):
        with self._lock:
            repo = self.repository(repo_id)
            left, right = self._resolve(repo, left_ref), self._resolve(repo, right_ref)
            if diff_type == "three_dot":
                left = self._merge_base(repo, left, right)
            elif diff_type != "two_dot":
                raise ApiError(400, f"invalid diff type {diff_type!r}")
            changes = []
            for path in sorted(left.tree.keys() | right.tree.keys()):
                old, new = left.tree.get(path), right.tree.get(path)
                if old is None:
                    changes.append((path, "added", new.size))
                elif new is None:
                    changes.append((path, "removed", old.size))
                elif old.identity() != new.identity():
                    changes.append((path, "changed", new.size))
            return paginate(changes, lambda c: c[0], prefix, after, amount)

    # Internals (called with the lock held).

    def _add_commit(
        self,
        repo: Repository,
        parents: tuple[str, ...],
        committer: str,
        message: str,
        metadata: Mapping[str, str],
        tree: Tree,
        generation: int,
        meta_range_id: str | None = None,
    ) -> CommitRecord:
        fields = {
            "parents": parents,
            "committer": committer,
            "message": message,
            "metadata": dict(metadata),
            "created_ns": time.time_ns(),
            "meta_range_id": _meta_range_id(tree) if meta_range_id is None else meta_range_id,
            "nonce": next(self._nonce),
        }
        commit_id = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        del fields["nonce"]
        commit = CommitRecord(id=commit_id, generation=generation, tree=dict(tree),
                              creation_date=fields["created_ns"] // 10**9, **fields)
        repo.commits[commit_id] = commit
        return commit

    def _branch(self, repo: Repository, name: str) -> Branch:
        if name not in repo.branches:
            _validate(name, BRANCH_ID, "branch")
            raise ApiError(404, "branch not found")
        return repo.branches[name]

    def _resolve(self, repo: Repository, ref: str) -> CommitRecord:
        """graveler's revResolve: full commit id, then branch, tag, unique commit-id prefix."""
        if not ref or any(c.isspace() for c in ref):
            raise ApiError(400, "ref: invalid value")
        if any(c in ref for c in "~^@$"):
            raise ApiError(501, f"ref expressions are not implemented by the test server: {ref!r}")
        if ref in repo.commits:
            return repo.commits[ref]
        if ref in repo.branches:
            return repo.commits[repo.branches[ref].commit_id]
        if ref in repo.tags:
            return repo.commits[repo.tags[ref]]
        if COMMIT_PREFIX.match(ref):
            matches = [c for i, c in repo.commits.items() if i.startswith(ref.lower())]
            if len(matches) == 1:
                return matches[0]
        raise ApiError(404, "not found")

    def _view(self, repo: Repository, ref: str) -> Tree:
        """What reads at ``ref`` see: a branch's head plus its staging area, else the commit."""
        if ref in repo.branches and ref not in repo.commits:
            branch = repo.branches[ref]
            return _apply(repo.commits[branch.commit_id].tree, branch.staging)
        return self._resolve(repo, ref).tree

    def _merge_base(self, repo: Repository, a: CommitRecord, b: CommitRecord) -> CommitRecord:
        ancestors_of_b, stack = set(), [b.id]
        while stack:
            commit_id = stack.pop()
            if commit_id not in ancestors_of_b:
                ancestors_of_b.add(commit_id)
                stack.extend(repo.commits[commit_id].parents)
        queue, seen = [(-a.generation, a.id)], {a.id}
        while queue:
            commit = repo.commits[heapq.heappop(queue)[1]]
            if commit.id in ancestors_of_b:
                return commit
            for parent in commit.parents:
                if parent not in seen:
                    seen.add(parent)
                    heapq.heappush(queue, (-repo.commits[parent].generation, parent))
        raise ApiError(404, "no merge base found")


def page_size(amount: int | None) -> int:
    """lakeFS's paginationAmount: missing or <= 0 is 100, more than 1000 is 1000."""
    if amount is None or amount <= 0:
        return DEFAULT_PER_PAGE
    return min(amount, MAX_PER_PAGE)


def paginate(
    items: Iterable[T], key: Callable[[T], str], prefix: str, after: str, amount: int | None
) -> tuple[list[T], dict[str, Any]]:
    """(page, Pagination) over ``items`` sorted by ``key``: keys with ``prefix``, > ``after``."""
    limit = page_size(amount)
    selected = [i for i in items if key(i).startswith(prefix) and key(i) > after]
    page, has_more = selected[:limit], len(selected) > limit
    return page, {
        "has_more": has_more,
        "next_offset": key(page[-1]) if has_more and page else "",
        "results": len(page),
        "max_per_page": MAX_PER_PAGE,
    }


def _merge_trees(base: Tree, source: Tree, dest: Tree) -> dict[str, Entry]:
    """Object-level three-way merge; a path both sides changed differently is a conflict."""
    merged: dict[str, Entry] = {}
    for path in sorted(base.keys() | source.keys() | dest.keys()):
        b, s, d = (_identity(t.get(path)) for t in (base, source, dest))
        if s in (d, b):
            winner = dest.get(path)
        elif d == b:
            winner = source.get(path)
        else:  # lakeFS answers a conflict with a MergeResult body, not an Error
            raise ApiError(409, "conflict found", body={"reference": ""})
        if winner is not None:
            merged[path] = winner
    return merged


def _apply(tree: Tree, staging: Mapping[str, Entry | None]) -> dict[str, Entry]:
    view = dict(tree)
    for path, entry in staging.items():
        if entry is None:
            view.pop(path, None)
        else:
            view[path] = entry
    return view


def _meta_range_id(tree: Tree) -> str:
    content = sorted((path, entry.identity()) for path, entry in tree.items())
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def _content(commit: CommitRecord) -> str:
    """What a commit holds (its ``meta_range_id`` is "" for a repository's first commit)."""
    return _meta_range_id(commit.tree)


def _identity(entry: Entry | None) -> tuple[Any, ...] | None:
    return None if entry is None else entry.identity()


def _newest_first(c: CommitRecord) -> tuple[int, str, CommitRecord]:
    # heapq pops the smallest: negate the date; ties go to the greater commit id (lakeFS).
    return (-c.created_ns, _Reversed(c.id), c)


class _Reversed(str):
    def __lt__(self, other: str) -> bool:  # type: ignore[override]
        return str.__gt__(self, other)


def _id(item: Any) -> str:
    return item.id


_INVALID = {  # lakeFS 1.86's messages for a bad path argument
    "repository": "argument repository: repository id: invalid value: validation error",
    "branch": "argument branch: branch id: invalid value: validation error: branch id must "
    "consist of letters, digits, underscores and dashes, and cannot start with a dash",
    "tag": "argument tagID: tag id: invalid value: validation error",
}


def _validate(value: str, pattern: re.Pattern[str], what: str) -> None:
    if not pattern.match(value):
        raise ApiError(400, _INVALID[what])


def _validate_tag(tag: str) -> None:
    """graveler.ValidateTagID (git-check-ref-format, minus the ban on '~')."""
    bad = (
        not tag
        or tag == "@"
        or tag.endswith((".", ".lock"))
        or any(s in tag for s in ("..", "/", "@{"))
        or any(c in tag for c in "^:?*[\\")
        or any(ord(c) <= 0x20 for c in tag)
    )
    if bad:
        raise ApiError(400, _INVALID["tag"])
