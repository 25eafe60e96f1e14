"""Builds in the bucket of a real lakeFS's S3 block store are registered through lakeFS's import
API (zero copy); a build lakeFS cannot import is copied, and an unchanged shard is never sent
again (copied or imported).

The launcher reaches the bucket the way a user does (boto3's environment,
``AWS_ENDPOINT_URL_S3``); lakeFS reaches the same moto server through its block-store config.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.api import Registry
from curate.layout import INFO_FILE
from registry.build import META_IMPORTED_FROM
from registry.store import Importer, paginate
from tests.registry.conftest import Builds
from tests.registry.counting_store import CountingStore
from tests.registry.real_lakefs import LakeFSProcess, MotoProcess, moto_process
from tests.s3_server import one_botocore_loader


@pytest.fixture
def bucket(real_lakefs: LakeFSProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh bucket in the moto server behind lakeFS, reached by the launcher through boto3's
    environment; Beam's process-wide filesystem options are put back afterwards. Its botocore
    sessions share one data loader (``tests/s3_server.py``): Beam's S3 filesystem makes one for
    every operation, and registering a build from the bucket took 13 s, mostly that."""
    from apache_beam.io.filesystems import FileSystems

    saved = FileSystems._pipeline_options
    _reach(real_lakefs.s3, monkeypatch)
    with one_botocore_loader():
        yield _new_bucket(real_lakefs.s3)
    FileSystems.set_options(saved)


