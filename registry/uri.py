"""Registry URIs: where the versions live.

- ``file:///abs/path`` (or a plain path): the embedded :class:`registry.local.LocalStore`.
- ``lakefs://``: a lakeFS server, configured like lakectl (``LAKECTL_*`` environment, then
  ``~/.lakectl.yaml``); credentials never go into the URI.

Without a URI: ``$CURATE_REGISTRY``, else a local store under the user's data directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from registry.errors import ReferenceError_
from registry.store import Store

__all__ = ["ENV_REGISTRY", "default_registry_uri", "open_store", "redact"]

ENV_REGISTRY = "CURATE_REGISTRY"


def default_registry_uri() -> str:
    """``$CURATE_REGISTRY``, else ``file://<user data dir>/curate/registry``."""
    uri = os.environ.get(ENV_REGISTRY, "").strip()
    if uri:
        return uri
    import platformdirs

    return (Path(platformdirs.user_data_dir("curate")) / "registry").as_uri()


def redact(uri: str) -> str:
    """``uri`` with any ``user:password@`` removed, safe for messages."""
    return re.sub(r"(^[a-zA-Z][\w+.-]*://)[^/@]*@", r"\1***@", uri)


def open_store(uri: str | None = None) -> Store:
    """The store a registry URI names (see the module docstring)."""
    uri = default_registry_uri() if uri is None else uri.strip()
    if "://" not in uri:
        if not uri:
            raise ReferenceError_("empty registry URI")
        from registry.local import LocalStore

        return LocalStore(Path(uri).expanduser().absolute())
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ReferenceError_(
                f"not a local registry URI: {redact(uri)!r} (use file:///absolute/path)"
            )
        from registry.local import LocalStore

        return LocalStore(Path(unquote(parts.path)))
    if scheme == "lakefs":
        if parts.netloc or parts.path.strip("/") or parts.query:
            raise ReferenceError_(
                f"not a lakeFS registry URI: {redact(uri)!r} (use 'lakefs://' and configure "
                "the server like lakectl: LAKECTL_SERVER_ENDPOINT_URL and credentials, "
                "or ~/.lakectl.yaml)"
            )
        from registry.lakefs_store import LakeFSStore

        return LakeFSStore()
    raise ReferenceError_(
        f"unknown registry URI scheme in {redact(uri)!r} (expected file:// or lakefs://)"
    )
