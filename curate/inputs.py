"""Fingerprints of a build's inputs, taken without decoding anything: what a build on a base
version matches to carry an input over (:mod:`curate.carry`).

A source file's fingerprint names its bytes:

* a local file: ``sha256:<hex>`` of its bytes (read, hashed, never decoded; read once per
  machine while the file's stat data stays the same, :mod:`curate.stat_cache`);
* ``s3://``: ``s3-etag:<etag>``, the object's ETag from its metadata (no byte is read);
* ``gs://``: ``gcs-crc32c:<base64>``, the object's CRC32C from its metadata;
* any other filesystem: ``sha256:<hex>`` of its bytes, read through Beam's ``FileSystems``.

An input's fingerprint, :meth:`curate.records.Utterance.input_sha256`, adds its key, text,
speaker and segment to its file's. Both go into the manifest (per example) and
``rejected.parquet`` (per rejected input).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "a.wav")
>>> _ = open(path, "wb").write(b"RIFF")
>>> SourceFingerprints().of(path) == "sha256:" + hashlib.sha256(b"RIFF").hexdigest()
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from collections import OrderedDict

from curate.fsio import FileReader, is_local, local_path
from curate.records import Utterance
from curate.stat_cache import StatCache, default_path

__all__ = ["SourceFingerprints"]

_CHUNK = 1 << 20
_SCHEMES = {"s3": "s3-etag", "gs": "gcs-crc32c"}  # stores whose metadata names the bytes


class SourceFingerprints:
    """Takes source fingerprints for one worker: one S3 client per thread (as
    :class:`curate.fsio.FileReader` keeps them) and the last ``cache_size`` files' fingerprints,
    so that the segments of one recording (Kaldi ``segments``) read it once."""

    def __init__(self, cache_size: int = 64, record: StatCache | None = None) -> None:
        self._reader = FileReader()
        self._record = record if record is not None else StatCache(default_path())
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._size = cache_size

    def of(self, uri: str) -> str:
        """The fingerprint of the file at ``uri`` (see the module docstring). Raises
        ``OSError`` (``FileNotFoundError`` and the like) when it cannot be taken."""
        found = self._cache.get(uri)
        if found is None:
            found = self._remember(uri, self._take(uri))
        else:
            self._cache.move_to_end(uri)
        return found

    def _remember(self, uri: str, fingerprint: str) -> str:
        self._cache[uri] = fingerprint
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return fingerprint

    def _take(self, uri: str) -> str:
        if is_local(uri):
            return f"sha256:{self._local(uri)[0]}"
        scheme = uri.split("://", 1)[0]
        if scheme in _SCHEMES:
            (checksum,) = self._reader.checksums([uri])
            return f"{_SCHEMES[scheme]}:{checksum}"
        digest = hashlib.sha256()
        with self._reader.open(uri) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return f"sha256:{digest.hexdigest()}"

    def _local(self, uri: str) -> tuple[str, bytes | None]:
        """The sha256 (hex) of a local file, and its bytes when they were read whole to take it
        (the audio opener reads a file up to :data:`curate.audio_io.WHOLE_READ_BYTES` whole);
        from this machine's record, reading nothing, while the file's stat data is unchanged."""
        # through the audio opener: a FIFO or a device (/dev/zero) is refused before a byte is
        # read, and a file over the input size cap is not read at all
        from curate.audio_io import open_audio

        path = local_path(uri)
        try:
            before = os.stat(path)
        except (OSError, ValueError):  # open_audio names what is wrong
            before = None
        if before is not None:
            recorded = self._record.get(before)
            if recorded is not None:
                return recorded, None
        with open_audio(uri) as f:
            if isinstance(f, io.BytesIO):  # read whole: hash what is in memory, hand it on
                data: bytes | None = f.getvalue()
                digest = hashlib.sha256(data).hexdigest()
            else:
                data, digest = None, hashlib.file_digest(f, "sha256").hexdigest()
        if before is not None:
            try:
                self._record.put(before, os.stat(path), digest)
            except OSError:
                pass  # gone since: nothing to record
        return digest, data

    def fingerprinted(self, utt: Utterance) -> Utterance:
        """``utt`` with its source fingerprint, or ``utt`` as it is when it already has one or
        when its file cannot be read (processing then rejects it, with the reason)."""
        return self.read(utt)[0]

    def read(self, utt: Utterance) -> tuple[Utterance, bytes | None]:
        """``utt`` as :meth:`fingerprinted` gives it, and the bytes of its file when taking the
        fingerprint read them whole (a local file up to
        :data:`curate.audio_io.WHOLE_READ_BYTES`, fingerprinted neither before nor in this
        machine's record), else None: the decoder reads them from memory instead of reading
        the file a second time."""
        if utt.source_fingerprint:
            return utt, None
        uri, data = utt.audio_uri, None
        try:
            if is_local(uri) and uri not in self._cache:
                digest, data = self._local(uri)
                fingerprint = self._remember(uri, f"sha256:{digest}")
            else:
                fingerprint = self.of(uri)
        except Exception:  # missing, unreadable, refused: processing names the reason
            return utt, None
        return dataclasses.replace(utt, source_fingerprint=fingerprint), data
