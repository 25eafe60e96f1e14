"""A local S3-compatible server for tests: moto in server mode on loopback, fake credentials.

``with local_s3() as s3:`` starts moto's ``ThreadedMotoServer`` on ``127.0.0.1`` at a port the
kernel picks, points the AWS environment variables at fake credentials (and away from any real
``~/.aws`` files) for the duration, and yields a :class:`LocalS3` with the endpoint, a boto3
client and the Beam pipeline options that make ``s3://`` paths use it.

While it runs, every botocore session made in this process, and in the processes it starts
(Beam's SDK workers, ``curate`` commands), shares one data loader per process
(:func:`one_botocore_loader`): Beam's S3 filesystem makes a new boto3 session and client for
every operation (``S3FileSystem`` -> ``S3IO(options=...)`` -> ``boto3.session.Session()``), and
each new session parses botocore's S3 service model again, about 170 ms of CPU here against
22 ms with the loader shared. That was most of the time of the S3 tests, and none of what they
check. What a user's process pays for it is unchanged (and worth a fix of its own; curate's
``fsio.FileReader`` keeps one client per thread for that reason).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["LocalS3", "local_s3", "main", "one_botocore_loader", "upload_tree"]

_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
_UNSET = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


@dataclass(frozen=True, kw_only=True, slots=True)
class LocalS3:
    endpoint_url: str
    region: str
    client: Any  # boto3 S3 client

    def pipeline_args(self) -> list[str]:
        """Beam options (``S3Options``) that route ``s3://`` to this server, on the driver
        and, through the pipeline options, on every worker."""
        return [
            f"--s3_endpoint_url={self.endpoint_url}",
            f"--s3_region_name={self.region}",
            f"--s3_access_key_id={_FAKE_ENV['AWS_ACCESS_KEY_ID']}",
            f"--s3_secret_access_key={_FAKE_ENV['AWS_SECRET_ACCESS_KEY']}",
        ]

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            out += [obj["Key"] for obj in page.get("Contents", [])]
        return sorted(out)

    def get(self, bucket: str, key: str) -> bytes:
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()


@contextlib.contextmanager
def one_botocore_loader() -> Iterator[None]:
    """Every botocore session made in the block shares one data loader (the parsed service
    models), instead of parsing them again for each session: in this process, and in the
    processes started in the block (``tests/s3_child`` first on their ``PYTHONPATH``)."""
    from tests.s3_child import env_with
    from tests.s3_child.botocore_models import share_one_loader

    restore = share_one_loader()
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env_with(saved)
    try:
        yield
    finally:
        restore()
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@contextlib.contextmanager
def local_s3() -> Iterator[LocalS3]:
    import boto3
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in (*_FAKE_ENV, *_UNSET)}
    os.environ.update(_FAKE_ENV)
    for k in _UNSET:
        os.environ.pop(k, None)
    access_log = logging.getLogger("werkzeug")  # one INFO line per request otherwise
    saved_level = access_log.level
    access_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        with one_botocore_loader():
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, region_name=_FAKE_ENV["AWS_DEFAULT_REGION"]
            )
            region = _FAKE_ENV["AWS_DEFAULT_REGION"]
            yield LocalS3(endpoint_url=endpoint, region=region, client=client)
    finally:
        server.stop()
        access_log.setLevel(saved_level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def upload_tree(s3: LocalS3, local_root: str, bucket: str, prefix: str) -> int:
    """Upload every file under ``local_root`` to ``s3://bucket/prefix/<relative path>``."""
    count = 0
    for dirpath, _, names in os.walk(local_root):
        for name in sorted(names):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, local_root).replace(os.sep, "/")
            s3.client.upload_file(path, bucket, f"{prefix.rstrip('/')}/{rel}")
            count += 1
    return count


def main() -> None:
    """``python -m tests.s3_server``: a moto S3 server on loopback in this process; prints its
    endpoint URL, then serves until stdin closes (when the parent exits or closes it)."""
    import sys

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"http://{host}:{port}", flush=True)
    try:
        sys.stdin.read()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
