"""A build directory as the registry sees it: what to upload, verified, and its commit metadata.

``dataset_info.json`` lists every file of the build with its sha256 and size (except itself,
``validation/``, which ``curate validate`` writes later, and ``report.html``, the build's report,
which is no part of the fingerprint either; all three are registered with it).
:meth:`Build.read` checks the listed files before anything is written anywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from curate.config import split_name_problem
from curate.fsio import (
    FileReader,
    bucket_errors,
    is_file,
    is_local,
    join,
    list_files,
    local_path,
    open_read,
)
from curate.layout import (
    INFO_FILE,
    REPORT_FILE,
    VALIDATION_DIR,
    VALIDATION_RESULT,
    fingerprint,
    manifest_files,
)
from curate.progress import phase
from registry.errors import IntegrityError, NotFoundError, StoreUnavailableError
from registry.store import ImportObject

if TYPE_CHECKING:
    from curate.progress import MeterFactory

__all__ = [
    "META_BYTES_NEW",
    "META_BYTES_REUSED",
    "META_CODE_VERSION",
    "META_CONFIG_HASH",
    "META_DATASET",
    "META_FINGERPRINT",
    "META_IMPORTED_FROM",
    "Build",
    "BuildFile",
]

# Commit metadata keys (all values are strings).
META_DATASET = "curate.dataset"
META_FINGERPRINT = "curate.fingerprint"
META_CONFIG_HASH = "curate.config_hash"
META_CODE_VERSION = "curate.code_version"
META_SCHEMA_VERSION = "curate.schema_version"
META_EXAMPLES = "curate.examples"
META_HOURS = "curate.hours"
META_COUNTS = "curate.counts."  # + read / accepted / rejected
META_SPLIT = "curate.split."  # + <split>.examples / .hours / .speakers
META_VALIDATION = "curate.validation."  # + suite / success / evaluated / successful / failed
META_IMPORTED_FROM = "curate.imported_from"  # the build's URI, when registered in place
META_BYTES_NEW = "curate.bytes.new"  # bytes of the files uploaded (or imported) by register
META_BYTES_REUSED = "curate.bytes.reused"  # bytes of the files main already held as they are

_REQUIRED = ("fingerprint", "splits", "files")
_CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class BuildFile:
    path: str  # relative, POSIX separators
    sha256: str
    size_bytes: int
    checksum: str = ""  # the bucket's ETag, taken before hashing (Build.read(checksums=True))


def _relative(path: str) -> str:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or "\\" in path:
        raise IntegrityError(f"{INFO_FILE}: file path {path!r} is not relative to the build")
    return str(p)


def _below(path: str, directory: str) -> str:
    """``path`` relative to ``directory``, with POSIX separators."""
    if is_local(directory):
        return PurePosixPath(Path(local_path(path)).relative_to(local_path(directory))).as_posix()
    return path[len(directory.rstrip("/")) + 1:]


def _read_info(root: str, info_path: str) -> Any:
    if is_local(root) and not os.path.isdir(local_path(root)):
        raise NotFoundError(f"build directory '{root}' not found")
    if not is_file(info_path):
        if not is_local(root) and not list_files(root):
            raise NotFoundError(f"build directory '{root}' not found")
        raise NotFoundError(f"'{root}' is not a build directory: no {INFO_FILE}")
    try:
        with open_read(info_path) as f:
            return json.loads(f.read())
    except (ValueError, UnicodeDecodeError) as e:
        raise IntegrityError(f"{info_path}: not valid JSON ({e})") from e


def _check_consistent(info: Mapping[str, Any], info_path: str) -> None:
    """IntegrityError unless ``dataset_info.json`` agrees with itself: its fingerprint is the
    one of the files it lists, every shard and manifest of a split is one of those files (same
    sha256), each split's shards hold its examples, and the counts add up. (An edited count or a
    shard dropped from the listing after validation would otherwise be registered as is.)"""
    files = info["files"]
    if fingerprint(files) != info["fingerprint"]:
        raise IntegrityError(f"{info_path}: the fingerprint is not the one of the files it lists "
                             "(edited after the build?)")
    accepted = 0
    for split, s in info["splits"].items():
        manifests = manifest_files(info, split)
        if not manifests and int(s.get("num_examples", 0)):
            raise IntegrityError(f"{info_path}: split {split!r} lists no manifest file")
        for m in s.get("manifest", [{"path": r} for r in manifests]):
            listed = files.get(m.get("path"))
            if listed is None or ("sha256" in m and listed.get("sha256") != m["sha256"]):
                raise IntegrityError(f"{info_path}: manifest {m.get('path')!r} of split "
                                     f"{split!r} is not in 'files' with its sha256")
        if "manifest" in s and "num_examples" in s and sum(
                int(m.get("num_examples", 0)) for m in s["manifest"]) != int(s["num_examples"]):
            raise IntegrityError(f"{info_path}: split {split!r} says {s['num_examples']} "
                                 "examples, its manifest files list another number")
        for fmt, shards in (s.get("shards") or {}).items():
            for shard in shards:
                listed = files.get(shard.get("path"))
                if listed is None or listed.get("sha256") != shard.get("sha256"):
                    raise IntegrityError(f"{info_path}: shard {shard.get('path')!r} of split "
                                         f"{split!r} is not in 'files' with its sha256")
            held = sum(int(shard.get("num_examples", 0)) for shard in shards)
            if "num_examples" in s and held != int(s["num_examples"]):
                raise IntegrityError(f"{info_path}: split {split!r} says {s['num_examples']} "
                                     f"examples, its {fmt} shards hold {held}")
        accepted += int(s.get("num_examples", 0))
    counts = info.get("counts")
    if isinstance(counts, Mapping) and {"read", "accepted", "rejected"} <= set(counts):
        if int(counts["accepted"]) != accepted or (
                int(counts["accepted"]) + int(counts["rejected"]) != int(counts["read"])):
            raise IntegrityError(f"{info_path}: counts {dict(counts)} do not add up with the "
                                 f"{accepted} examples of the splits")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _checksums(reader: FileReader, paths: list[str], root: str) -> list[str]:
    try:
        return reader.checksums(paths)
    except FileNotFoundError as e:
        rel = _below(str(e), root)
        raise IntegrityError(f"build file '{rel}' is missing from '{root}'") from None


@dataclass(frozen=True, kw_only=True, slots=True)
class Build:
    root: str  # a local directory or a URI (s3://…, gs://…)
    info: Mapping[str, Any]
    files: tuple[BuildFile, ...]  # every file to upload, sorted by path
    validation: Mapping[str, Any] | None  # validation/result.json, if present
    reader: FileReader = field(default_factory=FileReader, compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return str(self.info["fingerprint"])

    def path(self, f: BuildFile) -> str:
        return join(self.root, f.path)

    @contextlib.contextmanager
    def local_file(self, f: BuildFile) -> Iterator[str]:
        """A local path holding ``f``: the file itself in a local build, else a temporary copy
        (deleted afterwards), checked against its sha256 so that a file changed since
        :meth:`read` is not uploaded."""
        if is_local(self.root):
            yield local_path(self.path(f))
            return
        fd, tmp = tempfile.mkstemp(prefix="curate-upload-")
        try:
            digest = hashlib.sha256()
            with self.reader.open(self.path(f)) as src, os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != f.sha256:
                raise IntegrityError(f"build file '{f.path}' of '{self.root}' changed while "
                                     "being registered")
            yield tmp
        finally:
            os.unlink(tmp)

    def import_objects(self, files: list[BuildFile]) -> list[ImportObject]:
        """``files`` as objects a store may import in place (a build in a bucket read with
        ``checksums=True``)."""
        return [
            ImportObject(path=f.path, uri=self.path(f), sha256=f.sha256,
                         size_bytes=f.size_bytes, checksum=f.checksum)
            for f in files
        ]

    @classmethod
    def read(
        cls,
        build_dir: str | os.PathLike[str],
        *,
        workers: int = 8,
        checksums: bool = False,
        progress: MeterFactory | None = None,
    ) -> Build:
        """Read and verify a build directory (local or in a bucket); IntegrityError names the
        first bad file. With ``checksums``, each file of a build in a bucket also gets the
        bucket's checksum (ETag), taken before its bytes are hashed: an object that changes
        after it was verified then no longer has that checksum. ``progress`` is told the bytes
        hashed (phase ``verifying``)."""
        root = os.fspath(build_dir)
        root = root.rstrip("/") if not is_local(root) else root
        info_path = join(root, INFO_FILE)
        try:
            info = _read_info(root, info_path)
        except bucket_errors() as e:  # a bucket that is missing or refuses us
            raise StoreUnavailableError(f"cannot read build '{root}': {e}") from e
        missing = [k for k in _REQUIRED if k not in info]
        if not isinstance(info, dict) or missing:
            raise IntegrityError(f"{info_path}: missing {', '.join(map(repr, missing))}")
        for split in info["splits"]:  # names become paths and metadata keys
            problem = split_name_problem(split)
            if problem:
                raise IntegrityError(f"{info_path}: {problem}")
        _check_consistent(info, info_path)
        listed = [
            BuildFile(path=_relative(p), sha256=str(v["sha256"]), size_bytes=int(v["size_bytes"]))
            for p, v in sorted(info["files"].items())
        ]

        etags: dict[str, str] = {}
        reader = FileReader()  # one S3 client for the whole build

        def take_checksums(paths: list[str]) -> None:  # before any of them is hashed
            if checksums and not is_local(root):
                etags.update(zip(paths, _checksums(reader, paths, root)))

        def hashed(path: str) -> tuple[str, int, str]:
            digest, size = reader.sha256_and_size(path)
            return digest, size, etags.get(path, "")

        take_checksums([join(root, f.path) for f in listed])

        def check(f: BuildFile) -> BuildFile:
            try:  # one read (in a bucket, one request) per file
                digest, size, etag = hashed(join(root, f.path))
            except (FileNotFoundError, IsADirectoryError):
                raise IntegrityError(f"build file '{f.path}' is missing from '{root}'") from None
            if size != f.size_bytes:
                raise IntegrityError(
                    f"build file '{f.path}' has {size} bytes, {INFO_FILE} says {f.size_bytes}"
                )
            if digest != f.sha256:
                raise IntegrityError(
                    f"build file '{f.path}' does not match its sha256 in {INFO_FILE} (tampered?)"
                )
            return BuildFile(path=f.path, sha256=digest, size_bytes=size, checksum=etag)

        with phase(progress, "verifying", sum(f.size_bytes for f in listed)) as meter:

            def check_and_count(f: BuildFile) -> BuildFile:
                checked = check(f)
                meter.advance(f.size_bytes)
                return checked

            with ThreadPoolExecutor(max_workers=workers) as pool:  # re-raises the first failure
                listed = list(pool.map(check_and_count, listed))  # in path order

        vdir = join(root, VALIDATION_DIR)
        validation_files = list_files(vdir)
        report = join(root, REPORT_FILE)  # not in the fingerprint; CARD.md links it
        report_files = [report] if is_file(report) else []
        take_checksums([info_path, *validation_files, *report_files])
        digest, size, etag = hashed(info_path)
        extra = [BuildFile(path=INFO_FILE, sha256=digest, size_bytes=size, checksum=etag)]
        validation = None
        for path in validation_files:
            rel = f"{VALIDATION_DIR}/{_below(path, vdir)}"
            digest, size, etag = hashed(path)
            extra.append(BuildFile(path=rel, sha256=digest, size_bytes=size, checksum=etag))
            if rel == VALIDATION_RESULT:
                try:
                    with open_read(path) as f:
                        validation = json.loads(f.read())
                except ValueError as e:
                    raise IntegrityError(f"{path}: not valid JSON ({e})") from e
        for path in report_files:
            digest, size, etag = hashed(path)
            extra.append(BuildFile(path=REPORT_FILE, sha256=digest, size_bytes=size, checksum=etag))
        files = tuple(sorted(listed + extra, key=lambda f: f.path))
        return cls(root=root, info=info, files=files, validation=validation, reader=reader)

    def metadata(self, dataset: str, *, unvalidated: str | None = None) -> dict[str, str]:
        """The commit metadata of this build: flat string keys and values. ``unvalidated`` is
        why a build without a passing validation was registered anyway."""
        info = self.info
        md = {
            META_DATASET: dataset,
            META_FINGERPRINT: self.fingerprint,
            META_CONFIG_HASH: _fmt(info.get("config_hash", "")),
            META_CODE_VERSION: _fmt(info.get("code_version", "")),
            META_SCHEMA_VERSION: _fmt(info.get("schema_version", "")),
        }
        for key in ("audio_codec", "sample_rate_hz", "channels"):
            if key in info:
                md[f"curate.{key}"] = _fmt(info[key])
        for key, n in sorted(info.get("counts", {}).items()):
            md[META_COUNTS + key] = _fmt(n)
        total_examples, total_s = 0, 0.0
        for split, s in sorted(info["splits"].items()):
            examples, seconds = int(s.get("num_examples", 0)), float(s.get("duration_s", 0.0))
            total_examples += examples
            total_s += seconds
            md[f"{META_SPLIT}{split}.examples"] = str(examples)
            md[f"{META_SPLIT}{split}.hours"] = f"{seconds / 3600:.6g}"
            if "num_speakers" in s:
                md[f"{META_SPLIT}{split}.speakers"] = _fmt(s["num_speakers"])
        for name, model in sorted(info.get("models", {}).items()):  # a WER needs its model
            md[f"curate.model.{name}"] = _fmt(model.get("model_id", ""))
            for key in ("version", "compute_type", "device"):
                if key in model:
                    md[f"curate.model.{name}.{key}"] = _fmt(model[key])
        for name, calls in sorted(info.get("model_calls", {}).items()):
            md[f"curate.model_calls.{name}"] = _fmt(calls)
        md[META_EXAMPLES] = str(total_examples)
        md[META_HOURS] = f"{total_s / 3600:.6g}"
        if self.validation is not None:
            from curate.validation.result import ValidationResult

            md.update(ValidationResult.from_dict(self.validation).summary_metadata())
        if unvalidated is not None:
            md[META_VALIDATION + "unvalidated"] = unvalidated
        return md

    def require_validation(self) -> None:
        """Raise ``NotValidatedError`` unless ``validation/result.json`` passed for this build."""
        from curate.validation.result import require_passed

        require_passed(self.root, info=self.info)  # the info read and checked here, not again
