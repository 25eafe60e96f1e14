"""Tests for curate.inputs: a source file's fingerprint, and the bytes read to take it handed on
to the decoder (the file is read once)."""

from __future__ import annotations

import hashlib
import io
import os

import numpy as np
import soundfile as sf

from curate import audio_io
from curate.config import AudioConfig, FilterConfig
from curate.errors import InputRejected, Reason
from curate.inputs import SourceFingerprints
from curate.process import process_utterance
from curate.records import Utterance
from curate.stat_cache import StatCache


def _wav(path, seconds: float = 1.0) -> bytes:
    rng = np.random.default_rng(3)
    buf = io.BytesIO()
    sf.write(buf, (0.2 * rng.standard_normal(round(16000 * seconds))).astype(np.float32),
             16000, format="WAV", subtype="PCM_16")
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _fingerprints() -> SourceFingerprints:
    return SourceFingerprints(record=StatCache(None))  # no machine-wide record: every file read


def _utt(path, **kw) -> Utterance:
    return Utterance(key=path.stem, audio_uri=str(path), text="hello there", speaker="s",
                     source_uri="m.jsonl", **kw)


def test_read_fingerprints_and_hands_on_the_bytes_it_read(tmp_path):
    data = _wav(tmp_path / "a.wav")
    utt, got = _fingerprints().read(_utt(tmp_path / "a.wav"))
    assert got == data
    assert utt.source_fingerprint == "sha256:" + hashlib.sha256(data).hexdigest()
    assert utt.source_fingerprint == _fingerprints().of(str(tmp_path / "a.wav"))


def test_processing_the_bytes_read_gives_what_reading_the_file_gives(tmp_path):
    _wav(tmp_path / "a.wav", seconds=2.0)
    fingerprints = _fingerprints()
    utt, data = fingerprints.read(_utt(tmp_path / "a.wav"))
    assert data is not None
    cfg, filters = AudioConfig(), FilterConfig()
    assert (process_utterance(utt, cfg, filters, data=data)
            == process_utterance(utt, cfg, filters))


def test_a_file_too_large_to_read_whole_is_hashed_not_kept(tmp_path, monkeypatch):
    data = _wav(tmp_path / "a.wav")
    monkeypatch.setattr(audio_io, "WHOLE_READ_BYTES", 100)
    utt, got = _fingerprints().read(_utt(tmp_path / "a.wav"))
    assert got is None
    assert utt.source_fingerprint == "sha256:" + hashlib.sha256(data).hexdigest()


def test_a_fingerprint_taken_before_reads_nothing(tmp_path):
    _wav(tmp_path / "a.wav")
    fingerprints = _fingerprints()
    given = _utt(tmp_path / "a.wav", source_fingerprint="sha256:given")
    assert fingerprints.read(given) == (given, None)
    first, data = fingerprints.read(_utt(tmp_path / "a.wav"))
    assert data is not None
    again, none = fingerprints.read(_utt(tmp_path / "a.wav"))  # a second segment of the file
    assert (again.source_fingerprint, none) == (first.source_fingerprint, None)


def test_an_unreadable_input_is_left_for_processing_to_reject(tmp_path):
    fingerprints = _fingerprints()
    missing = _utt(tmp_path / "gone.wav")
    assert fingerprints.read(missing) == (missing, None)
    (tmp_path / "empty.wav").write_bytes(b"")
    empty = _utt(tmp_path / "empty.wav")
    assert fingerprints.read(empty) == (empty, None)
    os.mkfifo(tmp_path / "fifo.wav")
    fifo = _utt(tmp_path / "fifo.wav")
    assert fingerprints.read(fifo) == (fifo, None)
    for utt, reason in ((missing, Reason.MISSING_AUDIO), (empty, Reason.AUDIO_EMPTY),
                        (fifo, Reason.AUDIO_UNREADABLE)):
        try:
            process_utterance(utt, AudioConfig(), FilterConfig())
        except InputRejected as e:
            assert e.reason is reason
        else:
            raise AssertionError(f"{utt.key} was accepted")


def test_a_file_in_the_machines_record_is_not_read(tmp_path, monkeypatch):
    data = _wav(tmp_path / "a.wav")
    digest = hashlib.sha256(data).hexdigest()

    class _Recorded(StatCache):
        def get(self, st):
            return digest

    utt, got = SourceFingerprints(record=_Recorded(None)).read(_utt(tmp_path / "a.wav"))
    assert (utt.source_fingerprint, got) == ("sha256:" + digest, None)
