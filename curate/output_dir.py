"""A build's output directory: where it may be, and what may be deleted from it.

:func:`prepare_output` runs before a build and refuses, with one line each:

- an output that is, contains or lies inside a source (a corpus root, a manifest's audio root,
  a Kaldi data dir), or that is or contains the config file's directory: clearing it would
  delete the corpus or the config, and a build inside a corpus would be read as part of it;
- a local output that is a regular file, a symlink, or lies under a regular file;
- an output holding any file a build does not write (:func:`curate.layout.is_build_file`):
  those are a user's, and nothing here deletes them, with or without ``--overwrite``;
- a finished build (a ``dataset_info.json``) unless ``overwrite``.

What it deletes is only what a build wrote: the files :func:`~curate.layout.is_build_file`
names (a finished build, with ``overwrite``; an unfinished one, always: it is the leftover of a
build that died) and the directories they leave empty.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from curate import fsio
from curate.config import SourceConfig, SourceKind
from curate.errors import UsageError
from curate.layout import INFO_FILE, is_build_file
from curate.sources.paths import is_within, normalise

__all__ = ["check_output_place", "prepare_output"]

_FILE_SOURCES = frozenset({SourceKind.JSONL, SourceKind.TSV})  # their path names a file


def _source_places(sources: Sequence[SourceConfig]) -> list[tuple[str, str]]:
    """(what, path) of every place a source reads: its directory (a manifest's directory, the
    default root of its audio) and its audio root."""
    places = []
    for i, src in enumerate(sources):
        path = os.path.dirname(src.path) if src.kind in _FILE_SOURCES else src.path
        places.append((f"sources[{i}].path", path))
        if src.audio_root:
            places.append((f"sources[{i}].audio_root", src.audio_root))
    return places


def check_output_place(output_dir: str, *, sources: Sequence[SourceConfig] = (),
                       config_path: str | None = None) -> None:
    """UsageError if ``output_dir`` overlaps a source or holds the config (see the module doc)."""
    out = normalise(output_dir)
    for what, place in _source_places(sources):
        place = normalise(place)
        if is_within(place, out) or is_within(out, place):
            relation = ("is" if out == place else "lies inside" if is_within(place, out)
                        else "contains")
            raise UsageError(f"{output_dir}: the output {relation} {what} ({place}); building "
                             "there would overwrite the sources: choose another --output")
    if config_path is not None and fsio.is_local(config_path):
        config_dir = os.path.dirname(normalise(config_path))
        if is_within(out, config_dir):
            relation = "is" if out == config_dir else "contains"
            raise UsageError(f"{output_dir}: the output {relation} the directory of the config "
                             f"{config_path}: choose another --output")
    if fsio.is_local(out):
        _check_local_place(output_dir, fsio.local_path(out))


def _check_local_place(given: str, path: str) -> None:
    if os.path.islink(path):
        raise UsageError(f"{given}: the output is a symlink (to {os.path.realpath(path)}); "
                         "give the directory itself")
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{given}: the output is a file, not a directory")
    parent = os.path.dirname(path)
    while parent and parent != os.path.dirname(parent):
        if os.path.exists(parent) and not os.path.isdir(parent):
            raise UsageError(f"{given}: the output lies under {parent}, which is a file")
        parent = os.path.dirname(parent)


def prepare_output(output_dir: str, *, overwrite: bool = False,
                   sources: Sequence[SourceConfig] = (), config_path: str | None = None) -> None:
    """Check the output's place, then clear what earlier builds left in it (see the module doc)."""
    check_output_place(output_dir, sources=sources, config_path=config_path)
    root = output_dir.rstrip("/")
    files = fsio.list_files(root) if fsio.exists(root) or not fsio.is_local(root) else []
    if not files:
        return
    base = fsio.local_path(root) if fsio.is_local(root) else root
    sep = os.sep if fsio.is_local(root) else "/"
    relative = {path: path[len(base):].lstrip(sep).replace(os.sep, "/") for path in files}
    foreign = sorted(rel for rel in relative.values() if not is_build_file(rel))
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        shown = ", ".join(foreign[:3]) + more
        raise UsageError(f"{output_dir}: holds files no build writes ({shown}); they are not "
                         "deleted: choose an empty or new --output")
    if INFO_FILE in relative.values() and not overwrite:
        raise UsageError(f"{output_dir}: already holds a build (use --overwrite to replace it)")
    for path in files:  # a finished build (overwrite) or the leftovers of one that died
        fsio.delete_file(path)
    if fsio.is_local(root):
        _remove_empty_dirs(base)


def _remove_empty_dirs(base: str) -> None:
    for dirpath, _, _ in sorted(os.walk(base), key=lambda w: -len(w[0])):
        if dirpath != base:
            try:
                os.rmdir(dirpath)
            except OSError:  # not empty: something else is there
                pass
