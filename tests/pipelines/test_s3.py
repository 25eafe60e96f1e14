"""Object stores: a build whose config, corpus, staging and output all live in ``s3://``.

A local S3-compatible server (moto, on loopback, fake credentials) stands in for S3; Beam's own
S3 filesystem reaches it through ``--s3_endpoint_url`` and the other ``S3Options``. The S3 build
runs with two worker processes, so the options must reach ``FileSystems`` in the workers through
the pipeline options (not just through the driver's process-wide state).
"""

from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from curate.layout import REPORT_FILE, fingerprint
from tests.pipelines.corpus import small_shard_corpus
from curate.launch import run_build
from registry.local import LocalStore
from tests.s3_server import local_s3, upload_tree
from curate.build_info import read_manifest
from tests.manifests import split_manifest

BUCKET = "speech"


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def s3():
    """The server, and Beam's process-wide filesystem options put back afterwards: the builds
    here set options naming this server, which is gone when the module ends."""
    from apache_beam.io.filesystems import FileSystems

    saved = FileSystems._pipeline_options
    with local_s3() as server:
        server.client.create_bucket(Bucket=BUCKET)
        yield server
    FileSystems.set_options(saved)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, s3):
    """The sample corpus on disk and a copy of its LibriSpeech tree in the bucket, with a config
    in the bucket naming it by ``s3://`` URI."""
    root = small_shard_corpus(str(tmp_path_factory.mktemp("corpus") / "c"), utterances=10, seed=11)
    config = yaml.safe_load(open(os.path.join(root, "configs", "librispeech.yaml")))
    uploaded = upload_tree(s3, os.path.join(root, "librispeech"), BUCKET, "corpus/librispeech")
    assert uploaded > 10
    source = dict(config["sources"][0], path=f"s3://{BUCKET}/corpus/librispeech")
    remote = dict(config, sources=[source])
    s3.client.put_object(Bucket=BUCKET, Key="configs/librispeech.yaml",
                         Body=yaml.safe_dump(remote).encode())
    expected = json.load(open(os.path.join(root, "expected.json")))
    return root, expected


@pytest.fixture(scope="module")
def s3_build(corpus, s3):
    info = run_build(f"s3://{BUCKET}/configs/librispeech.yaml", f"s3://{BUCKET}/builds/b1", workers=2,
               pipeline_args=s3.pipeline_args(), say=_quiet)
    return "builds/b1", info


def _outcomes(read) -> dict[str, str | None]:
    """key -> None (accepted) or reason, from manifest and rejected files given by a reader."""
    info = json.loads(read("dataset_info.json"))
    outcome: dict[str, str | None] = {}
    for split in info["splits"]:
        manifest = read_manifest(info, split, lambda rel: io.BytesIO(read(rel)))
        for key in manifest.column("key").to_pylist():
            outcome[key] = None
    for row in pq.read_table(io.BytesIO(read("rejected.parquet"))).to_pylist():
        outcome[row["key"]] = row["reason"]
    return outcome


def test_build_reads_config_and_corpus_from_s3_and_writes_there(corpus, s3, s3_build):
    """Also the regression test for a LibriSpeech tree in a bucket reported "not found" (a
    prefix is no object, so ``FileSystems.exists`` is False) and for the config read from S3
    before the S3 options reached ``FileSystems``."""
    _, expected = corpus
    prefix, info = s3_build
    for rel, meta in info["files"].items():  # read back from the bucket and verify every file
        data = s3.get(BUCKET, f"{prefix}/{rel}")
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], rel
        assert len(data) == meta["size_bytes"], rel
    assert fingerprint(info["files"]) == info["fingerprint"]
    assert json.loads(s3.get(BUCKET, f"{prefix}/dataset_info.json")) == info

    outcomes = _outcomes(lambda rel: s3.get(BUCKET, f"{prefix}/{rel}"))
    layout = expected.get("librispeech") or expected["layouts"]["librispeech"]
    assert outcomes == layout
    assert info["counts"]["accepted"] + info["counts"]["rejected"] == info["counts"]["read"]


def test_staging_prefix_is_deleted_from_the_bucket(s3, s3_build):
    """Regression: the staging "directory" was deleted only if ``FileSystems.exists`` said it
    existed, which it never does for a prefix in an object store."""
    prefix, info = s3_build
    keys = s3.keys(BUCKET, prefix + "/")
    assert not [k for k in keys if "/.staging/" in k or ".tmp-" in k]
    # report.html: the build's page, written beside CARD.md after the build (curate.report)
    assert {k[len(prefix) + 1:] for k in keys} == set(info["files"]) | {"dataset_info.json",
                                                                         REPORT_FILE}


