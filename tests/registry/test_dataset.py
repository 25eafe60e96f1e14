"""Reading versions: the commit-keyed cache, tf.data, ArrayRecord, manifests, pull."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from registry.api import Registry
from registry.dataset import DatasetVersion, ShardFormat
from registry.errors import ConflictError, NotFoundError
from registry.local import LocalStore
from tests.registry.conftest import Builds

DS = "asr-demo"


class CountingStore(LocalStore):
    """A LocalStore that records the paths it downloads."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.downloads: list[str] = []

    def download_object(self, repo: str, ref: str, path: str, *, dest_path: str) -> None:
        self.downloads.append(path)  # list.append is atomic across the fetch threads
        super().download_object(repo, ref, path, dest_path=dest_path)


@pytest.fixture
def reg(tmp_path: Path, builds: Builds) -> Registry:
    """A registry holding v1 of the fixture dataset."""
    reg = Registry(LocalStore(tmp_path / "store"), cache_dir=tmp_path / "cache")
    reg.register(builds.v1, dataset=DS)
    return reg


def _training_read(ds: DatasetVersion) -> str:
    """A digest of everything a training job consumes from ``ds``."""
    h = hashlib.sha256()
    for split in ds.splits:
        for record in ds.tf_dataset(split, decode_audio=False).map(lambda f: f["audio"]):
            h.update(record.numpy())
        for fmt in ShardFormat:
            for p in ds.files(split, fmt):
                h.update(Path(p).read_bytes())
        h.update(ds.manifest(split).to_pandas().to_json().encode())
    return h.hexdigest()


def test_training_read_of_v1_is_identical_after_v2_and_v3(
    reg: Registry, builds: Builds, tmp_path: Path
) -> None:
    before = _training_read(reg.open(f"{DS}@v1"))
    reg.register(builds.v2, dataset=DS)
    reg.register(builds.v3, dataset=DS)
    fresh = Registry(reg.store, cache_dir=tmp_path / "other-cache")  # nothing cached yet
    ds = fresh.open(f"{DS}@v1")
    assert ds.commit_id == reg.versions(DS)[0].commit_id
    assert _training_read(ds) == before
    assert _training_read(fresh.open(f"{DS}@latest")) != before


def test_tf_dataset_decodes_the_audio_that_was_written(reg: Registry, builds: Builds) -> None:
    import tensorflow as tf

    ds = reg.open(f"{DS}@v1")
    expected = {ex.key: ex for ex in builds.examples["v1"]["test"]}
    seen = []
    for features in ds.tf_dataset("test"):
        key = features["key"].numpy().decode()
        ex = expected[key]
        assert features["text"].numpy().decode() == ex.text
        assert features["audio"].dtype == tf.float32
        np.testing.assert_array_equal(features["audio"].numpy(), ex.float_samples())
        assert int(features["num_samples"]) == ex.num_samples
        seen.append(key)
    assert sorted(seen) == sorted(expected)
    batch = next(iter(ds.tf_dataset("test").padded_batch(4)))
    longest = max(ex.num_samples for ex in expected.values() if ex.key in
                  [k.decode() for k in batch["key"].numpy()])
    assert batch["audio"].shape == (4, longest)
    assert batch["duration_s"].dtype == tf.float32 and batch["duration_s"].shape == (4,)
    raw = next(iter(ds.tf_dataset("test", decode_audio=False).batch(3)))
    assert raw["audio"].dtype == tf.string and raw["audio"].shape == (3,)


def _batches_equal(got, want) -> int:
    """Element for element: same feature names, dtypes, shapes and values; the batch count."""
    n = 0
    for a, b in zip(got, want, strict=True):
        assert sorted(a) == sorted(b)
        for name in b:
            assert (a[name].dtype, a[name].shape) == (b[name].dtype, b[name].shape), name
            np.testing.assert_array_equal(a[name].numpy(), b[name].numpy(), err_msg=name)
        n += 1
    return n


