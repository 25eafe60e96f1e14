"""A real lakeFS server for tests: the binary ``build_lakefs.sh`` builds, started on loopback.

Usage::

    with moto_process() as s3, real_lakefs(lakefs_binary(), workdir, s3=s3) as server:
        store = server.store()

The server keeps its metadata in lakeFS's local key-value store under ``workdir`` and its data
in an S3 block store on a moto server (``tests.s3_server``) in a process of its own, so that
lakeFS's import API has a bucket to import from; credentials come from ``lakefs setup``. It
listens on ``127.0.0.1`` at a port the kernel picked, calls nowhere else (statistics, e-mail
subscription, version and audit checks are off or pointed at a closed loopback port) and is
stopped, with its moto server, when the ``with`` block ends. ``server.log`` is its log file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "LAKEFS_VERSION",
    "LakeFSProcess",
    "MotoProcess",
    "lakefs_binary",
    "moto_process",
    "real_lakefs",
]

LAKEFS_VERSION = "v1.86.0"  # keep in step with build_lakefs.sh
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = "tests/registry/build_lakefs.sh"
BINARY_ENV = "CURATE_LAKEFS_BIN"
BUCKET = "lakefs-data"
HOOK_SECRET_ENV = "LAKEFSACTION_CURATE_HOOK_SECRET"  # named in docs/_lakefs_actions/
_START_SECONDS = 60
_CREDENTIALS = re.compile(r"access_key_id: (\S+)\s+secret_access_key: (\S+)")


def lakefs_binary() -> Path:
    """``$CURATE_LAKEFS_BIN``, else the binary ``build_lakefs.sh`` leaves in ``.cache/``."""
    explicit = os.environ.get(BINARY_ENV)
    if explicit:
        return Path(explicit)
    return REPO_ROOT / ".cache" / "lakefs" / LAKEFS_VERSION / "lakefs"


@dataclass(frozen=True, kw_only=True)
class MotoProcess:
    endpoint_url: str
    access_key_id: str = "testing"
    secret_access_key: str = field(default="testing", repr=False)
    region: str = "us-east-1"

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )


@contextlib.contextmanager
def moto_process() -> Iterator[MotoProcess]:
    """moto's S3 server in a child process (``python -m tests.s3_server``), so that its state is
    not the state of the in-process servers other tests start; it exits when stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.s3_server"],
        cwd=REPO_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip() if proc.stdout else ""
        if not line.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"moto server did not start (exit {proc.poll()}): {line!r}")
        yield MotoProcess(endpoint_url=line)
    finally:
        _stop(proc)


