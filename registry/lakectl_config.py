"""Where the lakeFS store finds its server and credentials, the way ``lakectl`` does.

One function, :func:`resolve_lakectl_config`, decides, field by field:

1. explicit arguments (``endpoint_url=``, ``access_key_id=``, ``secret_access_key=``);
2. the environment: ``LAKECTL_SERVER_ENDPOINT_URL``, ``LAKECTL_CREDENTIALS_ACCESS_KEY_ID``,
   ``LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY``;
3. the lakectl file, ``~/.lakectl.yaml`` (or ``$LAKECTL_CONFIG_FILE``, as the ``lakefs`` SDK
   honours): ``server.endpoint_url``, ``credentials.access_key_id``,
   ``credentials.secret_access_key``.

The secret never appears in ``repr``/``str`` of the result nor in any error raised here.

>>> cfg = resolve_lakectl_config(endpoint_url="http://127.0.0.1:8000", access_key_id="AKIA",
...                              secret_access_key="s3cr3t", environ={}, config_path="/nonexistent")
>>> cfg
LakectlConfig(endpoint_url='http://127.0.0.1:8000', access_key_id='AKIA', secret_access_key='***')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from registry.errors import RegistryError, StoreUnavailableError

__all__ = [
    "ACCESS_KEY_ID_ENV",
    "CONFIG_FILE_ENV",
    "ENDPOINT_URL_ENV",
    "SECRET_ACCESS_KEY_ENV",
    "LakectlConfig",
    "resolve_lakectl_config",
]

ENDPOINT_URL_ENV = "LAKECTL_SERVER_ENDPOINT_URL"
ACCESS_KEY_ID_ENV = "LAKECTL_CREDENTIALS_ACCESS_KEY_ID"
SECRET_ACCESS_KEY_ENV = "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY"
CONFIG_FILE_ENV = "LAKECTL_CONFIG_FILE"
DEFAULT_CONFIG_FILE = "~/.lakectl.yaml"

# (field, environment variable, path in the lakectl file)
_FIELDS: tuple[tuple[str, str, tuple[str, str]], ...] = (
    ("endpoint_url", ENDPOINT_URL_ENV, ("server", "endpoint_url")),
    ("access_key_id", ACCESS_KEY_ID_ENV, ("credentials", "access_key_id")),
    ("secret_access_key", SECRET_ACCESS_KEY_ENV, ("credentials", "secret_access_key")),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class LakectlConfig:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"LakectlConfig(endpoint_url={self.endpoint_url!r}, "
            f"access_key_id={self.access_key_id!r}, secret_access_key='***')"
        )

    __str__ = __repr__


def resolve_lakectl_config(
    *,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
) -> LakectlConfig:
    """Resolve each setting from the arguments, then the environment, then the lakectl file.

    ``environ`` defaults to ``os.environ``; ``config_path`` to ``$LAKECTL_CONFIG_FILE`` or
    ``~/.lakectl.yaml``. The file is read only if some setting is still missing.
    Raises StoreUnavailableError naming the three places when a setting is found nowhere.
    """
    env = os.environ if environ is None else environ
    path = Path(config_path or env.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE).expanduser()
    explicit = {
        "endpoint_url": endpoint_url,
        "access_key_id": access_key_id,
        "secret_access_key": secret_access_key,
    }
    resolved: dict[str, str] = {}
    file_data: Mapping[str, object] | None = None
    for name, env_var, (section, key) in _FIELDS:
        value = explicit[name] or env.get(env_var) or None
        if value is None:
            if file_data is None:
                file_data = _read_lakectl_file(path)
            section_data = file_data.get(section)
            if isinstance(section_data, Mapping) and section_data.get(key):
                value = str(section_data[key])
        if value is None:
            raise StoreUnavailableError(
                f"no lakeFS {name.replace('_', ' ')} configured: pass {name}=..., "
                f"set {env_var}, or set {section}.{key} in {path}"
            )
        resolved[name] = value
    _check_endpoint(resolved["endpoint_url"])
    return LakectlConfig(**resolved)


def _read_lakectl_file(path: Path) -> Mapping[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise RegistryError(f"cannot read lakectl configuration {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        # The YAML error quotes the offending line, which may hold the secret: keep it out.
        raise RegistryError(f"lakectl configuration {path} is not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RegistryError(f"lakectl configuration {path} is not a YAML mapping")
    return data


def _check_endpoint(url: str) -> None:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.username is not None or parts.password is not None:
        # Never echo the URL: it holds credentials.
        raise RegistryError(
            "the lakeFS endpoint URL must not embed credentials (user:password@host); "
            f"use {ACCESS_KEY_ID_ENV} and {SECRET_ACCESS_KEY_ENV} instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistryError(
            f"not a valid lakeFS endpoint URL: {url!r} (expected http(s)://host:port)"
        )
