"""The registry's own errors. Store implementations translate everything into these."""

from __future__ import annotations

from curate import errors as curate_errors

__all__ = [
    "ConflictError",
    "HookFailedError",
    "IntegrityError",
    "MissingDependencyError",
    "NotFoundError",
    "ReferenceError_",
    "RegistryError",
    "StoreUnavailableError",
]


class RegistryError(Exception):
    """Base class; ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class NotFoundError(RegistryError):
    """A repository, branch, tag, commit or object that does not exist."""

    exit_code = 2


class ConflictError(RegistryError):
    """Something already exists, or a concurrent update won (lakeFS 409)."""


class HookFailedError(RegistryError):
    """A pre-merge / pre-commit hook refused the operation (lakeFS 412), or an action file of
    the repository is invalid (lakeFS 500, "hook aborted")."""


class IntegrityError(RegistryError):
    """Data does not match its recorded checksum (tampered build, corrupted object)."""


class MissingDependencyError(RegistryError, curate_errors.MissingDependencyError):
    """An optional library a call needs (one of the extras, :mod:`curate.extras`) is not
    installed. Also a :class:`curate.errors.MissingDependencyError`, as the library raises."""

    exit_code = 2


class ReferenceError_(RegistryError):
    """A malformed dataset reference such as ``'x@'`` or ``'@v1'``."""

    exit_code = 2


class StoreUnavailableError(RegistryError):
    """The store cannot be reached or refused our credentials."""

    exit_code = 3
