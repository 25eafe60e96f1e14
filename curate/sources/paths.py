"""Path arithmetic that works the same for local paths and filesystem URIs (``gs://``, ``s3://``).

String functions, except :func:`resolves_within`. Local paths (what
:func:`curate.fsio.is_local` says is local: a ``file://`` URI is its plain path) use
:mod:`os.path`; URIs use POSIX rules on the part after ``scheme://``. :func:`is_within` is
lexical (it does not follow symlinks): it catches ``..`` escapes and absolute paths pointing
elsewhere; :func:`resolves_within` also follows a local path's symlinks (buckets have none).

>>> join("gs://bucket/corpus", "clips/a.mp3")
'gs://bucket/corpus/clips/a.mp3'
>>> normalise("gs://bucket/corpus/clips/../../x.wav")
'gs://bucket/x.wav'
>>> is_within("gs://bucket/corpus", "gs://bucket/corpus/../secret.wav")
False
>>> stem("gs://bucket/corpus/1-2-0003.flac")
'1-2-0003'
>>> normalise("file:///corpus/clips/../x.wav")
'/corpus/x.wav'
"""

from __future__ import annotations

import functools
import os
import posixpath

from curate.fsio import is_local, local_path

__all__ = [
    "basename",
    "dirname",
    "is_within",
    "join",
    "normalise",
    "relative_parts",
    "resolves_within",
    "stem",
]


def _split(path: str) -> tuple[str, str]:
    """``("gs://", "bucket/a")`` for a URI, ``("", path)`` for a local path."""
    if is_local(path):
        return "", local_path(path)
    scheme, _, rest = path.partition("://")
    return scheme + "://", rest


def _is_absolute(part: str) -> bool:
    return not is_local(part) or os.path.isabs(local_path(part))


def join(base: str, *parts: str) -> str:
    """Join like :func:`os.path.join`: an absolute part (a URI or ``/...``) replaces the base."""
    path = local_path(base)
    for part in parts:
        if _is_absolute(part):
            path = local_path(part)  # a file:// URI is its plain path
            continue
        scheme, rest = _split(path)
        path = scheme + posixpath.join(rest, part) if scheme else os.path.join(rest, part)
    return path


def normalise(path: str) -> str:
    """Collapse ``.``, ``..`` and doubled separators; local paths are made absolute."""
    scheme, rest = _split(path)
    if not scheme:
        return os.path.abspath(rest)
    return scheme + posixpath.normpath(rest) if rest else scheme


def is_within(root: str, path: str) -> bool:
    """True if ``path`` is ``root`` or below it, after normalising both (same scheme only)."""
    root_scheme, root_rest = _split(normalise(root))
    path_scheme, path_rest = _split(normalise(path))
    if root_scheme != path_scheme:
        return False
    if root_rest == path_rest:
        return True
    sep = "/" if root_scheme else os.sep
    prefix = root_rest if root_rest.endswith(sep) else root_rest + sep
    return path_rest.startswith(prefix)


def resolves_within(root: str, path: str) -> bool:
    """:func:`is_within`, and for a local path also after following every symlink of both
    (a link inside the corpus to a file elsewhere is outside it). A missing file is judged by
    its name; the root's own links are followed too, so a corpus reached through one is fine."""
    if not is_within(root, path):
        return False
    if not is_local(path):
        return True
    try:
        return is_within(_real(normalise(root)), os.path.realpath(normalise(path)))
    except (OSError, ValueError):  # a NUL character, a loop of links: no file can be read there
        return False


@functools.lru_cache(maxsize=256)
def _real(root: str) -> str:
    return os.path.realpath(root)


def dirname(path: str) -> str:
    scheme, rest = _split(path)
    return scheme + posixpath.dirname(rest) if scheme else os.path.dirname(rest)


def basename(path: str) -> str:
    scheme, rest = _split(path)
    return posixpath.basename(rest) if scheme else os.path.basename(rest)


def stem(path: str) -> str:
    """The file name without its last extension: ``a/b/x.y.flac`` -> ``x.y``."""
    return os.path.splitext(basename(path))[0]


def relative_parts(root: str, path: str) -> list[str]:
    """The components of ``path`` below ``root`` (``[]`` if it is not below it)."""
    if not is_within(root, path):
        return []
    root_scheme, root_rest = _split(normalise(root))
    _, path_rest = _split(normalise(path))
    sep = "/" if root_scheme else os.sep
    tail = path_rest[len(root_rest) :].lstrip(sep)
    return [p for p in tail.split(sep) if p]
