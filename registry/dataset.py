"""Reading one version: its files through the commit-keyed cache, and loaders for training code.

The cache (:mod:`registry.cache`) is a local directory or a bucket; the loaders take files from
either. ``tf.data`` reads local files and the schemes TensorFlow has a filesystem for
(``gs://``); the TFRecords of other schemes (``s3://``: TensorFlow dropped it) are streamed
through Beam's filesystems instead. ArrayRecord random access needs local files.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.config import split_name_problem
from curate.extras import require
from curate.fsio import copy_file, is_local, local_path, open_read, sha256_of
from curate.layout import INFO_FILE, ShardFormat, manifest_files
from curate.progress import phase
from registry.cache import ENV_CACHE_DIR, CommitCache, default_cache_dir
from registry.errors import (
    ConflictError,
    IntegrityError,
    MissingDependencyError,
    NotFoundError,
    RegistryError,
)
from registry.loaders.methods import TrainingLoaders
from registry.store import Linker, ObjectInfo, Page, Store, paginate

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    import tensorflow as tf
    from array_record.python.array_record_data_source import ArrayRecordDataSource

    from curate.progress import MeterFactory

__all__ = [
    "ENV_CACHE_DIR",
    "CommitCache",
    "DatasetVersion",
    "ShardFormat",
    "VersionFiles",
    "default_cache_dir",
]


def _need_tensorflow(what: str) -> None:
    require("tensorflow", what, error=MissingDependencyError)


def _tf_spec(feature_spec: dict[str, Any]) -> dict[str, Any]:
    """``dataset_info.json``'s feature spec as ``tf.io.FixedLenFeature``s."""
    import tensorflow as tf

    dtypes = {"string": tf.string, "int64": tf.int64, "float32": tf.float32}
    return {name: tf.io.FixedLenFeature(f.get("shape", []), dtypes[f["dtype"]])
            for name, f in feature_spec.items()}


def _tf_reads(path: str) -> bool:
    """Whether ``tf.data`` can open ``path`` itself (local, or a scheme TensorFlow registers)."""
    import tensorflow as tf

    return is_local(path) or path.split("://", 1)[0] in tf.io.gfile.get_registered_schemes()


def _records(paths: list[str]):
    """The records of TFRecord files in order, read through Beam's filesystems."""
    from curate.writers import iter_tfrecords

    for path in paths:
        with open_read(path) as f:
            yield from iter_tfrecords(f, name=path)


def _decode_one(encoded: bytes) -> np.ndarray:
    from curate.example_decode import decode_audio

    return decode_audio(encoded)


def _decode_padded(encoded: np.ndarray) -> np.ndarray:
    """A batch (never empty) of encoded audio as float32 samples, zero-padded to the longest
    (as ``padded_batch`` pads them)."""
    import numpy as np

    from curate.example_decode import decode_audio

    samples = [decode_audio(e) for e in encoded]
    longest = max(len(s) for s in samples)
    out = np.zeros((len(samples), longest, *samples[0].shape[1:]), dtype=np.float32)
    for row, s in zip(out, samples):
        row[: len(s)] = s
    return out


