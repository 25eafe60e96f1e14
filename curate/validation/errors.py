"""Errors of the validation gate, with the exit codes ``curate validate`` / ``curate gate`` use.

A build that fails its suite or drifts too far is not an error: it is a result with
``success: false`` (exit 1). Errors are what stops a validation from producing a verdict.
"""

from __future__ import annotations

from curate.errors import CurateError, UsageError

__all__ = ["BuildReadError", "InfrastructureError", "SuiteError", "ValidationGateError"]


class ValidationGateError(CurateError):
    """Base class of the errors this package raises on purpose."""


class SuiteError(ValidationGateError, UsageError):
    """A suite that cannot be loaded or does not fit the tables: names the file and the part."""


class BuildReadError(ValidationGateError, UsageError):
    """A build directory (or registry version) that cannot be read as a build."""


class InfrastructureError(ValidationGateError):
    """Something the gate depends on is unreachable (the registry, its store): exit 3."""

    exit_code = 3
