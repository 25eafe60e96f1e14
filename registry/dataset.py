"""Reading one version: a local cache keyed by commit id, and loaders for training code.

A commit never changes, so its files are fetched once into
``<cache root>/<dataset>/<commit id>/<path>`` and kept. Each file is downloaded to a temporary
name, checked against its sha256 and renamed into place; a marker under ``.verified/`` records
the size and mtime it had when verified. A cached file that no longer matches its marker is
re-hashed and, if corrupted, fetched again; :meth:`DatasetVersion.verify` re-hashes everything.
"""

from __future__ import annotations

import enum
import functools
import io
import json
import logging
import os
import secrets
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from registry.build import INFO_FILE, sha256_of
from registry.errors import ConflictError, IntegrityError, NotFoundError
from registry.store import Store, paginate

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import tensorflow as tf
    from array_record.python.array_record_data_source import ArrayRecordDataSource

__all__ = ["ENV_CACHE_DIR", "CommitCache", "DatasetVersion", "ShardFormat", "default_cache_dir"]

log = logging.getLogger(__name__)

ENV_CACHE_DIR = "CURATE_CACHE_DIR"
_MARKERS = ".verified"


class ShardFormat(str, enum.Enum):
    TFRECORD = "tfrecord"
    ARRAY_RECORD = "array_record"


def default_cache_dir() -> Path:
    """``$CURATE_CACHE_DIR``, else the user's cache directory for ``curate``."""
    env = os.environ.get(ENV_CACHE_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("curate"))


def _safe_relative(path: str) -> str:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or p.parts[0] == _MARKERS:
        raise IntegrityError(f"refusing to cache object path {path!r}")
    return path


