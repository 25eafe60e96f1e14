"""Registry URIs and the default registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.api import Registry
from registry.errors import ReferenceError_
from registry.local import LocalStore
from registry.uri import default_registry_uri, open_store, redact


def test_file_uris_and_plain_paths_open_a_local_store(tmp_path: Path) -> None:
    store = open_store((tmp_path / "my registry").as_uri())
    assert isinstance(store, LocalStore) and store.root == tmp_path / "my registry"
    assert open_store(str(tmp_path / "r")).root == tmp_path / "r"
    assert open_store(f"file://localhost{tmp_path}/r").root == tmp_path / "r"
    assert not (tmp_path / "r").exists()  # opening writes nothing


def test_default_is_the_environment_then_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CURATE_REGISTRY", (tmp_path / "team").as_uri())
    assert default_registry_uri() == (tmp_path / "team").as_uri()
    assert Registry().store.root == tmp_path / "team"
    monkeypatch.delenv("CURATE_REGISTRY")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_registry_uri() == (tmp_path / "data" / "curate" / "registry").as_uri()


def test_lakefs_uri_opens_the_lakefs_store_configured_like_lakectl(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from registry import lakefs_store

    monkeypatch.setenv("LAKECTL_SERVER_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", "very-secret-value")
    store = open_store("lakefs://")
    assert isinstance(store, lakefs_store.LakeFSStore)
    assert "very-secret-value" not in repr(store) + repr(Registry(store))


@pytest.mark.parametrize(
    "uri, message",
    [
        ("s3://bucket/x", "unknown registry URI scheme in 's3://bucket/x'"),
        ("file://otherhost/x", "use file:///absolute/path"),
        ("lakefs://host:8000", "not a lakeFS registry URI: 'lakefs://host:8000'"),
        ("lakefs://key:secret@host", "'lakefs://***@host'"),
        ("", "empty registry URI"),
    ],
)
def test_bad_uris_are_named(uri: str, message: str) -> None:
    with pytest.raises(ReferenceError_) as e:
        open_store(uri)
    assert message in str(e.value) and "secret" not in str(e.value)


def test_redact() -> None:
    assert redact("lakefs://AKIA:s3cr3t@lakefs.example.com/x") == "lakefs://***@lakefs.example.com/x"
    assert redact("file:///tmp/registry") == "file:///tmp/registry"