@pytest.mark.parametrize("decode_audio", [True, False])
@pytest.mark.parametrize("batch_size, drop_remainder", [(3, False), (3, True), (1, False), (64, False)])
def test_tf_dataset_parses_in_batches_exactly_as_padded_batch(
    reg: Registry, decode_audio: bool, batch_size: int, drop_remainder: bool
) -> None:
    """``batch_size=`` parses a batch at once and gives what ``padded_batch`` of the
    one-at-a-time dataset gives: 20 examples in 3s leave a remainder of 2, kept or dropped."""
    ds = reg.open(f"{DS}@v1")
    one = ds.tf_dataset("train", decode_audio=decode_audio)
    batched = ds.tf_dataset("train", decode_audio=decode_audio, batch_size=batch_size,
                            drop_remainder=drop_remainder)
    assert batched.element_spec == one.padded_batch(
        batch_size, drop_remainder=drop_remainder).element_spec
    n = _batches_equal(batched, one.padded_batch(batch_size, drop_remainder=drop_remainder))
    assert n == (20 // batch_size if drop_remainder else -(-20 // batch_size))


def test_tf_dataset_refuses_a_batch_size_below_one(reg: Registry) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1, not 0"):
        reg.open(f"{DS}@v1").tf_dataset("train", batch_size=0)


def test_array_record_source_gives_random_access_in_shard_order(reg: Registry) -> None:
    import tensorflow as tf

    ds = reg.open(f"{DS}@v1")
    source = ds.array_record_source("train")
    manifest = ds.manifest("train").to_pylist()
    assert len(source) == ds.info["splits"]["train"]["num_examples"] == len(manifest) == 20
    in_order = sorted(manifest, key=lambda r: (r["shard"], r["position"]))
    for i in (19, 0, 7):
        example = tf.train.Example.FromString(source[i])
        assert example.features.feature["key"].bytes_list.value[0].decode() == in_order[i]["key"]
        audio = example.features.feature["audio"].bytes_list.value[0]
        assert hashlib.sha256(audio).hexdigest() == in_order[i]["audio_sha256"]
    tf_records = [r.numpy() for r in tf.data.TFRecordDataset([str(p) for p in ds.files("train")])]
    assert [source[i] for i in range(len(source))] == tf_records


def test_manifest_is_an_arrow_table_and_unknown_splits_are_named(reg: Registry) -> None:
    ds = reg.open(f"{DS}@v1")
    table = ds.manifest("test")
    assert table.num_rows == 6
    assert {"key", "text", "shard", "position", "audio_sha256", "snr_db"} <= set(table.column_names)
    with pytest.raises(NotFoundError, match=r"no split 'dev' \(splits: test, train\)"):
        ds.files("dev")


def test_cache_is_keyed_by_commit_and_refetches_corrupted_files(reg: Registry, tmp_path: Path) -> None:
    ds = reg.open(f"{DS}@v1")
    paths = [Path(p) for p in ds.files("train")]
    root = tmp_path / "cache" / DS / ds.commit_id
    assert all(p.is_relative_to(root) for p in paths)
    good = {p: p.read_bytes() for p in paths}
    # Same size, different bytes; then a truncated file; then a deleted one.
    paths[0].write_bytes(b"\0" * len(good[paths[0]]))
    paths[1].write_bytes(good[paths[1]][:10])
    again = [Path(p) for p in reg.open(f"{DS}@v1").files("train")]
    assert again == paths and {p: p.read_bytes() for p in again} == good
    paths[0].unlink()
    assert Path(reg.open(f"{DS}@v1").files("train")[0]).read_bytes() == good[paths[0]]


def test_verify_finds_corruption_that_kept_size_and_mtime(reg: Registry) -> None:
    ds = reg.open(f"{DS}@v1")
    path = Path(ds.files("test")[0])
    good = path.read_bytes()
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(50)
        f.write(bytes([good[50] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ds.verify() == [path.relative_to(ds.cache.dir).as_posix()]
    assert path.read_bytes() == good
    assert ds.verify() == []


def test_cached_commits_are_not_downloaded_again(tmp_path: Path, builds: Builds) -> None:
    store = CountingStore(tmp_path / "store")
    reg = Registry(store, cache_dir=tmp_path / "cache")
    reg.register(builds.v1, dataset=DS)
    reg.open(f"{DS}@v1").files("train")
    assert sorted(store.downloads) == sorted(
        ["dataset_info.json", *(s["path"] for s in json.loads(
            (builds.v1 / "dataset_info.json").read_text())["splits"]["train"]["shards"]["tfrecord"])])
    store.downloads.clear()
    reg.open(f"{DS}@v1").files("train")
    Registry(store, cache_dir=tmp_path / "cache").open(f"{DS}@v1").manifest("train")
    manifests = [m["path"] for m in json.loads(
        (builds.v1 / "dataset_info.json").read_text())["splits"]["train"]["manifest"]]
    assert sorted(store.downloads) == sorted(manifests)  # the only files not cached yet


def test_pull_copies_the_whole_version(reg: Registry, builds: Builds, tmp_path: Path) -> None:
    dest = reg.open(f"{DS}@v1").pull(tmp_path / "pulled")
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    info = json.loads((builds.v1 / "dataset_info.json").read_text())
    assert files == sorted([*info["files"], "dataset_info.json", "validation/result.json"])
    for rel in files:
        assert (dest / rel).read_bytes() == (builds.v1 / rel).read_bytes()
    with pytest.raises(ConflictError, match="not an empty directory"):
        reg.open(f"{DS}@v1").pull(dest)


def test_tf_dataset_decodes_wav_builds_too(tmp_path: Path) -> None:
    from tests.registry.build_fixture import make_examples, write_build

    examples = make_examples("wv", 3)
    build = write_build(tmp_path / "wav", {"test": examples}, codec="wav", num_shards=1)
    reg = Registry(LocalStore(tmp_path / "store"), cache_dir=tmp_path / "cache")
    reg.register(build, dataset="wav-set")
    decoded = {f["key"].numpy().decode(): f["audio"].numpy()
               for f in reg.open("wav-set@v1").tf_dataset("test")}
    assert decoded.keys() == {ex.key for ex in examples}
    for ex in examples:
        np.testing.assert_array_equal(decoded[ex.key], ex.float_samples())


def test_a_bucket_cache_without_credentials_fails_at_once(tmp_path: Path, monkeypatch) -> None:
    """A user mistake, not an outage: one clear error before any request (Beam would retry each
    request for minutes)."""
    from apache_beam.io.filesystems import FileSystems

    from registry.cache import CommitCache
    from registry.errors import StoreUnavailableError

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    saved = FileSystems._pipeline_options
    FileSystems.set_options(None)
    try:
        with pytest.raises(StoreUnavailableError, match=r"registry cache s3://b/cache: no AWS credentials"):
            CommitCache(LocalStore(tmp_path / "store"), repo=DS, commit_id="c" * 64,
                        root="s3://b/cache")
    finally:
        FileSystems.set_options(saved)