class CommitCache:
    """The files of one commit of one dataset on local disk, each verified once."""

    def __init__(self, store: Store, *, repo: str, commit_id: str, root: Path) -> None:
        self.store = store
        self.repo = repo
        self.commit_id = commit_id
        self.dir = Path(root) / repo / commit_id

    def __repr__(self) -> str:
        return f"CommitCache({str(self.dir)!r})"

    def _marker(self, rel: str) -> Path:
        return self.dir / _MARKERS / f"{rel}.json"

    def _marked_ok(self, rel: str, sha256: str | None) -> bool:
        """The file is unchanged since it was verified (same size and mtime as recorded)."""
        try:
            st = (self.dir / rel).stat()
            m = json.loads(self._marker(rel).read_bytes())
        except (OSError, ValueError):
            return False
        return (
            (sha256 is None or m.get("sha256") == sha256)
            and m.get("size_bytes") == st.st_size
            and m.get("mtime_ns") == st.st_mtime_ns
        )

    def _mark(self, rel: str, sha256: str) -> None:
        st = (self.dir / rel).stat()
        marker = self._marker(rel)
        marker.parent.mkdir(parents=True, exist_ok=True)
        tmp = marker.with_name(f".{marker.name}.{secrets.token_hex(4)}.tmp")
        record = {"sha256": sha256, "size_bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
        tmp.write_text(json.dumps(record))
        os.replace(tmp, marker)

    def forget(self, rel: str) -> None:
        """Drop the verification marker of ``rel``: the next fetch re-hashes it."""
        self._marker(rel).unlink(missing_ok=True)

    def fetch(self, rel: str, *, sha256: str | None = None, size_bytes: int | None = None) -> Path:
        """Local path of ``rel``, downloaded and verified unless already cached intact.
        Without ``sha256``, the one the store recorded for the object is used."""
        dest = self.dir / _safe_relative(rel)
        if self._marked_ok(rel, sha256):
            return dest
        if sha256 is None:
            info = self.store.stat_object(self.repo, self.commit_id, rel)
            sha256, size_bytes = info.sha256, info.size_bytes
        if dest.is_file():
            size_ok = size_bytes is None or dest.stat().st_size == size_bytes
            if size_ok and sha256_of(dest) == sha256:
                self._mark(rel, sha256)
                return dest
            log.warning("cached %s is corrupted; fetching it again", dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
        try:
            self.store.download_object(self.repo, self.commit_id, rel, dest_path=str(tmp))
            got = sha256_of(tmp)
            if got != sha256:
                raise IntegrityError(
                    f"'{rel}' of {self.repo}@{self.commit_id[:12]}: downloaded sha256 {got}, "
                    f"expected {sha256}"
                )
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        self._mark(rel, sha256)
        return dest

    def fetch_many(self, entries: list[tuple[str, str | None]], *, workers: int = 8) -> list[Path]:
        """``fetch`` every (path, sha256) in parallel; paths in the order given."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda e: self.fetch(e[0], sha256=e[1]), entries))


def _decode_audio(encoded: bytes) -> np.ndarray:
    import soundfile as sf

    samples, _ = sf.read(io.BytesIO(encoded), dtype="float32", always_2d=False)
    return samples


class DatasetVersion:
    """One version's data: shards for ``tf.data`` and Grain, and the Arrow manifests."""

    def __init__(
        self,
        store: Store,
        *,
        dataset: str,
        commit_id: str,
        cache_root: str | os.PathLike[str],
        tag: str | None = None,
        workers: int = 8,
    ) -> None:
        self.dataset = dataset
        self.commit_id = commit_id
        self.tag = tag
        self.cache = CommitCache(store, repo=dataset, commit_id=commit_id, root=Path(cache_root))
        self._workers = workers

    def __repr__(self) -> str:
        return f"DatasetVersion('{self.ref}', commit_id='{self.commit_id[:12]}')"

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.tag or self.commit_id}"

    @functools.cached_property
    def info(self) -> dict[str, Any]:
        """``dataset_info.json`` of this version."""
        return json.loads(self.cache.fetch(INFO_FILE).read_bytes())

    @property
    def splits(self) -> list[str]:
        return sorted(self.info["splits"])

    def _split(self, split: str) -> dict[str, Any]:
        try:
            return self.info["splits"][split]
        except KeyError:
            raise NotFoundError(
                f"{self.ref} has no split '{split}' (splits: {', '.join(self.splits)})"
            ) from None

    def _fetch(self, paths: list[str]) -> list[Path]:
        files = self.info["files"]
        entries = [(p, files[p]["sha256"] if p in files else None) for p in paths]
        return self.cache.fetch_many(entries, workers=self._workers)

    def files(self, split: str, format: ShardFormat | str = ShardFormat.TFRECORD) -> list[Path]:
        """Local paths of the split's shards in ``format``, in shard order."""
        fmt = ShardFormat(format)
        shards = self._split(split).get("shards", {}).get(fmt.value, [])
        return self._fetch([s["path"] for s in shards])

    def manifest(self, split: str) -> pa.Table:
        """One row per example of ``split``: key, text, shard, position, duration, signals…"""
        import pyarrow.parquet as pq

        self._split(split)
        return pq.read_table(self._fetch([f"manifest/{split}.parquet"])[0])

    def tf_dataset(self, split: str, *, decode_audio: bool = True) -> tf.data.Dataset:
        """Parsed examples of ``split`` in shard order, as a dict of tensors. With
        ``decode_audio``, ``audio`` is float32 samples in [-1, 1] (``[n]`` mono,
        ``[n, channels]`` otherwise), ready for ``.padded_batch()``."""
        import tensorflow as tf

        dtypes = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}
        spec = {
            name: tf.io.FixedLenFeature(f.get("shape", []), dtypes[f["dtype"]])
            for name, f in self.info["feature_spec"].items()
        }
        paths = [str(p) for p in self.files(split, ShardFormat.TFRECORD)]
        ds = tf.data.TFRecordDataset(paths).map(
            lambda record: tf.io.parse_single_example(record, spec),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        if not decode_audio:
            return ds
        channels = int(self.info.get("channels", 1))
        shape = [None] if channels == 1 else [None, channels]

        def decode(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            audio = tf.numpy_function(
                _decode_audio, [features["audio"]], tf.float32, stateful=False
            )
            audio.set_shape(shape)
            return {**features, "audio": audio}

        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def array_record_source(self, split: str) -> ArrayRecordDataSource:
        """Random access to the split's serialized ``tf.train.Example``s (``len``, ``[i]``);
        a Grain data source."""
        from array_record.python.array_record_data_source import ArrayRecordDataSource

        paths = [str(p) for p in self.files(split, ShardFormat.ARRAY_RECORD)]
        return ArrayRecordDataSource(paths)

    def _all_objects(self) -> list[str]:
        return [
            o.path
            for o in paginate(
                lambda after: self.cache.store.list_objects(
                    self.dataset, self.commit_id, after=after
                )
            )
        ]

    def pull(self, dest: str | os.PathLike[str]) -> Path:
        """Copy every file of this version into ``dest`` (new or empty), all or nothing."""
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ConflictError(f"destination '{dest}' exists and is not an empty directory")
        paths = self._all_objects()
        cached = self._fetch(paths)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
        try:
            for rel, src in zip(paths, cached):
                (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, tmp / rel)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dest

    def verify(self) -> list[str]:
        """Re-hash every cached file of this version; fetch again the corrupted ones.
        Returns the paths that were fetched again."""
        expected = {p: f["sha256"] for p, f in self.info["files"].items()}
        refetched = []
        for rel, sha256 in sorted(expected.items()):
            path = self.cache.dir / rel
            if path.is_file() and sha256_of(path) != sha256:
                self.cache.forget(rel)
                self.cache.fetch(rel, sha256=sha256)
                refetched.append(rel)
        return refetched