class VersionFiles:
    """One version's files for the workers of a build on it (``curate.base.BaseFiles``):
    picklable, each worker opens the store (from the registry URI when there is one) and the
    commit-keyed cache itself, and fetches only the files it asks for, each verified."""

    def __init__(self, *, store: Store | None, uri: str, dataset: str, commit_id: str,
                 cache_root: str) -> None:
        self._store, self._uri = (None, uri) if uri else (store, "")
        self._dataset, self._commit_id, self._root = dataset, commit_id, cache_root
        self._cache: CommitCache | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"store": self._store, "uri": self._uri, "dataset": self._dataset,
                "commit_id": self._commit_id, "root": self._root}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store, self._uri = state["store"], state["uri"]
        self._dataset, self._commit_id = state["dataset"], state["commit_id"]
        self._root, self._cache = state["root"], None

    def __repr__(self) -> str:
        return f"VersionFiles({self._dataset}@{self._commit_id[:12]})"

    def _commit_cache(self) -> CommitCache:
        if self._cache is None:
            store = self._store
            if store is None:
                from registry.uri import open_store

                store = open_store(self._uri)
            self._cache = CommitCache(store, repo=self._dataset, commit_id=self._commit_id,
                                      root=self._root)
        return self._cache

    def fetch(self, rel: str, sha256: str) -> str:
        """A path or URI of the cached, verified ``rel``."""
        return self._commit_cache().fetch(rel, sha256=sha256)

    def place(self, rel: str, sha256: str, dest: str) -> None:
        """``rel`` byte for byte at ``dest`` (a build's output file), its bytes read only if
        they must be: a hard link to the store's object when the store has them locally on
        ``dest``'s filesystem (:class:`registry.store.Linker`), else the verified cached file
        linked or copied (:func:`curate.fsio.copy_file`)."""
        cache = self._commit_cache()
        if isinstance(cache.store, Linker) and is_local(dest):
            target = local_path(dest)
            os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
            if cache.store.link_object(self._dataset, self._commit_id, rel, dest_path=target,
                                       sha256=sha256):
                return
        copy_file(cache.fetch(rel, sha256=sha256), dest)


