"""The files of one split of one version, pinned: what every loader reads.

A :class:`SplitFiles` is small and picklable, so it travels to DataLoader, Grain, Ray and Spark
worker processes. Each file carries the sha256 the version recorded and the size and
modification time it had when it was verified against it; a reader opening the file in any
process checks those first (one ``stat``), so a file changed after verification is refused,
never read as if it were the version's.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from curate.fsio import join
from curate.layout import INFO_FILE, ShardFormat, manifest_files
from registry.errors import IntegrityError, NotFoundError

__all__ = ["AUDIO", "PinnedFile", "SplitFiles", "text_features"]

AUDIO = "audio"


def text_features(feature_spec: dict[str, Any]) -> tuple[str, ...]:
    """The string features that hold text: all but the encoded audio."""
    return tuple(n for n, f in feature_spec.items() if f["dtype"] == "string" and n != AUDIO)


@dataclass(frozen=True, kw_only=True, slots=True)
class PinnedFile:
    """One shard (or manifest) and what it must be."""

    path: str  # local path (or URI, for readers that stream)
    rel: str  # path inside the version, as dataset_info.json names it
    sha256: str
    size_bytes: int
    num_examples: int = 0
    mtime_ns: int | None = None  # when it was verified; None for a URI

    @classmethod
    def verified(cls, path: str, *, rel: str, sha256: str, num_examples: int = 0,
                 ref: str = "") -> PinnedFile:
        """Hash a local ``path`` now: IntegrityError unless it is ``sha256``."""
        from curate.fsio import sha256_of  # (imports Beam: not in the workers that read)

        st = os.stat(path)
        got = sha256_of(path)
        if got != sha256:
            raise IntegrityError(
                f"{path}: sha256 {got} is not the {sha256} that {ref or 'the version'} "
                f"recorded for '{rel}'"
            )
        return cls(path=path, rel=rel, sha256=sha256, size_bytes=st.st_size,
                   num_examples=num_examples, mtime_ns=st.st_mtime_ns)

    def check(self, ref: str = "") -> None:
        """IntegrityError if the local file is not (by size and mtime) the one verified."""
        if self.mtime_ns is None:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise IntegrityError(
                f"{self.path}: '{self.rel}' of {ref or 'the version'} is gone from the cache"
            ) from None
        if (st.st_size, st.st_mtime_ns) != (self.size_bytes, self.mtime_ns):
            raise IntegrityError(
                f"{self.path}: '{self.rel}' of {ref or 'the version'} changed after it was "
                f"verified against its sha256 ({st.st_size} bytes, was {self.size_bytes}); "
                "open the version again (or call verify()) to fetch it again"
            )


@dataclass(frozen=True, kw_only=True, slots=True)
class SplitFiles:
    """A split's shards in shard order (row ``i`` of the manifest is record ``i``), its
    manifest files (one per shard, in shard order; a layout-2 version's one file) and the
    decoding facts of its version."""

    ref: str  # "NAME@v1" (for messages)
    commit_id: str
    split: str
    feature_spec: dict[str, Any]
    sample_rate_hz: int
    channels: int
    audio_codec: str
    array_record: tuple[PinnedFile, ...]
    tfrecord: tuple[PinnedFile, ...]
    manifests: tuple[PinnedFile, ...]

    @property
    def num_examples(self) -> int:
        return sum(f.num_examples for f in self.array_record or self.tfrecord)

    @property
    def format(self) -> ShardFormat:
        """The format the loaders that read whole shards use: ArrayRecord where the version
        has it, else TFRecord."""
        return ShardFormat.ARRAY_RECORD if self.array_record else ShardFormat.TFRECORD

    def shards(self, fmt: ShardFormat | str | None = None) -> tuple[PinnedFile, ...]:
        """The shards in ``fmt`` (default :attr:`format`), in shard order."""
        fmt = ShardFormat(fmt or self.format)
        files = self.array_record if fmt is ShardFormat.ARRAY_RECORD else self.tfrecord
        if not files:
            raise NotFoundError(f"{self.ref} has no {fmt.value} shards for split '{self.split}'")
        return files

    @classmethod
    def from_info(cls, info: dict[str, Any], split: str, paths: dict[str, str], *, ref: str,
                  commit_id: str, verified: Sequence[PinnedFile] = (),
                  formats: Sequence[ShardFormat] = tuple(ShardFormat)) -> SplitFiles:
        """From ``dataset_info.json``; ``paths`` maps each file's name in the version to where
        it is. Files already in ``verified`` are taken as they are, the others hashed now.
        Only the shards in ``formats`` are pinned (a loader reads one format: the other's
        files need not be fetched); the others are left out."""
        try:
            entry = info["splits"][split]
        except KeyError:
            raise NotFoundError(
                f"{ref} has no split '{split}' (splits: {', '.join(sorted(info['splits']))})"
            ) from None
        known = {f.rel: f for f in verified}

        def pin(rel: str, num_examples: int = 0) -> PinnedFile:
            if rel in known:
                return known[rel]
            try:
                sha256 = info["files"][rel]["sha256"]
            except KeyError:
                raise IntegrityError(f"{ref}: dataset_info.json has no sha256 for '{rel}'") from None
            return PinnedFile.verified(paths[rel], rel=rel, sha256=sha256,
                                       num_examples=num_examples, ref=ref)

        shards = {fmt: entry.get("shards", {}).get(fmt, []) if ShardFormat(fmt) in formats else []
                  for fmt in (ShardFormat.ARRAY_RECORD.value, ShardFormat.TFRECORD.value)}
        return cls(
            ref=ref, commit_id=commit_id, split=split,
            feature_spec=dict(info["feature_spec"]),
            sample_rate_hz=int(info.get("sample_rate_hz", 0)),
            channels=int(info.get("channels", 1)),
            audio_codec=str(info.get("audio_codec", "")),
            array_record=tuple(pin(s["path"], int(s["num_examples"]))
                               for s in shards.get(ShardFormat.ARRAY_RECORD.value, [])),
            tfrecord=tuple(pin(s["path"], int(s["num_examples"]))
                           for s in shards.get(ShardFormat.TFRECORD.value, [])),
            manifests=tuple(pin(rel) for rel in manifest_files(info, split)),
        )

    @classmethod
    def from_build(cls, build_dir: str | os.PathLike[str], split: str) -> SplitFiles:
        """The split of a local build directory, every file hashed against its sha256 in
        ``dataset_info.json`` (a build that is not registered has no commit: its fingerprint
        stands in)."""
        root = os.fspath(build_dir)
        with open(join(root, INFO_FILE), "rb") as f:
            info = json.load(f)
        paths = {rel: join(root, rel) for rel in info["files"]}
        return cls.from_info(info, split, paths, ref=root, commit_id=info["fingerprint"])