def test_s3_build_equals_a_local_build_of_the_same_corpus(corpus, s3, s3_build, tmp_path):
    """Shards are byte-identical to a local build of the local copy; the fingerprint, which
    also covers the manifests (they name each example's source URI), equals that of a build of
    the same ``s3://`` corpus written to a local directory."""
    root, _ = corpus
    prefix, s3_info = s3_build
    local = run_build(os.path.join(root, "configs", "librispeech.yaml"), str(tmp_path / "local"),
                workers=1, say=_quiet)
    shards = lambda info: {p: m for p, m in info["files"].items() if p.startswith("data/")}
    assert shards(s3_info) == shards(local)

    local_root = os.path.join(root, "librispeech")
    remote_root = f"s3://{BUCKET}/corpus/librispeech"
    for split in s3_info["splits"]:
        remote_rows = read_manifest(s3_info, split, lambda rel: io.BytesIO(
            s3.get(BUCKET, f"{prefix}/{rel}"))).to_pylist()
        local_rows = split_manifest(str(tmp_path / "local"), split).to_pylist()
        for row in local_rows:
            for col in ("source_uri", "audio_uri"):
                row[col] = row[col].replace(local_root, remote_root)
        # what names the source bytes differs by store: the object's ETag in S3 (no read), the
        # sha256 of a local file; the input's hash covers it (issue 11's carry-over records)
        for rows, kind in ((remote_rows, "s3-etag:"), (local_rows, "sha256:")):
            assert all(r.pop("source_fingerprint").startswith(kind) for r in rows), split
            assert all(len(r.pop("input_sha256")) == 64 for r in rows), split
        assert remote_rows == local_rows, split

    mixed = run_build(f"s3://{BUCKET}/configs/librispeech.yaml", str(tmp_path / "from_s3"), workers=1,
                pipeline_args=s3.pipeline_args(), say=_quiet)
    assert mixed["fingerprint"] == s3_info["fingerprint"]
    assert mixed["files"] == s3_info["files"]


def test_refuses_to_overwrite_a_build_in_the_bucket(corpus, s3, s3_build):
    from curate.errors import UsageError

    prefix, info = s3_build
    with pytest.raises(UsageError, match="already holds a build"):
        run_build(f"s3://{BUCKET}/configs/librispeech.yaml", f"s3://{BUCKET}/{prefix}",
            pipeline_args=s3.pipeline_args(), say=_quiet)
    assert json.loads(s3.get(BUCKET, f"{prefix}/dataset_info.json")) == info


def test_leftovers_of_a_dead_build_in_the_bucket_are_cleared(s3):
    """Regression: ``prepare_output`` looked for the output "directory" with
    ``FileSystems.exists``, so in a bucket it never found a dead build's leftovers."""
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from curate.build import prepare_output

    for key in ("dead/.staging/0a1b.records", "dead/data/train/x.tfrecord-00000-of-00002"):
        s3.client.put_object(Bucket=BUCKET, Key=key, Body=b"partial")
    s3.client.put_object(Bucket=BUCKET, Key="deadly/keep.txt", Body=b"a neighbour")
    saved = FileSystems._pipeline_options
    FileSystems.set_options(PipelineOptions(s3.pipeline_args()))
    try:
        prepare_output(f"s3://{BUCKET}/dead")
    finally:
        FileSystems.set_options(saved)
    assert s3.keys(BUCKET, "dead/") == []
    assert s3.keys(BUCKET, "deadly/") == ["deadly/keep.txt"]


@pytest.fixture
def env_s3(s3, monkeypatch):
    """The bucket reached the way a user outside a pipeline reaches it: boto3's environment
    (``AWS_ENDPOINT_URL_S3`` for an S3-compatible server), Beam's filesystems without options."""
    from apache_beam.io.filesystems import FileSystems

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3.endpoint_url)
    saved = FileSystems._pipeline_options
    FileSystems.set_options(None)
    yield s3
    FileSystems.set_options(saved)