def _reach(s3: MotoProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point boto3 (and so Beam's S3 filesystem without options) at ``s3``."""
    from apache_beam.io.filesystems import FileSystems

    for key, value in {"AWS_ENDPOINT_URL_S3": s3.endpoint_url,
                       "AWS_ACCESS_KEY_ID": s3.access_key_id,
                       "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
                       "AWS_DEFAULT_REGION": s3.region,
                       "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull}.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    FileSystems.set_options(None)


def _new_bucket(s3: MotoProcess) -> str:
    name = f"builds-{secrets.token_hex(4)}"
    s3.client().create_bucket(Bucket=name)
    return name


def _put_tree(s3: MotoProcess, local: Path, bucket: str, prefix: str) -> str:
    client = s3.client()
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
    return f"s3://{bucket}/{prefix}"


def _files(build: Path) -> list[str]:
    return sorted(p.relative_to(build).as_posix() for p in build.rglob("*") if p.is_file())


def test_a_build_in_the_bucket_is_imported_in_place(
    real_lakefs: LakeFSProcess, bucket: str, builds: Builds, repo_name: str, tmp_path: Path
) -> None:
    store = CountingStore(real_lakefs.store())
    assert isinstance(store, Importer) and store.can_import(f"s3://{bucket}/b1")
    assert not store.can_import(str(builds.v1)) and not store.can_import("gs://other/b1")
    reg = Registry(store, cache_dir=tmp_path / "cache")
    uri = _put_tree(real_lakefs.s3, builds.v1, bucket, "b1")

    v1 = reg.register(uri, dataset=repo_name)
    assert store.uploaded == [] and store.uploaded_bytes == 0
    assert sorted(store.imported) == _files(builds.v1)
    assert v1.metadata[META_IMPORTED_FROM] == uri
    api = real_lakefs.api()
    for stats in api.objects_api.list_objects(repo_name, v1.commit_id, amount=1000).results:
        assert stats.physical_address == f"{uri}/{stats.path}", stats.path  # not copied
        assert stats.metadata["sha256"]  # recorded as for an upload
    ds = reg.open(f"{repo_name}@v1")
    ds.verify()
    for path in map(Path, ds.files("train")):
        rel = path.relative_to(tmp_path / "cache" / repo_name / v1.commit_id)
        assert path.read_bytes() == (builds.v1 / rel).read_bytes()

    # v2 elsewhere in the bucket shares v1's train shards: only what changed is imported.
    store.reset()
    v2 = reg.register(_put_tree(real_lakefs.s3, builds.v2, bucket, "b2"), dataset=repo_name)
    changed = _changed(builds.v1, builds.v2)
    assert v2.tag == "v2" and sorted(store.imported) == changed and store.uploaded == []
    train = [s for s in changed if s.startswith("data/train/")]
    assert train == []  # unchanged shards keep pointing where v1 put them


def test_register_copy_copies_a_build_it_could_import(
    real_lakefs: LakeFSProcess, bucket: str, builds: Builds, repo_name: str, tmp_path: Path
) -> None:
    """``curate register --copy``, as a user types it: lakeFS gets its own copy of every file
    (so the build directory may be deleted afterwards)."""
    import json
    import subprocess
    import sys

    uri = _put_tree(real_lakefs.s3, builds.v1, bucket, "b1")
    env = {**os.environ, **real_lakefs.env(), "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "curate.cli", "register", uri, "--dataset", repo_name,
         "--registry", "lakefs://", "--copy", "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    version = json.loads(done.stdout)
    assert META_IMPORTED_FROM not in version["metadata"]
    listing = real_lakefs.api().objects_api.list_objects(repo_name, version["commit_id"])
    assert sorted(o.path for o in listing.results) == _files(builds.v1)
    assert not [o.path for o in listing.results
                if not o.physical_address.startswith(real_lakefs.storage_namespace_root)]


def _changed(old: Path, new: Path) -> list[str]:
    def content(build: Path) -> dict[str, bytes]:
        return {p: (build / p).read_bytes() for p in _files(build)}

    before, after = content(old), content(new)
    return sorted(p for p in after if before.get(p) != after[p])


def test_a_local_build_is_copied_and_unchanged_shards_are_not_sent_again(
    real_lakefs: LakeFSProcess, builds: Builds, repo_name: str, tmp_path: Path
) -> None:
    store = CountingStore(real_lakefs.store())
    reg = Registry(store, cache_dir=tmp_path / "cache")
    reg.register(builds.v1, dataset=repo_name)
    assert sorted(store.uploaded) == _files(builds.v1) and store.imported == []
    store.reset()
    v2 = reg.register(builds.v2, dataset=repo_name)
    assert sorted(store.uploaded) == _changed(builds.v1, builds.v2)
    assert not [p for p in store.uploaded if p.startswith("data/train/")]
    sizes = {p: (builds.v2 / p).stat().st_size for p in store.uploaded}
    assert store.uploaded_bytes == sum(sizes.values())
    assert v2.tag == "v2" and META_IMPORTED_FROM not in v2.metadata


def test_a_bucket_lakefs_reads_differently_is_copied_not_imported(
    real_lakefs: LakeFSProcess, builds: Builds, repo_name: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The launcher's bucket is another S3 than lakeFS's, holding a bucket of the same name
    with other bytes under the same keys: the import's ETags do not match what the launcher
    verified, so the build is uploaded instead."""
    from apache_beam.io.filesystems import FileSystems

    saved = FileSystems._pipeline_options
    try:
        with moto_process() as other:
            _reach(other, monkeypatch)
            name = _new_bucket(other)
            uri = _put_tree(other, builds.v1, name, "b1")
            real_lakefs.s3.client().create_bucket(Bucket=name)
            _put_tree(real_lakefs.s3, builds.v2, name, "b1")  # same keys, other bytes
            store = CountingStore(real_lakefs.store())
            v1 = Registry(store, cache_dir=tmp_path / "cache").register(uri, dataset=repo_name)
    finally:
        FileSystems.set_options(saved)
    assert sorted(store.uploaded) == _files(builds.v1) and store.imported == []
    assert META_IMPORTED_FROM not in v1.metadata
    info = real_lakefs.store().stat_object(repo_name, v1.commit_id, INFO_FILE)
    assert info.sha256 == hashlib.sha256((builds.v1 / INFO_FILE).read_bytes()).hexdigest()
    assert not [b for b in paginate(lambda a: real_lakefs.store().list_branches(repo_name, after=a))
                if b.startswith("build-")]