@dataclass(frozen=True, kw_only=True)
class LakeFSProcess:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    storage_namespace_root: str
    log: Path
    s3: MotoProcess
    # What the server's actions read as {{ ENV.LAKEFSACTION_CURATE_HOOK_SECRET }}: the shipped
    # pre-merge action sends it to ``curate hook serve`` (``CURATE_HOOK_SECRET``).
    hook_secret: str = field(default="", repr=False)

    def store(self) -> Any:
        """A :class:`registry.lakefs_store.LakeFSStore` talking to this server."""
        from registry.lakefs_store import LakeFSStore

        return LakeFSStore(
            endpoint_url=self.endpoint_url,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            storage_namespace_root=self.storage_namespace_root,
        )

    def api(self) -> Any:
        """lakeFS's generated client (``lakefs_sdk``) for this server, for what the store does
        not expose (action runs, physical addresses)."""
        import lakefs

        return lakefs.Client(host=self.endpoint_url, username=self.access_key_id,
                             password=self.secret_access_key).sdk_client

    def env(self) -> dict[str, str]:
        """The lakectl environment naming this server (for a child ``curate`` process)."""
        return {
            "LAKECTL_SERVER_ENDPOINT_URL": self.endpoint_url,
            "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": self.access_key_id,
            "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": self.secret_access_key,
            "CURATE_LAKEFS_STORAGE_NAMESPACE": self.storage_namespace_root,
        }

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(workdir: Path, port: int, s3: MotoProcess) -> dict[str, Any]:
    closed = f"http://127.0.0.1:{_free_port()}/"  # nothing listens: outbound checks fail fast
    return {
        "listen_address": f"127.0.0.1:{port}",
        "logging": {"format": "text", "level": "INFO", "output": str(workdir / "lakefs.log")},
        "database": {"type": "local", "local": {"path": str(workdir / "metadata")}},
        "blockstore": {
            "type": "s3",
            "s3": {
                "endpoint": s3.endpoint_url,
                "region": s3.region,
                "force_path_style": True,
                "discover_bucket_region": False,
                "credentials": {
                    "access_key_id": s3.access_key_id,
                    "secret_access_key": s3.secret_access_key,
                },
            },
        },
        "committed": {"local_cache": {"dir": str(workdir / "cache")}},
        "auth": {"encrypt": {"secret_key": secrets.token_hex(24)}},
        "stats": {"enabled": False, "address": closed},
        "email_subscription": {"enabled": False},
        "security": {
            "check_latest_version": False,
            "audit_check_url": closed,
            "audit_check_interval": "8760h",
        },
        "actions": {"enabled": True},
    }


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v1/healthcheck", timeout=2) as r:
            return r.status == 204
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def real_lakefs(binary: Path, workdir: Path, *, s3: MotoProcess) -> Iterator[LakeFSProcess]:
    """Set up and run lakeFS (see the module docstring); RuntimeError, with the log's tail,
    when it does not come up within a minute."""
    workdir.mkdir(parents=True, exist_ok=True)
    s3.client().create_bucket(Bucket=BUCKET)
    # lakeFS reads LAKEFS_* as configuration and its S3 client reads AWS_* and ~/.aws: only
    # the config file speaks (no instance-metadata look-ups either).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEFS_", "AWS_"))}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true")
    hook_secret = secrets.token_urlsafe(24)
    env[HOOK_SECRET_ENV] = hook_secret
    for attempt in range(3):  # the port is free when picked; another process may take it first
        port = _free_port()
        config = workdir / "config.yaml"
        config.write_text(json.dumps(_config(workdir, port, s3), indent=2))  # JSON is YAML
        if attempt == 0:
            setup = subprocess.run(
                [str(binary), "setup", "--config", str(config), "--user-name", "curate-test"],
                env=env, capture_output=True, text=True, timeout=120,
            )
            found = _CREDENTIALS.search(setup.stdout)
            if setup.returncode != 0 or not found:
                raise RuntimeError(
                    f"lakefs setup failed (exit {setup.returncode}): "
                    f"{(setup.stdout + setup.stderr).strip()[-2000:]}"
                )
            key, secret = found.groups()
        server = LakeFSProcess(
            endpoint_url=f"http://127.0.0.1:{port}",
            access_key_id=key,
            secret_access_key=secret,
            storage_namespace_root=f"s3://{BUCKET}/repos",
            log=workdir / "lakefs.log",
            s3=s3,
            hook_secret=hook_secret,
        )
        with open(workdir / "lakefs.stderr", "ab") as stderr_file:
            proc = subprocess.Popen(
                [str(binary), "run", "--config", str(config)],
                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr_file,
            )
        deadline = time.monotonic() + _START_SECONDS
        while proc.poll() is None and time.monotonic() < deadline and not _healthy(server.endpoint_url):
            time.sleep(0.1)
        if proc.poll() is None and _healthy(server.endpoint_url):
            break
        _stop(proc)
        stderr = (workdir / "lakefs.stderr").read_text(errors="replace")
        if "address already in use" not in stderr + server.log_tail():
            raise RuntimeError(
                f"lakeFS did not start on {server.endpoint_url} within {_START_SECONDS}s "
                f"(exit {proc.returncode}):\n{stderr[-2000:]}\n{server.log_tail()}"
            )
    else:
        raise RuntimeError("lakeFS: three ports in a row were taken before it could bind one")
    try:
        yield server
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.stdin:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
    if proc.stdout:
        proc.stdout.close()