class DatasetVersion(TrainingLoaders):
    """One version's data: shards for ``tf.data``, PyTorch, Grain, Hugging Face, Ray and Spark
    (the last five from :class:`registry.loaders.methods.TrainingLoaders`), and the manifests.
    ``registry``: the URI of the registry it was opened from, when known (never credentials)."""

    def __init__(
        self,
        store: Store,
        *,
        dataset: str,
        commit_id: str,
        cache_root: str | os.PathLike[str],
        tag: str | None = None,
        workers: int = 8,
        registry: str = "",
    ) -> None:
        self.dataset = dataset
        self.commit_id = commit_id
        self.tag = tag
        self.registry = registry
        self.cache = CommitCache(store, repo=dataset, commit_id=commit_id, root=cache_root)
        self._cache_root = os.fspath(cache_root)
        self._workers = workers

    def __repr__(self) -> str:
        return f"DatasetVersion('{self.ref}', commit_id='{self.commit_id[:12]}')"

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.tag or self.commit_id}"

    @functools.cached_property
    def info(self) -> dict[str, Any]:
        """``dataset_info.json`` of this version."""
        with open_read(self.cache.fetch(INFO_FILE)) as f:
            return json.loads(f.read())

    @property
    def splits(self) -> list[str]:
        return sorted(self.info["splits"])

    def base_files(self) -> VersionFiles:
        """This version's files for the workers of a build on it (``curate build --base``)."""
        return VersionFiles(store=self.cache.store, uri=self.registry, dataset=self.dataset,
                            commit_id=self.commit_id, cache_root=self._cache_root)

    def _split(self, split: str) -> dict[str, Any]:
        try:
            found = self.info["splits"][split]
        except KeyError:
            raise NotFoundError(
                f"{self.ref} has no split '{split}' (splits: {', '.join(self.splits)})"
            ) from None
        problem = split_name_problem(split)  # a name read back becomes a path: checked first
        if problem:
            raise IntegrityError(f"{self.ref}: {INFO_FILE}: {problem}")
        return found

    def _fetch(self, paths: list[str], done: Callable[[str], None] | None = None) -> list[str]:
        files = self.info["files"]
        entries = [(p, files[p]["sha256"] if p in files else None) for p in paths]
        return self.cache.fetch_many(entries, workers=self._workers, done=done)

    def files(self, split: str, format: ShardFormat | str = ShardFormat.TFRECORD) -> list[str]:
        """The split's shards in ``format``, in shard order: paths in the cache (URIs when the
        cache is in a bucket)."""
        fmt = ShardFormat(format)
        shards = self._split(split).get("shards", {}).get(fmt.value, [])
        return self._fetch([s["path"] for s in shards])

    def manifest(self, split: str) -> pa.Table:
        """One row per example of ``split``, in shard order: key, text, shard, position,
        duration, signals… (its shards' manifest files, fetched through the cache)."""
        from curate.build_info import read_manifest

        self._split(split)
        rels = manifest_files(self.info, split)
        paths = dict(zip(rels, self._fetch(rels)))
        return read_manifest(self.info, split, paths.__getitem__)

    def tf_dataset(self, split: str, *, decode_audio: bool = True, batch_size: int | None = None,
                   drop_remainder: bool = False) -> tf.data.Dataset:
        """Parsed examples of ``split`` in shard order, as a dict of tensors. With
        ``decode_audio``, ``audio`` is float32 samples in [-1, 1] (``[n]`` mono,
        ``[n, channels]`` otherwise), ready for ``.padded_batch()``.

        With ``batch_size``, batches parsed at once (``tf.io.parse_example``, and the audio of a
        batch decoded in one call): exactly ``tf_dataset(split).padded_batch(batch_size,
        drop_remainder=drop_remainder)``, element for element, and faster. Needs the ``[tf]``
        extra."""
        _need_tensorflow("tf_dataset")
        import tensorflow as tf

        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        spec = _tf_spec(self.info["feature_spec"])
        paths = self.files(split, ShardFormat.TFRECORD)
        if all(_tf_reads(p) for p in paths):
            records = tf.data.TFRecordDataset(paths)
        else:
            records = tf.data.Dataset.from_generator(
                lambda: _records(paths), output_signature=tf.TensorSpec([], tf.string)
            )
        if batch_size is None:
            ds = records.map(
                lambda record: tf.io.parse_single_example(record, spec),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
            )
        else:
            ds = records.batch(batch_size, drop_remainder=drop_remainder).map(
                lambda batch: tf.io.parse_example(batch, spec),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
            )
        if not decode_audio:
            return ds
        channels = int(self.info.get("channels", 1))
        shape = [None] if channels == 1 else [None, channels]
        if batch_size is not None:  # the batch's size is static when a remainder is dropped
            shape = [batch_size if drop_remainder else None, *shape]
        decode = _decode_one if batch_size is None else _decode_padded

        def with_audio(features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
            audio = tf.numpy_function(decode, [features["audio"]], tf.float32, stateful=False)
            audio.set_shape(shape)
            return {**features, "audio": audio}

        return ds.map(with_audio, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    def array_record_source(self, split: str) -> ArrayRecordDataSource:
        """Random access to the split's serialized ``tf.train.Example``s (``len``, ``[i]``);
        a Grain data source."""
        from array_record.python.array_record_data_source import ArrayRecordDataSource

        if not self.cache.local:
            raise RegistryError(
                f"array_record_source needs local files, and the cache of {self.ref} is "
                f"{self.cache.dir}: set CURATE_CACHE_DIR to a local directory (or pull the "
                "version) to read it with random access"
            )
        return ArrayRecordDataSource(self.files(split, ShardFormat.ARRAY_RECORD))

    def _all_objects(self) -> list[ObjectInfo]:
        def page(after: str) -> Page[ObjectInfo]:
            return self.cache.store.list_objects(self.dataset, self.commit_id, after=after)

        return list(paginate(page))

    def pull(
        self, dest: str | os.PathLike[str], *, progress: MeterFactory | None = None
    ) -> Path:
        """Copy every file of this version into local ``dest`` (new or empty), all or nothing.
        ``progress`` is told the bytes fetched into the cache (``fetching``; files cached
        already count at once) and copied into ``dest`` (``copying``)."""
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ConflictError(f"destination '{dest}' exists and is not an empty directory")
        objects = self._all_objects()
        paths = [o.path for o in objects]
        total = sum(o.size_bytes for o in objects)
        sizes = {o.path: o.size_bytes for o in objects}
        with phase(progress, "fetching", total) as meter:
            cached = self._fetch(paths, done=lambda rel: meter.advance(sizes[rel]))
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
        try:
            with phase(progress, "copying", total) as meter:
                for rel, src in zip(paths, cached):
                    (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                    with open_read(src) as f, open(tmp / rel, "wb") as out:
                        while chunk := f.read(8 << 20):
                            out.write(chunk)
                            meter.advance(len(chunk))
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
            path = self.cache.path(rel)
            if self.cache.exists(rel) and sha256_of(path) != sha256:
                self.cache.forget(rel)
                self.cache.fetch(rel, sha256=sha256)
                refetched.append(rel)
        return refetched
