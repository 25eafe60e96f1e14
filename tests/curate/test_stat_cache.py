"""The machine's record of source files' sha256 (curate/stat_cache.py): a file whose stat data
is unchanged is not read again; one changed in any way (even with its size and mtime put
back) is hashed again; a file changed just now is not recorded; a broken record only costs a
re-hash."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from curate import inputs, stat_cache
from curate.inputs import SourceFingerprints
from curate.stat_cache import StatCache


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled at once (else a test would wait SETTLED_S after writing)."""
    monkeypatch.setattr(stat_cache, "SETTLED_S", -1.0)


def _unread(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("the file was read")

    monkeypatch.setattr("curate.audio_io.open_audio", refuse)


def test_an_unchanged_file_is_not_read_again(tmp_path: Path, settled: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF one")
    record = str(tmp_path / "record.sqlite3")
    assert SourceFingerprints(record=StatCache(record)).of(str(audio)) == _sha(b"RIFF one")
    _unread(monkeypatch)  # another worker, another process: the record answers
    assert SourceFingerprints(record=StatCache(record)).of(str(audio)) == _sha(b"RIFF one")


def test_a_file_changed_under_its_old_size_and_mtime_is_hashed_again(
        tmp_path: Path, settled: None) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF one")
    record = str(tmp_path / "record.sqlite3")
    assert SourceFingerprints(record=StatCache(record)).of(str(audio)) == _sha(b"RIFF one")
    st = audio.stat()
    with open(audio, "r+b") as f:  # same size, in place, then its times put back
        f.write(b"RIFF two")
    os.utime(audio, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert audio.stat().st_size == st.st_size and audio.stat().st_mtime_ns == st.st_mtime_ns
    assert SourceFingerprints(record=StatCache(record)).of(str(audio)) == _sha(b"RIFF two")
    os.replace(tmp_path / "a.wav", tmp_path / "b.wav")  # renamed: same inode, still known
    (tmp_path / "a.wav").write_bytes(b"RIFF one")  # a new file under the old name
    assert SourceFingerprints(record=StatCache(record)).of(str(audio)) == _sha(b"RIFF one")


def test_a_file_changed_just_now_is_not_recorded(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF new")
    record = StatCache(str(tmp_path / "record.sqlite3"))
    assert SourceFingerprints(record=record).of(str(audio)) == _sha(b"RIFF new")
    assert record.get(audio.stat()) is None  # written within SETTLED_S: hashed next time too


def test_a_broken_or_disabled_record_only_means_hashing(tmp_path: Path, settled: None,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"RIFF x")
    (tmp_path / "dir.sqlite3").mkdir()  # not a database
    (tmp_path / "junk.sqlite3").write_bytes(b"not sqlite at all" * 100)
    for path in (str(tmp_path / "dir.sqlite3"), str(tmp_path / "junk.sqlite3")):
        record = StatCache(path)
        for _ in range(2):
            assert SourceFingerprints(record=record).of(str(audio)) == _sha(b"RIFF x")
    monkeypatch.setenv(stat_cache.ENV_FINGERPRINT_CACHE, "off")
    assert stat_cache.default_path() is None
    assert SourceFingerprints().of(str(audio)) == _sha(b"RIFF x")
    monkeypatch.setenv(stat_cache.ENV_FINGERPRINT_CACHE, str(tmp_path / "env.sqlite3"))
    assert stat_cache.default_path() == str(tmp_path / "env.sqlite3")
    assert SourceFingerprints().of(str(audio)) == _sha(b"RIFF x")
    assert (tmp_path / "env.sqlite3").is_file()


def test_what_open_audio_refuses_is_still_refused(tmp_path: Path, settled: None) -> None:
    record = StatCache(str(tmp_path / "record.sqlite3"))
    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    with pytest.raises(Exception, match="not a regular file|FIFO|fifo"):
        SourceFingerprints(record=record).of(str(fifo))
    with pytest.raises(Exception, match="no such file"):
        SourceFingerprints(record=record).of(str(tmp_path / "missing.wav"))
    assert inputs.SourceFingerprints is SourceFingerprints