class CountingStore(LocalStore):
    """A LocalStore that records what it downloads."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.downloads: list[str] = []

    def download_object(self, repo, ref, path, *, dest_path):
        self.downloads.append(path)
        super().download_object(repo, ref, path, dest_path=dest_path)


def test_a_bucket_build_is_registered_and_read_through_a_cache_in_the_bucket(
    env_s3, s3_build, tmp_path
):
    """Corpus, build and registry cache all in the bucket: the build is registered straight from
    the bucket (verified there), and a version opened with the cache in the bucket is fetched
    into it once, read from it by tf.data and the manifest reader, and repaired by ``verify``
    when an object there is corrupted (``pull`` from it: the CLI test)."""
    from registry.api import Registry
    from registry.errors import RegistryError

    s3 = env_s3
    prefix, info = s3_build
    store = CountingStore(tmp_path / "store")
    cache = f"s3://{BUCKET}/cache"
    reg = Registry(store, cache_dir=cache)
    version = reg.register(f"s3://{BUCKET}/{prefix}", dataset="s3-corpus", allow_unvalidated=True)
    assert version.tag == "v1" and version.fingerprint == info["fingerprint"]

    ds = reg.open("s3-corpus@v1")
    cached = f"{cache}/s3-corpus/{version.commit_id}/"
    split = max(info["splits"], key=lambda s: info["splits"][s]["num_examples"])
    files = ds.files(split)
    shards = info["splits"][split]["shards"]["tfrecord"]
    assert files == [cached + s["path"] for s in shards]
    for path, shard in zip(files, shards):  # the cached copies are the build's bytes
        key = path[len(f"s3://{BUCKET}/"):]
        assert s3.get(BUCKET, key) == s3.get(BUCKET, f"{prefix}/{shard['path']}")

    manifest = ds.manifest(split)
    assert manifest.num_rows == info["splits"][split]["num_examples"]
    examples = list(ds.tf_dataset(split, decode_audio=True))
    assert [e["key"].numpy().decode() for e in examples] == manifest.column("key").to_pylist()
    local = Registry(store, cache_dir=tmp_path / "cache").open("s3-corpus@v1")
    for a, b in zip(examples, local.tf_dataset(split)):  # the same as from a local cache
        assert a["key"] == b["key"]
        np.testing.assert_array_equal(a["audio"].numpy(), b["audio"].numpy())

    store.downloads.clear()  # another machine, same bucket cache: nothing from the registry
    again = Registry(store, cache_dir=cache).open("s3-corpus@v1")
    assert again.files(split) == files and again.manifest(split).equals(manifest)
    assert store.downloads == []

    first = files[0][len(f"s3://{BUCKET}/"):]
    good = s3.get(BUCKET, first)
    s3.client.put_object(Bucket=BUCKET, Key=first, Body=b"\0" * len(good))
    assert again.verify() == [shards[0]["path"]]
    assert s3.get(BUCKET, first) == good

    with pytest.raises(RegistryError, match="array_record_source needs local files"):
        again.array_record_source(split)


def test_registering_a_missing_bucket_build_names_it(env_s3, tmp_path):
    from registry.api import Registry
    from registry.errors import NotFoundError

    reg = Registry(LocalStore(tmp_path / "store"), cache_dir=tmp_path / "cache")
    with pytest.raises(NotFoundError, match=f"build directory 's3://{BUCKET}/nowhere' not found"):
        reg.register(f"s3://{BUCKET}/nowhere", dataset="some-set", allow_unvalidated=True)


def test_the_cli_registers_from_and_caches_in_the_bucket(env_s3, s3_build, tmp_path, monkeypatch,
                                                         capsys):
    """What a user types, configured only by the environment (Beam's filesystems without
    options, as in a fresh process: see ``env_s3``)."""
    from curate.cli import main

    s3 = env_s3
    prefix, info = s3_build
    monkeypatch.setenv("CURATE_CACHE_DIR", f"s3://{BUCKET}/cli-cache")
    monkeypatch.setenv("CURATE_REGISTRY", f"file://{tmp_path / 'store'}")

    def cli(*args: str) -> tuple[int, str]:
        code = main(list(args))
        return code, capsys.readouterr().err

    code, err = cli("register", f"s3://{BUCKET}/{prefix}", "--dataset", "cli-set")
    assert code == 1 and "never validated" in err, err
    code, err = cli("register", f"s3://{BUCKET}/{prefix}", "--dataset", "cli-set",
                    "--allow-unvalidated")
    assert code == 0, err
    assert cli("pull", "cli-set@v1", str(tmp_path / "copy"))[0] == 0
    assert json.loads((tmp_path / "copy" / "dataset_info.json").read_text()) == info
    cached = {k.split("/", 3)[3] for k in s3.keys(BUCKET, "cli-cache/") if "/.verified/" not in k}
    assert cached == set(info["files"]) | {"dataset_info.json", REPORT_FILE}

    assert cli("register", "s3://no-such-bucket/b1", "--dataset", "cli-set") == (
        2, "curate: error: build directory 's3://no-such-bucket/b1' not found\n")
