"""Benchmark 3 on a real lakeFS (S3 block store on a local moto server): bytes through the
machine that runs ``register``, copying a build against importing it in place.

Two byte meters (``bench.tcp_meter``) stand between the launcher and the servers: one in front
of lakeFS's API, one in front of the bucket; lakeFS reaches the bucket directly, so what it
reads or writes there is not counted. Measured side by side in one run:

- local builds (v1, then one split changed): copied, bytes sent to lakeFS;
- the same builds in the bucket, registered with ``copy=True`` (before: every byte is read
  from the bucket and sent to lakeFS) and by import (after: each file is read once to check
  its sha256, nothing is sent).

Skipped, saying why, when the lakeFS binary (``tests/registry/build_lakefs.sh``) is missing.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import ratio
from bench.tcp_meter import TcpMeter

__all__ = ["run"]

_AWS = ("AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION",
        "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_PROFILE", "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL")


def _meter(url: str) -> TcpMeter:
    parts = urlsplit(url)
    return TcpMeter(parts.hostname or "127.0.0.1", parts.port or 80)


@contextmanager
def _launcher_env(s3_url: str, s3: Any) -> Iterator[None]:
    """boto3 and Beam's S3 filesystem (without options) reach the bucket at ``s3_url``."""
    from apache_beam.io.filesystems import FileSystems

    saved = {k: os.environ.get(k) for k in _AWS}
    saved_options = FileSystems._pipeline_options
    for k in _AWS:
        os.environ.pop(k, None)
    os.environ.update({"AWS_ENDPOINT_URL_S3": s3_url, "AWS_ACCESS_KEY_ID": s3.access_key_id,
                       "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
                       "AWS_DEFAULT_REGION": s3.region, "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    FileSystems.set_options(None)
    try:
        yield
    finally:
        FileSystems.set_options(saved_options)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _put_tree(client: Any, local: str, bucket: str, prefix: str) -> str:
    for path in sorted(p for p in Path(local).rglob("*") if p.is_file()):
        client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(local).as_posix()}")
    return f"s3://{bucket}/{prefix}"


def _register(reg: Any, build: str, dataset: str, meters: dict[str, TcpMeter],
              **kwargs: Any) -> dict[str, Any]:
    before = {k: (m.sent, m.received) for k, m in meters.items()}
    start = time.perf_counter()
    version = reg.register(build, dataset=dataset, allow_unvalidated=True, **kwargs)
    seconds = time.perf_counter() - start
    moved = {k: (m.sent - before[k][0], m.received - before[k][1]) for k, m in meters.items()}
    return {
        "seconds": seconds,
        "tag": version.tag,
        "imported": "curate.imported_from" in version.metadata,
        "sent_to_lakefs": moved["lakefs"][0],
        "received_from_lakefs": moved["lakefs"][1],
        "read_from_bucket": moved["s3"][1],
        "sent_to_bucket": moved["s3"][0],
        "through_launcher": sum(a + b for a, b in moved.values()),
    }


def run(v1_dir: str, changed_dir: str, changed: dict[str, Any], workdir: str, say) -> dict[str, Any]:
    from registry.api import Registry
    from registry.lakefs_store import LakeFSStore
    from tests.registry.real_lakefs import (
        BUILD_SCRIPT, LAKEFS_VERSION, lakefs_binary, moto_process, real_lakefs)

    binary = lakefs_binary()
    if not os.access(binary, os.X_OK):
        why = f"no lakeFS binary at {binary} (run `sh {BUILD_SCRIPT}`)"
        say(f"  registration lakefs_real: skipped ({why})")
        return {"skipped": why}
    out: dict[str, Any] = {"lakefs_version": LAKEFS_VERSION, "changed_bytes": changed["bytes"],
                           "build_bytes": changed["build_bytes"]}
    with moto_process() as s3, real_lakefs(binary, Path(tempfile.mkdtemp(dir=workdir)),
                                           s3=s3) as server:
        client = s3.client()
        client.create_bucket(Bucket="bench-builds")
        uris = {"v1": _put_tree(client, v1_dir, "bench-builds", "v1"),
                "changed": _put_tree(client, changed_dir, "bench-builds", "changed")}
        with _meter(server.endpoint_url) as lakefs_meter, _meter(s3.endpoint_url) as s3_meter, \
                _launcher_env(s3_meter.url, s3):
            meters = {"lakefs": lakefs_meter, "s3": s3_meter}
            store = LakeFSStore(endpoint_url=lakefs_meter.url, access_key_id=server.access_key_id,
                                secret_access_key=server.secret_access_key,
                                storage_namespace_root=server.storage_namespace_root)
            reg = Registry(store, cache_dir=os.path.join(workdir, "lakefs-cache"))
            runs = {
                "local": ("bench-local", {"v1": v1_dir, "changed": changed_dir}, {}),
                "bucket_copied": ("bench-copied", uris, {"copy": True}),
                "bucket_imported": ("bench-imported", uris, {}),
            }
            for name, (dataset, builds, kwargs) in runs.items():
                out[name] = {step: _register(reg, build, dataset, meters, **kwargs)
                             for step, build in builds.items()}
    copied, imported = out["bucket_copied"], out["bucket_imported"]
    out["ratios"] = {
        f"{step}: through launcher, imported vs copied": ratio(
            imported[step]["through_launcher"], copied[step]["through_launcher"])
        for step in ("v1", "changed")
    }
    out["ratios"]["local changed: sent vs changed files"] = ratio(
        out["local"]["changed"]["sent_to_lakefs"], changed["bytes"])
    for step in ("v1", "changed"):
        c, i = copied[step], imported[step]
        say(f"  registration lakefs_real {step}: bucket build copied {c['through_launcher'] / 1e6:.1f}"
            f" MB through the launcher in {c['seconds']:.2f} s, imported "
            f"{i['through_launcher'] / 1e6:.1f} MB in {i['seconds']:.2f} s")
    return out
