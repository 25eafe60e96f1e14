"""This machine's record of the sha256 of local source files, so that a build on a base
version does not read every source file again to fingerprint it (:mod:`curate.inputs`).

A file's entry is keyed by its identity on this machine (device, inode) and holds what the file
system says of it when it was hashed: size, modification time and status-change time (ctime,
which no user call can set back: any write, rename onto it or ``touch -d`` moves it forward). A
lookup hits only when all of them are unchanged, as git's index trusts a file's stat data.

A file changed within the clock's granularity of being hashed could keep its times ("racy
git"): an entry is only recorded for a file whose times are :data:`SETTLED_S` older than the
hashing, and only when the file's stat did not change while it was read. Any failure of the
record (read-only directory, a locked or damaged database) only means the file is hashed.

Where: ``$CURATE_FINGERPRINT_CACHE`` (a file path; ``off`` disables it), else
``source-fingerprints.sqlite3`` in the user's cache directory.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time

__all__ = ["ENV_FINGERPRINT_CACHE", "SETTLED_S", "StatCache", "default_path"]

log = logging.getLogger(__name__)

ENV_FINGERPRINT_CACHE = "CURATE_FINGERPRINT_CACHE"
SETTLED_S = 2.0  # a file's times must be this much older than its hashing to be recorded
_SCHEMA = ("CREATE TABLE IF NOT EXISTS files (dev INTEGER NOT NULL, ino INTEGER NOT NULL, "
           "size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, "
           "sha256 TEXT NOT NULL, PRIMARY KEY (dev, ino))")


def default_path() -> str | None:
    """The record's file, or None when ``$CURATE_FINGERPRINT_CACHE`` is ``off``."""
    env = os.environ.get(ENV_FINGERPRINT_CACHE, "").strip()
    if env.lower() == "off":
        return None
    if env:
        return os.path.expanduser(env)
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("curate"), "source-fingerprints.sqlite3")


def _stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class StatCache:
    """One process's connection to the record (opened on first use; not picklable: make one in
    a DoFn's ``setup``)."""

    def __init__(self, path: str | None = None) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._broken = path is None

    def _conn(self) -> sqlite3.Connection | None:
        if self._db is None and not self._broken:
            try:
                assert self._path is not None
                os.makedirs(os.path.dirname(os.path.abspath(self._path)), exist_ok=True)
                db = sqlite3.connect(self._path, timeout=5.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=OFF")  # a lost entry only means a re-hash
                db.execute(_SCHEMA)
                self._db = db
            except (OSError, sqlite3.Error) as e:
                self._fail(e)
        return self._db

    def _fail(self, e: Exception) -> None:
        log.warning("source fingerprint record %s unusable (%s): hashing every file",
                    self._path, e)
        self._broken, self._db = True, None

    def get(self, st: os.stat_result) -> str | None:
        """The recorded sha256 (hex) of the regular file whose stat is ``st``, if unchanged."""
        db = self._conn()
        if db is None or not stat.S_ISREG(st.st_mode):
            return None
        dev, ino, size, mtime_ns, ctime_ns = _stat_key(st)
        try:
            row = db.execute("SELECT size, mtime_ns, ctime_ns, sha256 FROM files "
                             "WHERE dev = ? AND ino = ?", (dev, ino)).fetchone()
        except sqlite3.Error as e:
            self._fail(e)
            return None
        if row is None or tuple(row[:3]) != (size, mtime_ns, ctime_ns):
            return None
        return str(row[3])

    def put(self, before: os.stat_result, after: os.stat_result, sha256: str) -> None:
        """Record ``sha256`` for the file whose stat was ``before`` its bytes were read and
        ``after``: only when both agree and the file had settled (module docstring)."""
        if _stat_key(before) != _stat_key(after) or not stat.S_ISREG(before.st_mode):
            return
        if max(before.st_mtime_ns, before.st_ctime_ns) > time.time_ns() - SETTLED_S * 1e9:
            return
        db = self._conn()
        if db is None:
            return
        try:
            db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                       (*_stat_key(before), sha256))
        except sqlite3.Error as e:
            self._fail(e)
