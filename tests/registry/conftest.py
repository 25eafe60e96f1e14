"""Fixtures for the registry tests.

``store`` runs a test against every store there is:

- ``local``: a fresh :class:`registry.local.LocalStore` in a temporary directory;
- ``lakefs-test-server``: :class:`registry.lakefs_store.LakeFSStore` over HTTP against the
  in-process server of ``tests.registry.lakefs_server`` (one per session); skipped, with the
  reason, while either module is missing;
- ``lakefs-real``: :class:`registry.lakefs_store.LakeFSStore` against a real lakeFS server (one
  per session, ``real_lakefs``): the binary ``build_lakefs.sh`` builds (``make test`` runs it),
  started on loopback by ``tests.registry.real_lakefs``. Without the binary, or when it does not
  start, these cases skip saying why, and fail under ``CI=true``. Tests create their own
  uniquely named repositories (``repo_name``), so one server serves them all.

``builds`` holds real build directories (see ``build_fixture``): v1, an identical rebuild of
v1, v2 (one example added to ``test``) and v3 (``train`` loses one example and changes
another).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from registry.local import LocalStore
from registry.store import Store
from tests.ci import skip_or_fail
from tests.registry.build_fixture import FixtureExample, make_examples, write_build

@pytest.fixture(scope="session")
def real_lakefs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real lakeFS server (``tests.registry.real_lakefs.LakeFSProcess``) for the session."""
    from tests.registry.real_lakefs import BUILD_SCRIPT, lakefs_binary, moto_process
    from tests.registry.real_lakefs import real_lakefs as start

    binary = lakefs_binary()
    if not os.access(binary, os.X_OK):
        skip_or_fail(f"no lakeFS server at {binary}: build it with `sh {BUILD_SCRIPT}` "
                     "(`make test` does)")
    with contextlib.ExitStack() as stack:
        try:
            s3 = stack.enter_context(moto_process())
            server = stack.enter_context(start(binary, tmp_path_factory.mktemp("lakefs"), s3=s3))
        except RuntimeError as e:
            skip_or_fail(f"the real lakeFS server did not start: {e}")
        yield server


@pytest.fixture(scope="session")
def lakefs_server() -> Iterator[Any]:
    from tests.registry.lakefs_server import lakefs_test_server

    with lakefs_test_server() as server:
        yield server


def _lakefs_store_class() -> type:
    from registry.lakefs_store import LakeFSStore

    return LakeFSStore


@pytest.fixture(params=["local", "lakefs-test-server", "lakefs-real"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "local":
        return LocalStore(tmp_path / "store")
    if request.param == "lakefs-test-server":
        _lakefs_store_class()  # skips, saying why, where the lakeFS store is not installed
        return request.getfixturevalue("lakefs_server").store()
    _lakefs_store_class()
    return request.getfixturevalue("real_lakefs").store()


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test run, valid for lakeFS (3-63 of a-z 0-9 -)."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.originalname.lower()).strip("-")
    return f"ct-{slug[:44]}-{secrets.token_hex(4)}"


@dataclass(frozen=True, kw_only=True)
class Builds:
    v1: Path
    v1_again: Path  # rebuilt from the same examples: byte-identical
    v2: Path
    v3: Path
    examples: dict[str, dict[str, list[FixtureExample]]]  # build name -> split -> examples

    def copy(self, name: str, dest: Path) -> Path:
        """A private copy of one build (for tests that tamper with it)."""
        import shutil

        return Path(shutil.copytree(getattr(self, name), dest))


@pytest.fixture(scope="session")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    root = tmp_path_factory.mktemp("builds")
    train, test = make_examples("tr", 20), make_examples("te", 6)
    changed = make_examples("tr", 19, variant="louder")[18]
    splits = {
        "v1": {"train": train, "test": test},
        "v2": {"train": train, "test": make_examples("te", 7)},
        "v3": {"train": train[:18] + [changed], "test": make_examples("te", 7)},
    }
    return Builds(
        v1=write_build(root / "v1", splits["v1"]),
        v1_again=write_build(root / "v1-again", splits["v1"]),
        v2=write_build(root / "v2", splits["v2"]),
        v3=write_build(root / "v3", splits["v3"]),
        examples=splits,
    )
