"""Every error from the ``lakefs`` SDK, translated into ``registry.errors`` in one place.

The lakeFS store wraps each call in :func:`lakefs_errors`; callers only ever see the registry's
own exceptions, with the SDK's exception kept as ``__cause__``. Messages say what was being done
and what the server said, and never carry credentials (the secrets handed in are masked).

Status codes follow lakeFS's OpenAPI spec (``api/swagger.yml``) and its controller's error
mapping (``pkg/api/controller.go``: ``handleApiErrorCallback``).
"""

from __future__ import annotations

import http
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import lakefs.exceptions
import lakefs_sdk.exceptions
import pydantic.v1
import urllib3.exceptions

from registry.errors import (
    ConflictError,
    HookFailedError,
    NotFoundError,
    RegistryError,
    StoreUnavailableError,
)

__all__ = ["lakefs_errors", "translate"]

_BY_STATUS: dict[int, type[RegistryError]] = {
    400: RegistryError,  # validation error: bad name, bad ref, bad storage namespace
    401: StoreUnavailableError,  # credentials refused
    403: StoreUnavailableError,  # not permitted (also: protected or default branch)
    404: NotFoundError,
    409: ConflictError,  # exists already, or a merge conflict
    412: HookFailedError,  # a pre-merge / pre-commit hook refused
    429: StoreUnavailableError,
}
_SERVER_ERROR = StoreUnavailableError  # any 5xx

# Refinements by the server's message, checked first.
_BY_STATUS_AND_MESSAGE: tuple[tuple[int, str, type[RegistryError]], ...] = (
    (400, "no changes", ConflictError),  # commit or merge with nothing to do
    (400, "dirty branch", ConflictError),  # merge into a branch with uncommitted changes
    (403, "default branch", RegistryError),  # a refused operation, not a credentials problem
    # An action file of the repository that lakeFS cannot parse aborts every commit and merge
    # with 500 ("pre-merge hook aborted, …: invalid action"): the repository's, not the server's
    (500, "hook aborted", HookFailedError),
)

# Raised without any HTTP status: the server could not be reached or spoke garbage.
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.HTTPError,  # MaxRetryError, NewConnectionError, ProtocolError, timeouts
    lakefs.exceptions.NoAuthenticationFound,
)
# Raised by the SDK before sending anything: an argument its (pydantic v1) models refuse.
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (
    lakefs_sdk.exceptions.OpenApiException,
    pydantic.v1.ValidationError,
)

_TRANSLATABLE: tuple[type[BaseException], ...] = (
    lakefs.exceptions.LakeFSException,
    *_TRANSPORT_ERRORS,
    *_CLIENT_ERRORS,
)


def translate(
    exc: BaseException, action: str, *, server: str = "", secrets: Iterable[str] = ()
) -> RegistryError:
    """The registry error for ``exc``, raised while doing ``action`` (e.g. "merge 'a' into 'main'")
    against the lakeFS at ``server``; every string in ``secrets`` is masked in the message."""
    status, detail = _status_and_detail(exc)
    if status is None:
        if _is_transport_error(exc):
            error_type: type[RegistryError] = StoreUnavailableError
            where = f" at {server}" if server else ""
            detail = f"cannot reach the lakeFS server{where} ({type(exc).__name__})"
        elif isinstance(exc, _CLIENT_ERRORS):
            error_type = RegistryError
            detail = f"invalid argument ({detail or type(exc).__name__})"
        else:  # another SDK-side failure (e.g. a transaction): name it
            error_type = RegistryError
            detail = f"lakeFS SDK error ({type(exc).__name__}: {exc})"
        message = f"{action}: {detail}"
    else:
        error_type = _error_type(status, detail)
        message = f"{action}: {detail} (lakeFS HTTP {status})"
    return error_type(_mask(message, secrets))


@contextmanager
def lakefs_errors(action: str, *, server: str = "", secrets: Iterable[str] = ()) -> Iterator[None]:
    """Run the body, translating SDK errors: ``with lakefs_errors("create tag 'v1'"): ...``."""
    try:
        yield
    except _TRANSLATABLE as exc:
        raise translate(exc, action, server=server, secrets=secrets) from exc


def _error_type(status: int, detail: str) -> type[RegistryError]:
    for rule_status, fragment, error_type in _BY_STATUS_AND_MESSAGE:
        if status == rule_status and fragment in detail:
            return error_type
    if status >= 500:
        return _SERVER_ERROR
    return _BY_STATUS.get(status, RegistryError)


def _is_transport_error(exc: BaseException) -> bool:
    # The generated client wraps SSL failures in an ApiException with status 0.
    wrapped = isinstance(exc, lakefs_sdk.exceptions.ApiException) and not exc.status
    return wrapped or isinstance(exc, _TRANSPORT_ERRORS)


def _status_and_detail(exc: BaseException) -> tuple[int | None, str]:
    """(HTTP status or None, the server's message or the status phrase)."""
    if isinstance(exc, lakefs.exceptions.ServerException):  # high-level SDK
        status, body = exc.status_code, exc.body
    elif isinstance(exc, lakefs_sdk.exceptions.ApiException):  # generated client
        status, body = exc.status, _json_or_empty(exc.body)
        if not status:
            return None, ""
    elif isinstance(exc, pydantic.v1.ValidationError):
        return None, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    else:
        return None, ""
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str) and message.strip():
        return status, message.strip()
    try:
        return status, http.HTTPStatus(status).phrase.lower()
    except ValueError:
        return status, "error"


def _json_or_empty(body: object) -> object:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body:
        return {}
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return {}


def _mask(message: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message
