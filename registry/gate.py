"""What the validation gate asks of the registry, on the gate's terms.

:mod:`curate.validation` names what it needs as two small Protocols and never imports the
registry; this module implements them over a registry and a store:

* :class:`RegistryBaselines` is a :class:`curate.validation.validate.BaselineSource`: the
  registered versions that drift compares a build with (``--against NAME@V``, ``NAME@latest``);
* :class:`StoreBuildFiles` is a :class:`curate.validation.hook.BuildFiles`: the files of the
  build at a ref of a repository, for the lakeFS pre-merge hook.

Registry errors become the gate's own here, in one place (:func:`gate_errors`): an unknown
dataset or version is a :class:`~curate.validation.errors.BuildReadError` (exit 2), an
unreachable store an :class:`~curate.validation.errors.InfrastructureError` (exit 3).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from curate.validation.errors import BuildReadError, InfrastructureError
from curate.validation.validate import Baseline
from registry.api import Registry
from registry.errors import NotFoundError, ReferenceError_, RegistryError
from registry.store import Store
from registry.uri import open_store

__all__ = ["RegistryBaselines", "StoreBuildFiles", "gate_errors"]


@contextlib.contextmanager
def gate_errors(what: str) -> Iterator[None]:
    """Registry failures inside the block as the gate's errors naming ``what``."""
    try:
        yield
    except (NotFoundError, ReferenceError_) as e:
        raise BuildReadError(f"{what}: {e}") from e
    except RegistryError as e:  # unreachable store, corrupted download, conflicts
        raise InfrastructureError(f"{what}: {e}") from e
    except OSError as e:
        raise InfrastructureError(f"{what}: {e}") from e


class RegistryBaselines:
    """Registered versions as drift baselines (``registry``: a registry URI, default the
    user's; see :func:`registry.uri.open_store`). The store is opened on first use."""

    def __init__(self, registry: str | None = None) -> None:
        self._uri = registry
        self._registry: Registry | None = None

    def _open(self, what: str) -> Registry:
        if self._registry is None:
            with gate_errors(what):
                self._registry = Registry(self._uri)
        return self._registry

    def version(self, ref: str) -> Baseline:
        """The version ``NAME@VERSION``, its ``dataset_info.json`` fetched already (an
        unreachable store fails here, not halfway through a validation)."""
        what = f"--against {ref}"
        registry = self._open(what)
        with gate_errors(what):
            version = registry.open(ref)
            _ = version.info
        return Baseline(label=version.ref, build=version)

    def latest(self, dataset: str) -> Baseline | None:
        """``NAME@latest``; None when the dataset does not exist or has no version yet."""
        what = f"dataset {dataset!r}"
        registry = self._open(what)
        with gate_errors(what):
            try:
                latest = registry.latest(dataset)
            except NotFoundError:
                return None
            if latest is None:
                return None
            opened = registry.open(latest)
            _ = opened.info
        return Baseline(label=latest.ref, build=opened)


class StoreBuildFiles:
    """The files of builds on the branches, tags and commits of a store's repositories."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    def open(cls, registry: str | None) -> StoreBuildFiles:
        """Over the store of the registry URI ``registry`` (lakeFS: ``lakefs://``)."""
        with gate_errors(f"registry {registry or '(default)'}"):
            return cls(open_store(registry))

    def download(self, repo: str, ref: str, path: str, dest: str) -> bool:
        """Copy ``path`` at ``ref`` of ``repo`` to the local file ``dest``; False when the
        repository, the ref or the file does not exist."""
        with gate_errors(f"{repo}@{ref}"):
            try:
                self._store.download_object(repo, ref, path, dest_path=dest)
            except NotFoundError:
                return False
        return True
