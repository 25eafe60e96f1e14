"""The embedded store: lakeFS's model in a directory, no server needed.

Layout under ``root``::

    objects/ab/cdef…                 file contents, named by sha256 (shared by every repository)
    objects/.incoming/.tmp-…         uploads being written, renamed into place once complete
    locks/<repo>.lock                one ``filelock.FileLock`` per repository
    repositories/<repo>/
        repository.json              written last by ``create_repository``: the repo exists iff it
                                     does
        trees/<id>.json              {path: {"sha256", "size_bytes"}}, id = sha256 of that JSON
        commits/<id>.json            {"tree", "parents", "message", "metadata", "creation_date"}
        branches/<name>.json         {"commit", "staging"}: head and staging-area token
        tags/<name>.json             {"commit"}
        staging/<token>/<h>.json     one staged change: {"path", "object": {...} | null}

Every file is written atomically (temporary file in the same directory, fsync, rename, fsync the
directory), objects before the trees that name them, trees before commits, commits before the
refs that point at them. So a process killed at any point leaves refs pointing at complete
commits; at worst some unreferenced objects remain. Ref updates happen under the repository's
lock, so concurrent processes serialise their commits, merges and tags.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import filelock

from registry.atomic import canonical_json, ensure_dir, fsync_dir, read_json, temp_sibling
from registry.atomic import write_atomic
from registry.errors import ConflictError, IntegrityError, NotFoundError, ReferenceError_
from registry.errors import StoreUnavailableError
from registry.store import Commit, DiffEntry, DiffType, ObjectInfo, Page

__all__ = ["LocalStore"]

_REPO_RE = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")  # lakeFS repository ids
_BRANCH_RE = re.compile(r"^\w[-\w]*$")  # lakeFS branch ids
_TAG_RE = re.compile(r"^\w[-\w.]*$")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_TREES_KEPT = 4  # parsed trees a store keeps (those of the versions a process works with)
_LOCK_TIMEOUT_S = 120.0

Tree = dict[str, dict[str, Any]]  # path -> {"sha256": hex, "size_bytes": int}


def _page(items: list[Any], key: Any, after: str, amount: int) -> Page[Any]:
    """``items`` sorted by ``key``; everything strictly after ``after``, at most ``amount``."""
    if after:
        items = [i for i in items if key(i) > after]
    chunk = items[: max(amount, 1)]
    has_more = len(items) > len(chunk)
    return Page(results=chunk, has_more=has_more, next_offset=key(chunk[-1]) if chunk else "")


class LocalStore:
    """A :class:`registry.store.Store` in a local directory (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        # parsed trees by (repo, tree id): a tree's id is the sha256 of its file, so it never
        # changes; each stat or download of an object would otherwise read and parse it again
        self._trees: OrderedDict[tuple[str, str], Tree] = OrderedDict()
        self._trees_lock = threading.Lock()  # the registry cache fetches in threads
        for place in (self.root, *self.root.parents):  # one line, not a traceback, later
            if place.exists() and not place.is_dir():
                what = "is a file" if place == self.root else f"lies under {place}, a file"
                raise NotFoundError(f"registry '{self.root}' {what}: give a directory")

    def __getstate__(self) -> dict[str, Any]:  # pickled to a build's workers: the root only
        return {"root": self.root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["root"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    # -- paths and low-level reads ------------------------------------------------------------

    def object_path(self, sha256: str) -> Path:
        """Where the bytes with this sha256 live (exists only once uploaded)."""
        return self.root / "objects" / sha256[:2] / sha256[2:]

    @property
    def _incoming(self) -> Path:
        """Where object uploads are written before they are renamed into place."""
        return self.root / "objects" / ".incoming"

    def _repo_dir(self, repo: str) -> Path:
        return self.root / "repositories" / repo

    @contextlib.contextmanager
    def _locked(self, repo: str) -> Iterator[None]:
        """Hold the repository's lock (across threads and processes)."""
        ensure_dir(self.root / "locks")
        lock = filelock.FileLock(self.root / "locks" / f"{repo}.lock", timeout=_LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except filelock.Timeout as e:
            raise StoreUnavailableError(
                f"repository '{repo}' stayed locked for {_LOCK_TIMEOUT_S:.0f}s"
            ) from e
        try:
            yield
        finally:
            lock.release()

    def _require_repo(self, repo: str) -> Path:
        d = self._repo_dir(repo)
        if not _REPO_RE.match(repo) or not (d / "repository.json").is_file():
            raise NotFoundError(f"repository '{repo}' not found")
        return d

    def _branch_file(self, repo: str, branch: str) -> Path | None:
        if not _BRANCH_RE.match(branch):
            return None
        path = self._repo_dir(repo) / "branches" / f"{branch}.json"
        return path if path.is_file() else None

    def _read_branch(self, repo: str, branch: str) -> dict[str, str]:
        path = self._branch_file(repo, branch)
        if path is None:
            raise NotFoundError(f"branch '{branch}' not found in repository '{repo}'")
        return read_json(path)

    def _write_branch(self, repo: str, branch: str, commit_id: str, staging: str) -> None:
        path = self._repo_dir(repo) / "branches" / f"{branch}.json"
        write_atomic(path, canonical_json({"commit": commit_id, "staging": staging}))

    def _read_commit(self, repo: str, commit_id: str) -> dict[str, Any]:
        return read_json(self._repo_dir(repo) / "commits" / f"{commit_id}.json")

    def _read_tree(self, repo: str, tree_id: str) -> Tree:
        """The tree (a copy: callers add a branch's staged changes to it)."""
        key = (repo, tree_id)
        with self._trees_lock:
            tree = self._trees.get(key)
            if tree is not None:
                self._trees.move_to_end(key)
                return dict(tree)
        tree = read_json(self._repo_dir(repo) / "trees" / f"{tree_id}.json")
        with self._trees_lock:
            self._trees[key] = tree
            if len(self._trees) > _TREES_KEPT:
                self._trees.popitem(last=False)
        return dict(tree)

    def _write_tree(self, repo: str, tree: Tree) -> str:
        data = canonical_json(tree)
        tree_id = hashlib.sha256(data).hexdigest()
        path = self._repo_dir(repo) / "trees" / f"{tree_id}.json"
        if not path.is_file():
            write_atomic(path, data)
        return tree_id

    def _write_commit(
        self,
        repo: str,
        *,
        tree: Tree,
        parents: list[str],
        message: str,
        metadata: Mapping[str, str],
    ) -> str:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"commit metadata must map str to str, got {k!r}: {v!r}")
        record = {
            "tree": self._write_tree(repo, tree),
            "parents": parents,
            "message": message,
            "metadata": dict(metadata),
            "creation_date": int(time.time()),
        }
        data = canonical_json(record)
        commit_id = hashlib.sha256(data).hexdigest()
        path = self._repo_dir(repo) / "commits" / f"{commit_id}.json"
        if not path.is_file():
            write_atomic(path, data)
        return commit_id

    def _staged(self, repo: str, token: str) -> dict[str, dict[str, Any] | None]:
        d = self._repo_dir(repo) / "staging" / token
        if not d.is_dir():
            return {}
        changes: dict[str, dict[str, Any] | None] = {}
        for f in d.iterdir():
            if f.suffix == ".json" and not f.name.startswith("."):
                try:
                    entry = read_json(f)
                except FileNotFoundError:
                    continue  # committed and cleaned up meanwhile; ``_view`` notices and retries
                changes[entry["path"]] = entry["object"]
        return changes

    def _resolve(self, repo: str, ref: str) -> tuple[str, str | None]:
        """(commit id, staging token if ``ref`` is a branch)."""
        d = self._require_repo(repo)
        branch = self._branch_file(repo, ref)
        if branch is not None:
            record = read_json(branch)
            return record["commit"], record["staging"]
        if _TAG_RE.match(ref) and (d / "tags" / f"{ref}.json").is_file():
            return read_json(d / "tags" / f"{ref}.json")["commit"], None
        if _HEX64_RE.match(ref) and (d / "commits" / f"{ref}.json").is_file():
            return ref, None
        raise NotFoundError(f"ref '{ref}' not found in repository '{repo}'")

    def _view(self, repo: str, ref: str) -> Tree:
        """The objects visible at ``ref``: its commit's tree plus a branch's staged changes."""
        commit_id, staging = self._resolve(repo, ref)
        staged: dict[str, dict[str, Any] | None] = {}
        while staging is not None:  # lock-free: retry if a commit swapped the branch meanwhile
            staged = self._staged(repo, staging)
            again = self._resolve(repo, ref)
            if again == (commit_id, staging):
                break
            commit_id, staging = again
        tree = self._read_tree(repo, self._read_commit(repo, commit_id)["tree"])
        if staged:
            for path, obj in staged.items():
                if obj is None:
                    tree.pop(path, None)
                else:
                    tree[path] = obj
        return tree

    def _to_commit(self, repo: str, commit_id: str) -> Commit:
        c = self._read_commit(repo, commit_id)
        return Commit(
            id=commit_id,
            message=c["message"],
            metadata=dict(c["metadata"]),
            parents=tuple(c["parents"]),
            creation_date=int(c["creation_date"]),
        )

    # -- repositories -------------------------------------------------------------------------

    def create_repository(self, repo: str, *, default_branch: str = "main") -> None:
        if not _REPO_RE.match(repo):
            raise ReferenceError_(
                f"invalid repository name '{repo}' (3-63 characters: a-z, 0-9 and '-')"
            )
        if not _BRANCH_RE.match(default_branch):
            raise ReferenceError_(f"invalid branch name '{default_branch}'")
        with self._locked(repo):
            d = self._repo_dir(repo)
            if (d / "repository.json").is_file():
                raise ConflictError(f"repository '{repo}' already exists")
            head = self._write_commit(
                repo, tree={}, parents=[], message="Repository created", metadata={}
            )
            self._write_branch(repo, default_branch, head, secrets.token_hex(8))
            record = {"default_branch": default_branch, "creation_date": int(time.time())}
            write_atomic(d / "repository.json", canonical_json(record))

    def repository_exists(self, repo: str) -> bool:
        return bool(_REPO_RE.match(repo)) and (self._repo_dir(repo) / "repository.json").is_file()

    def list_repositories(self, *, after: str = "", amount: int = 100) -> Page[str]:
        d = self.root / "repositories"
        names = []
        if d.is_dir():
            names = sorted(p.name for p in d.iterdir() if (p / "repository.json").is_file())
        return _page(names, lambda n: n, after, amount)

    # -- branches and refs --------------------------------------------------------------------

    def create_branch(self, repo: str, branch: str, *, source_ref: str) -> str:
        d = self._require_repo(repo)
        if not _BRANCH_RE.match(branch):
            raise ReferenceError_(f"invalid branch name '{branch}'")
        with self._locked(repo):
            if self._branch_file(repo, branch) is not None:
                raise ConflictError(f"branch '{branch}' already exists in repository '{repo}'")
            if (d / "tags" / f"{branch}.json").is_file():  # as in lakeFS: one name, one ref
                raise ConflictError(f"'{branch}' is a tag of repository '{repo}'")
            commit_id, _ = self._resolve(repo, source_ref)
            self._write_branch(repo, branch, commit_id, secrets.token_hex(8))
            return commit_id

    def delete_branch(self, repo: str, branch: str) -> None:
        d = self._require_repo(repo)
        with self._locked(repo):
            record = self._read_branch(repo, branch)
            if read_json(d / "repository.json")["default_branch"] == branch:
                raise ConflictError(f"cannot delete the default branch '{branch}' of '{repo}'")
            path = self._branch_file(repo, branch)
            assert path is not None  # _read_branch succeeded
            path.unlink()
            fsync_dir(path.parent)
        shutil.rmtree(d / "staging" / record["staging"], ignore_errors=True)

    def list_branches(self, repo: str, *, after: str = "", amount: int = 100) -> Page[str]:
        d = self._require_repo(repo) / "branches"
        names = sorted(p.stem for p in d.glob("*.json") if not p.name.startswith("."))
        return _page(names, lambda n: n, after, amount)

    def get_commit(self, repo: str, ref: str) -> Commit:
        commit_id, _ = self._resolve(repo, ref)
        return self._to_commit(repo, commit_id)

    def log(self, repo: str, ref: str, *, after: str = "", amount: int = 100) -> Page[Commit]:
        commit_id: str | None = self._resolve(repo, ref)[0]
        skipping = bool(after)
        results: list[Commit] = []
        while commit_id is not None:
            c = self._to_commit(repo, commit_id)
            if not skipping:
                if len(results) == max(amount, 1):
                    return Page(results=results, has_more=True, next_offset=results[-1].id)
                results.append(c)
            elif c.id == after:
                skipping = False
            commit_id = c.parents[0] if c.parents else None
        return Page(results=results, has_more=False, next_offset=results[-1].id if results else "")

    # -- objects ------------------------------------------------------------------------------

    def _put_object(self, local_path: str, sha256: str) -> int:
        """Store the file's bytes under their sha256 (once); IntegrityError if they differ."""
        final = self.object_path(sha256)
        tmp: Path | None = None
        digest = hashlib.sha256()
        size = 0
        try:
            with open(local_path, "rb") as src:
                out = None
                if not final.is_file():
                    ensure_dir(final.parent)
                    ensure_dir(self._incoming)  # not next to the objects: the next register
                    tmp = temp_sibling(self._incoming / sha256)  # sweeps this directory only
                    out = open(tmp, "wb")
                try:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        if out is not None:
                            out.write(chunk)
                    if out is not None:
                        out.flush()
                        os.fsync(out.fileno())
                finally:
                    if out is not None:
                        out.close()
            if digest.hexdigest() != sha256:
                raise IntegrityError(
                    f"{local_path}: sha256 is {digest.hexdigest()}, expected {sha256}"
                )
            if tmp is not None:
                os.replace(tmp, final)
                tmp = None
                fsync_dir(final.parent)
        except FileNotFoundError as e:
            raise NotFoundError(f"local file '{local_path}' not found") from e
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        return size

    def _stage(self, repo: str, branch: str, path: str, obj: dict[str, Any] | None) -> None:
        token = self._read_branch(repo, branch)["staging"]
        name = hashlib.sha256(path.encode()).hexdigest() + ".json"
        entry = self._repo_dir(repo) / "staging" / token / name
        write_atomic(entry, canonical_json({"path": path, "object": obj}))

    def upload_object(
        self, repo: str, branch: str, path: str, *, local_path: str, sha256: str
    ) -> ObjectInfo:
        self._require_repo(repo)
        self._read_branch(repo, branch)
        if not path or path.startswith("/"):
            raise ReferenceError_(f"invalid object path '{path}'")
        sha256 = sha256.lower()
        if not _HEX64_RE.match(sha256):
            raise IntegrityError(f"'{sha256}' is not a sha256 hex digest (object '{path}')")
        size = self._put_object(local_path, sha256)
        with self._locked(repo):
            self._stage(repo, branch, path, {"sha256": sha256, "size_bytes": size})
        return ObjectInfo(path=path, size_bytes=size, sha256=sha256)

    def delete_object(self, repo: str, branch: str, path: str) -> None:
        self._require_repo(repo)
        with self._locked(repo):
            if path not in self._view(repo, branch):
                raise NotFoundError(f"object '{path}' not found on branch '{branch}' of '{repo}'")
            self._stage(repo, branch, path, None)

    def stat_object(self, repo: str, ref: str, path: str) -> ObjectInfo:
        obj = self._view(repo, ref).get(path)
        if obj is None:
            raise NotFoundError(f"object '{path}' not found at '{ref}' in repository '{repo}'")
        return ObjectInfo(path=path, size_bytes=obj["size_bytes"], sha256=obj["sha256"])

    def list_objects(
        self, repo: str, ref: str, *, prefix: str = "", after: str = "", amount: int = 1000
    ) -> Page[ObjectInfo]:
        tree = self._view(repo, ref)
        infos = [
            ObjectInfo(path=p, size_bytes=o["size_bytes"], sha256=o["sha256"])
            for p, o in sorted(tree.items())
            if p.startswith(prefix)
        ]
        return _page(infos, lambda i: i.path, after, amount)

    def download_object(self, repo: str, ref: str, path: str, *, dest_path: str) -> str:
        info = self.stat_object(repo, ref, path)
        digest = hashlib.sha256()
        try:
            with open(self.object_path(info.sha256), "rb") as src, open(dest_path, "wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
        except FileNotFoundError as e:
            Path(dest_path).unlink(missing_ok=True)
            raise IntegrityError(f"object '{path}' ({info.sha256}) is missing from {self}") from e
        if digest.hexdigest() != info.sha256:
            Path(dest_path).unlink(missing_ok=True)
            raise IntegrityError(
                f"object '{path}' in {self} is corrupted: sha256 {digest.hexdigest()}, "
                f"expected {info.sha256}"
            )
        return info.sha256  # the bytes written, hashed as they were copied

    def link_object(self, repo: str, ref: str, path: str, *, dest_path: str,
                    sha256: str) -> bool:
        """A hard link to the object (no byte read or copied: its bytes were hashed before it
        was stored under their sha256, and a build that holds the link hashes them again when
        it is registered). The object is made read-only: it is now reachable from outside the
        store, and a write through the link would change the registered version."""
        info = self.stat_object(repo, ref, path)
        if info.sha256 != sha256.lower():
            raise IntegrityError(f"object '{path}' at '{ref}' in {self} is {info.sha256}, "
                                 f"expected {sha256}")
        src = self.object_path(info.sha256)
        dest = Path(dest_path)
        tmp = temp_sibling(dest)
        try:
            os.link(src, tmp)
        except FileNotFoundError as e:
            if not src.is_file():
                raise IntegrityError(f"object '{path}' ({info.sha256}) is missing from {self}"
                                     ) from e
            raise
        except OSError:  # another filesystem, or links refused: the caller copies
            return False
        try:
            if os.stat(src).st_mode & 0o222:
                os.chmod(src, 0o444)
            os.replace(tmp, dest)
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)
        return True

    # -- commits, merges, tags, diffs ---------------------------------------------------------

    def commit(
        self, repo: str, branch: str, *, message: str, metadata: Mapping[str, str]
    ) -> Commit:
        d = self._require_repo(repo)
        with self._locked(repo):
            record = self._read_branch(repo, branch)
            parent = self._read_commit(repo, record["commit"])
            tree = self._view(repo, branch)
            if self._write_tree(repo, tree) == parent["tree"]:
                raise ConflictError(f"no changes to commit on branch '{branch}' of '{repo}'")
            commit_id = self._write_commit(
                repo, tree=tree, parents=[record["commit"]], message=message, metadata=metadata
            )
            self._write_branch(repo, branch, commit_id, secrets.token_hex(8))
        shutil.rmtree(d / "staging" / record["staging"], ignore_errors=True)
        return self._to_commit(repo, commit_id)

    def _ancestors(self, repo: str, commit_id: str) -> list[str]:
        """Every ancestor (including itself), breadth first."""
        seen: dict[str, None] = {}
        queue = [commit_id]
        while queue:
            c = queue.pop(0)
            if c not in seen:
                seen[c] = None
                queue.extend(self._read_commit(repo, c)["parents"])
        return list(seen)

    def merge(
        self,
        repo: str,
        source_ref: str,
        destination_branch: str,
        *,
        message: str,
        metadata: Mapping[str, str],
    ) -> str:
        self._require_repo(repo)
        with self._locked(repo):
            source, _ = self._resolve(repo, source_ref)
            dest = self._read_branch(repo, destination_branch)
            if self._staged(repo, dest["staging"]):
                raise ConflictError(
                    f"branch '{destination_branch}' of '{repo}' has uncommitted changes"
                )
            source_anc = set(self._ancestors(repo, source))
            base = next(c for c in self._ancestors(repo, dest["commit"]) if c in source_anc)

            def tree_of(c: str) -> Tree:
                return self._read_tree(repo, self._read_commit(repo, c)["tree"])

            base_t, src_t, dst_t = tree_of(base), tree_of(source), tree_of(dest["commit"])
            merged: Tree = {}
            conflicts = []
            for path in sorted(set(base_t) | set(src_t) | set(dst_t)):
                b, s, t = base_t.get(path), src_t.get(path), dst_t.get(path)
                if s == t or s == b:
                    result = t
                elif t == b:
                    result = s
                else:
                    conflicts.append(path)
                    continue
                if result is not None:
                    merged[path] = result
            if conflicts:
                shown = ", ".join(conflicts[:3]) + (" …" if len(conflicts) > 3 else "")
                raise ConflictError(
                    f"merging '{source_ref}' into '{destination_branch}' of '{repo}': "
                    f"{len(conflicts)} conflicting path(s): {shown}"
                )
            commit_id = self._write_commit(
                repo,
                tree=merged,
                parents=[dest["commit"], source],
                message=message,
                metadata=metadata,
            )
            self._write_branch(repo, destination_branch, commit_id, dest["staging"])
            return commit_id

    def create_tag(self, repo: str, tag: str, ref: str) -> str:
        d = self._require_repo(repo)
        if not _TAG_RE.match(tag):
            raise ReferenceError_(f"invalid tag name '{tag}'")
        with self._locked(repo):
            path = d / "tags" / f"{tag}.json"
            if path.is_file():
                raise ConflictError(f"tag '{tag}' already exists in repository '{repo}'")
            if self._branch_file(repo, tag) is not None:
                raise ConflictError(f"'{tag}' is a branch of repository '{repo}'")
            commit_id, _ = self._resolve(repo, ref)
            write_atomic(path, canonical_json({"commit": commit_id}))
            return commit_id

    def list_tags(
        self, repo: str, *, after: str = "", amount: int = 100
    ) -> Page[tuple[str, str]]:
        d = self._require_repo(repo) / "tags"
        files = sorted(p for p in d.glob("*.json") if not p.name.startswith("."))
        pairs = [(p.stem, read_json(p)["commit"]) for p in files]
        return _page(pairs, lambda t: t[0], after, amount)

    def diff(
        self, repo: str, left_ref: str, right_ref: str, *, after: str = "", amount: int = 1000
    ) -> Page[DiffEntry]:
        def committed(ref: str) -> Tree:
            commit_id, _ = self._resolve(repo, ref)
            return self._read_tree(repo, self._read_commit(repo, commit_id)["tree"])

        left, right = committed(left_ref), committed(right_ref)
        entries = []
        for path in sorted(set(left) | set(right)):
            a, b = left.get(path), right.get(path)
            if a == b:
                continue
            if a is None:
                kind = DiffType.ADDED
            else:
                kind = DiffType.REMOVED if b is None else DiffType.CHANGED
            entries.append(DiffEntry(path=path, type=kind))
        return _page(entries, lambda e: e.path, after, amount)

    # -- maintenance --------------------------------------------------------------------------

    def remove_temp_files(self, repo: str, *, older_than_s: float, now: float) -> list[str]:
        """Delete what writes cut short left: uploads never renamed into place, ``.tmp-*``
        files in ``repo``'s directory (see :mod:`registry.atomic`) and its staging areas no
        branch names, last changed more than ``older_than_s`` before ``now``. What was
        deleted, relative to the root (``registry.leftovers``). Reads no object directory."""
        removed = []
        d = self._repo_dir(repo)
        temps = [*self._incoming.glob(".tmp-*"), *d.rglob(".tmp-*")] if d.is_dir() else []
        for path in sorted(temps):
            with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                if path.is_file() and now - path.stat().st_mtime > older_than_s:
                    path.unlink()
                    removed.append(str(path.relative_to(self.root)))
        staging = d / "staging"
        if not self.repository_exists(repo) or not staging.is_dir():
            return removed
        with self._locked(repo):
            named = {self._read_branch(repo, b)["staging"]
                     for b in self.list_branches(repo, amount=1 << 30).results}
            for area in sorted(staging.iterdir()):
                if area.name not in named and now - area.stat().st_mtime > older_than_s:
                    shutil.rmtree(area, ignore_errors=True)
                    removed.append(str(area.relative_to(self.root)))
        return removed

    def check(self) -> list[str]:
        """Problems found walking every ref → commit → tree → object (empty when healthy).
        Objects are checked for presence and size, not re-hashed."""
        problems: list[str] = []
        d = self.root / "repositories"
        repos = sorted(p.name for p in d.iterdir()) if d.is_dir() else []
        for repo in repos:
            if not self.repository_exists(repo):
                continue
            heads = [(f"branch {b}", self._read_branch(repo, b)["commit"])
                     for b in self.list_branches(repo, amount=1 << 30).results]
            heads += [(f"tag {t}", c) for t, c in self.list_tags(repo, amount=1 << 30).results]
            for name, head in heads:
                try:
                    ancestors = self._ancestors(repo, head)
                except (OSError, ValueError) as e:
                    problems.append(f"{repo}: {name} -> unreadable commit history ({e})")
                    continue
                for c in ancestors:
                    try:
                        tree = self._read_tree(repo, self._read_commit(repo, c)["tree"])
                    except (OSError, ValueError) as e:
                        problems.append(f"{repo}: {name}: commit {c[:12]} unreadable ({e})")
                        continue
                    for path, obj in tree.items():
                        p = self.object_path(obj["sha256"])
                        if not p.is_file() or p.stat().st_size != obj["size_bytes"]:
                            problems.append(f"{repo}: commit {c[:12]}: object '{path}' missing")
        return sorted(set(problems))
