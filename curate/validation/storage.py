"""The files of a build directory that may be in a bucket (``s3://bucket/builds/b1``).

What validation reads from a build and writes into it goes through here: local paths straight to
the OS as before, URIs through Beam's filesystems (:mod:`curate.fsio`).
This is also the one place where a bucket's failures become this package's errors: a bucket
that refuses access, cannot be reached or has no credentials to be reached with is an
:class:`~curate.validation.errors.InfrastructureError` naming the path, the original kept as
``__cause__``; a file that is not there is for the caller to judge.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from curate.fsio import (  # join: re-exported, validation's modules call storage.join
    bucket_errors,
    delete_file,
    is_local,
    join,
    local_path,
    open_read,
    replace_tree,
    require_credentials,
    write_bytes,
)
from curate.validation.errors import InfrastructureError

__all__ = ["delete", "join", "read_bytes", "store_errors", "upload_dir", "write"]


# What a bucket's failures arrive as: Beam's own error, its S3 client's (a refusal, with the HTTP
# status), both from bucket_errors(), and OSError (no credentials:
# curate.fsio.require_credentials; Beam's reads).


def _reason(e: BaseException) -> str:
    """The innermost message of a Beam error (``BeamIOError`` nests its causes by path)."""
    details = getattr(e, "exception_details", None)
    if isinstance(details, dict) and details:
        return _reason(next(iter(details.values())))
    message = getattr(e, "message", None)  # S3ClientError: (message, HTTP status)
    return str(message if isinstance(message, str) else e)


@contextlib.contextmanager
def store_errors(path: str) -> Iterator[None]:
    """A bucket's failures inside the block as InfrastructureError naming ``path``; local
    paths and ``FileNotFoundError`` pass through untouched."""
    if is_local(path):
        yield
        return
    try:
        yield
    except FileNotFoundError:
        raise
    except (OSError, *bucket_errors()) as e:
        raise InfrastructureError(f"{path}: cannot be accessed ({_reason(e)})") from e


def read_bytes(path: str) -> bytes | None:
    """The contents of a file, or None if there is no such file (a bucket that fails:
    InfrastructureError)."""
    if is_local(path):
        if not os.path.isfile(local_path(path)):
            return None
        with open(local_path(path), "rb") as f:
            return f.read()
    with store_errors(path):
        require_credentials(path)
        try:
            with open_read(path) as f:
                return f.read()
        except FileNotFoundError:
            return None


def write(path: str, data: bytes) -> None:
    """Write a small file atomically (a temporary name, then renamed into place)."""
    with store_errors(path):
        require_credentials(path)
        write_bytes(path, data)


def delete(path: str) -> None:
    """Delete a file; a missing one is not an error."""
    with store_errors(path):
        require_credentials(path)
        delete_file(path)


def upload_dir(local_dir: str, dest: str) -> None:
    """Make ``dest`` (a URI) hold exactly the files of the local directory ``local_dir``."""
    with store_errors(dest):
        require_credentials(dest)
        replace_tree(local_dir, dest)
