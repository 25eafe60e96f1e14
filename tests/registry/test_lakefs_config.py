"""Configuration precedence of the lakeFS store: arguments, then LAKECTL_* variables, then file."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.errors import RegistryError, StoreUnavailableError
from registry.lakectl_config import LakectlConfig, resolve_lakectl_config

FILE_SECRET = "file-secret-0123456789abcdef"
ENV_SECRET = "env-secret-0123456789abcdef"
ARG_SECRET = "arg-secret-0123456789abcdef"


@pytest.fixture
def lakectl_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "lakectl.yaml"
    path.write_text(
        "server:\n  endpoint_url: http://file-host:8000\n"
        "credentials:\n"
        "  access_key_id: AKIAFILE\n"
        f"  secret_access_key: {FILE_SECRET}\n",
        encoding="utf-8",
    )
    return path


FULL_ENV = {
    "LAKECTL_SERVER_ENDPOINT_URL": "http://env-host:8000",
    "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "AKIAENV",
    "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": ENV_SECRET,
}


def test_file_is_used_when_nothing_else_is_set(lakectl_yaml: Path) -> None:
    cfg = resolve_lakectl_config(environ={}, config_path=lakectl_yaml)
    assert cfg == LakectlConfig(
        endpoint_url="http://file-host:8000",
        access_key_id="AKIAFILE",
        secret_access_key=FILE_SECRET,
    )


def test_environment_overrides_file(lakectl_yaml: Path) -> None:
    cfg = resolve_lakectl_config(environ=FULL_ENV, config_path=lakectl_yaml)
    assert (cfg.endpoint_url, cfg.access_key_id, cfg.secret_access_key) == (
        "http://env-host:8000",
        "AKIAENV",
        ENV_SECRET,
    )


def test_arguments_override_environment_and_file(lakectl_yaml: Path) -> None:
    cfg = resolve_lakectl_config(
        endpoint_url="http://arg-host:8000",
        access_key_id="AKIAARG",
        secret_access_key=ARG_SECRET,
        environ=FULL_ENV,
        config_path=lakectl_yaml,
    )
    assert (cfg.endpoint_url, cfg.access_key_id, cfg.secret_access_key) == (
        "http://arg-host:8000",
        "AKIAARG",
        ARG_SECRET,
    )


def test_precedence_is_per_setting(lakectl_yaml: Path) -> None:
    cfg = resolve_lakectl_config(
        endpoint_url="http://arg-host:8000",
        environ={"LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "AKIAENV"},
        config_path=lakectl_yaml,
    )
    assert (cfg.endpoint_url, cfg.access_key_id, cfg.secret_access_key) == (
        "http://arg-host:8000",
        "AKIAENV",
        FILE_SECRET,
    )


def test_empty_values_fall_through(lakectl_yaml: Path) -> None:
    env = {**FULL_ENV, "LAKECTL_SERVER_ENDPOINT_URL": ""}
    cfg = resolve_lakectl_config(endpoint_url="", environ=env, config_path=lakectl_yaml)
    assert cfg.endpoint_url == "http://file-host:8000"


def test_lakectl_config_file_variable_names_the_file(lakectl_yaml: Path) -> None:
    cfg = resolve_lakectl_config(environ={"LAKECTL_CONFIG_FILE": str(lakectl_yaml)})
    assert cfg.access_key_id == "AKIAFILE"


def test_default_file_is_home_lakectl_yaml(
    lakectl_yaml: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(lakectl_yaml.parent))
    (lakectl_yaml.parent / ".lakectl.yaml").write_text(lakectl_yaml.read_text())
    assert resolve_lakectl_config(environ={}).endpoint_url == "http://file-host:8000"


def test_missing_endpoint_names_the_three_places(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError) as info:
        resolve_lakectl_config(
            access_key_id="AKIA",
            secret_access_key=ARG_SECRET,
            environ={},
            config_path=tmp_path / "absent.yaml",
        )
    message = str(info.value)
    assert "endpoint_url=" in message
    assert "LAKECTL_SERVER_ENDPOINT_URL" in message
    assert "server.endpoint_url" in message and "absent.yaml" in message


def test_missing_secret_names_the_three_places(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"):
        resolve_lakectl_config(
            endpoint_url="http://h:8000",
            access_key_id="AKIA",
            environ={},
            config_path=tmp_path / "absent.yaml",
        )


def test_repr_and_str_hide_the_secret(lakectl_yaml: Path) -> None:
    cfg = resolve_lakectl_config(environ={}, config_path=lakectl_yaml)
    for text in (repr(cfg), str(cfg), f"{cfg}", f"{cfg!r}"):
        assert FILE_SECRET not in text
        assert "AKIAFILE" in text and "***" in text


def test_invalid_yaml_error_names_the_file_but_not_its_content(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(f"credentials:\n  secret_access_key: {FILE_SECRET}\n  - [unbalanced\n")
    with pytest.raises(RegistryError) as info:
        resolve_lakectl_config(environ={}, config_path=path)
    assert "broken.yaml" in str(info.value)
    assert FILE_SECRET not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_yaml_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(RegistryError, match="not a YAML mapping"):
        resolve_lakectl_config(environ={}, config_path=path)


def test_endpoint_with_embedded_credentials_is_refused_without_echoing_it() -> None:
    with pytest.raises(RegistryError) as info:
        resolve_lakectl_config(
            endpoint_url=f"http://AKIA:{ARG_SECRET}@host:8000",
            access_key_id="AKIA",
            secret_access_key=ARG_SECRET,
            environ={},
            config_path="/nonexistent",
        )
    assert ARG_SECRET not in str(info.value)


def test_endpoint_must_be_http() -> None:
    with pytest.raises(RegistryError, match="not a valid lakeFS endpoint URL: 'ftp://host'"):
        resolve_lakectl_config(
            endpoint_url="ftp://host",
            access_key_id="AKIA",
            secret_access_key=ARG_SECRET,
            environ={},
            config_path="/nonexistent",
        )
