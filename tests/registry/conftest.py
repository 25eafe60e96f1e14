"""Fixtures for the registry tests.

``store`` runs a test against every store there is:

- ``local``: a fresh :class:`registry.local.LocalStore` in a temporary directory;
- ``lakefs-test-server``: :class:`registry.lakefs_store.LakeFSStore` over HTTP against the
  in-process server of ``tests.registry.lakefs_server`` (one per session); skipped, with the
  reason, while either module is missing;
- ``lakefs-real``: a real lakeFS configured like lakectl (``LAKECTL_SERVER_ENDPOINT_URL``,
  ``LAKECTL_CREDENTIALS_ACCESS_KEY_ID``, ``LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY``); skipped
  unless all three are set. Tests create their own uniquely named repositories (``repo_name``),
  so a shared server is fine.

``builds`` holds real build directories (see ``build_fixture``): v1, an identical rebuild of
v1, v2 (one example added to ``test``) and v3 (``train`` loses one example and changes
another).
"""

from __future__ import annotations

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
from tests.registry.build_fixture import FixtureExample, make_examples, write_build

_REAL_ENV = (
    "LAKECTL_SERVER_ENDPOINT_URL",
    "LAKECTL_CREDENTIALS_ACCESS_KEY_ID",
    "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY",
)


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
    missing = [name for name in _REAL_ENV if not os.environ.get(name)]
    if missing:
        pytest.skip(f"no real lakeFS: set {', '.join(missing)} to run against one")
    return _lakefs_store_class()()


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
