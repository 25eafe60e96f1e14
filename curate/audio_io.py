"""Opening an audio input without trusting it: a seekable reader, nothing read yet.

A file that must not be opened (a FIFO would wait for a writer forever, ``/dev/zero`` never
ends), is empty, or is larger than :data:`MAX_AUDIO_BYTES` is rejected before a byte is read;
:class:`GuardedReader` is what the decoder reads through, so a read error is reported as one.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from collections.abc import Iterator
from typing import Any, BinaryIO

from curate.errors import InputRejected, Reason

__all__ = ["MAX_AUDIO_BYTES", "WHOLE_READ_BYTES", "GuardedReader", "open_audio", "read_bytes"]

MAX_AUDIO_BYTES = 4 << 30
"""The largest audio file an input may be (4 GiB, the limit of a WAV file): larger ones are
``AUDIO_TOO_LARGE`` before a byte is read. Reading is lazy (a header, then the wanted range),
so memory never follows the file's size, only the decoded range's."""

WHOLE_READ_BYTES = 32 << 20
"""Files up to this size (32 MiB: minutes of audio) are read in one go into memory, which
libsndfile decodes about 10% faster than from a file; larger ones are read lazily, the header
first and then only the wanted range (a segment of a long recording costs that segment)."""
_READ_BUFFER = 1 << 20


@contextlib.contextmanager
def open_audio(uri: str, *, max_bytes: int = MAX_AUDIO_BYTES) -> Iterator[BinaryIO]:
    """A seekable binary reader of ``uri`` (local or any Beam filesystem), nothing read yet.

    Refused before a byte is read: no such file (``MISSING_AUDIO``); a local path that is not
    a regular file, such as a directory, a FIFO (whose open would wait for a writer forever) or
    a device like ``/dev/zero`` (which never ends), or that cannot be opened
    (``AUDIO_UNREADABLE``); an empty file (``AUDIO_EMPTY``); a file larger than ``max_bytes``
    (``AUDIO_TOO_LARGE``). A file up to :data:`WHOLE_READ_BYTES` is then read whole (the
    reader is in memory), a larger one is left for the decoder to read only the parts it needs.
    """
    from curate.fsio import is_local, local_path

    f = _open_local(uri, local_path(uri)) if is_local(uri) else _open_remote(uri)
    with f:
        size = f.seek(0, io.SEEK_END)
        f.seek(0)
        if size == 0:
            raise InputRejected(Reason.AUDIO_EMPTY, f"{uri}: file is empty (0 bytes)")
        if size > max_bytes:
            raise InputRejected(
                Reason.AUDIO_TOO_LARGE,
                f"{uri}: file is {size} bytes, more than the {max_bytes} bytes an input may have",
            )
        if size > WHOLE_READ_BYTES:
            yield f
            return
        reader = GuardedReader(f)
        data = reader.read()
        reader.raise_error(uri)
        yield io.BytesIO(data)


def _open_local(uri: str, path: str) -> BinaryIO:
    # O_NONBLOCK: opening a FIFO must not wait for a writer (it has no effect on regular files).
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise InputRejected(Reason.MISSING_AUDIO, f"{uri}: no such file") from e
    except (OSError, ValueError) as e:  # ValueError: a NUL character in the path
        reason = e.strerror if isinstance(e, OSError) else str(e)
        raise InputRejected(
            Reason.AUDIO_UNREADABLE, f"{uri}: cannot read: {type(e).__name__}: {reason}"
        ) from e
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            from curate.fsio import file_kind

            raise InputRejected(
                Reason.AUDIO_UNREADABLE, f"{uri}: not a regular file ({file_kind(mode)})"
            )
        return os.fdopen(fd, "rb", buffering=_READ_BUFFER)
    except BaseException:
        os.close(fd)
        raise


def _open_remote(uri: str) -> BinaryIO:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    try:
        return FileSystems.open(uri, compression_type=CompressionTypes.UNCOMPRESSED)
    except Exception as e:  # every filesystem raises its own errors; sort them by existence
        try:
            exists = FileSystems.exists(uri)
        except Exception:
            exists = True
        if not exists:
            raise InputRejected(Reason.MISSING_AUDIO, f"{uri}: no such file") from e
        raise InputRejected(
            Reason.AUDIO_UNREADABLE, f"{uri}: cannot read: {type(e).__name__}: {e}"
        ) from e


def read_bytes(uri: str, *, max_bytes: int = MAX_AUDIO_BYTES) -> bytes:
    """All bytes of ``uri`` (uncompressed), refused as :func:`open_audio` refuses a file."""
    with open_audio(uri, max_bytes=max_bytes) as f:
        reader = GuardedReader(f)
        data = reader.read()
    reader.raise_error(uri)
    return data


class GuardedReader:
    """What libsndfile reads through. An exception inside its read callback would be printed
    and taken for the end of the file (a network failure would pass for truncated audio), so
    the first error is kept here instead and raised by :meth:`raise_error` afterwards."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.error: BaseException | None = None

    def read(self, size: int = -1) -> bytes:
        try:
            return self._f.read(size)
        except Exception as e:
            self.error = self.error or e
            return b""

    def readinto(self, buffer: Any) -> int:
        try:
            return self._f.readinto(buffer)
        except Exception as e:
            self.error = self.error or e
            return 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def raise_error(self, uri: str) -> None:
        if self.error is not None:
            e = self.error
            raise InputRejected(
                Reason.AUDIO_UNREADABLE, f"{uri}: cannot read: {type(e).__name__}: {e}"
            ) from e
