"""A store wrapper that counts what goes into the store: uploads (files and bytes) and imports.

``CountingStore(store)`` behaves as ``store`` (every other call is passed through; it is an
:class:`registry.store.Importer` exactly when ``store`` is one).
"""

from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["CountingStore"]


class CountingStore:
    def __init__(self, store: Any) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.uploaded: list[str] = []  # paths, in call order
        self.uploaded_bytes = 0
        self.imported: list[str] = []
        self.imported_bytes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def __repr__(self) -> str:
        return f"CountingStore({self._store!r})"

    def reset(self) -> None:
        with self._lock:
            self.uploaded, self.uploaded_bytes = [], 0
            self.imported, self.imported_bytes = [], 0

    def upload_object(self, repo: str, branch: str, path: str, *, local_path: str,
                      sha256: str) -> Any:
        info = self._store.upload_object(repo, branch, path, local_path=local_path, sha256=sha256)
        with self._lock:
            self.uploaded.append(path)
            self.uploaded_bytes += os.path.getsize(local_path)
        return info

    def import_objects(self, repo: str, branch: str, objects: list[Any], *, message: str) -> None:
        self._store.import_objects(repo, branch, objects, message=message)
        with self._lock:
            self.imported += [o.path for o in objects]
            self.imported_bytes += sum(o.size_bytes for o in objects)
