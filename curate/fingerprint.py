"""Acoustic fingerprints of speech, robust to re-encoding, resampling, gain and trimming.

Identical PCM is caught by its hash; the same recording re-encoded (MP3, Opus, mu-law), resampled
(8 kHz, 48 kHz), made quieter or louder, or with a few hundred milliseconds cut off is not. Its
fingerprint here is the robust hash of Haitsma and Kalker ("A highly robust audio fingerprinting
system", ISMIR 2002), sized for utterances of a few seconds: every 16 ms, a 128 ms Hann frame of
the 16 kHz audio is cut into 33 log-spaced bands from 250 Hz to 3.4 kHz (the telephone band, so an
8 kHz copy keeps all of it), and bit ``m`` of the frame's 32-bit word is the sign of the energy
difference between bands ``m`` and ``m + 1`` less the same difference one frame earlier.
Differences of energies do not change with gain; the 3.4 kHz ceiling ignores what codecs and
narrowband channels remove; 16 ms steps under 128 ms frames keep a trimmed copy within 8 ms of a
frame of the original. Frames more than 50 dB below the clip's loudest carry no information and
are masked (digital silence would otherwise match any other silence).

Chromaprint (``pyacoustid`` + ``libchromaprint1``) was measured first and is not used: it is
built for music, gives about 8 words per second after dropping its first 2 seconds, so a 3 s
utterance has 3 words and a 300 ms trim leaves none in common.

Two fingerprints are compared at an offset by the share of equal bits over the frames both keep
(:func:`similarity`; 1.0 is identical, unrelated speech scores about 0.5). Finding which pairs to
compare is locality-sensitive hashing (:func:`lsh_keys`): each frame gives a few keys made of
fixed bit samples of its word and of the word 4 frames later, so copies share many keys and
unrelated clips almost none. The Beam side is :mod:`curate.near_duplicates`.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = (rng.standard_normal(32000) * np.hanning(32000)).astype(np.float32)
>>> fp = fingerprint(x)
>>> fp.frames, round(similarity(fp, fingerprint(0.5 * x)).similarity, 3)
(117, 1.0)
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FRAME_HOP_S",
    "Fingerprint",
    "Match",
    "fingerprint",
    "lsh_keys",
    "similarity",
]

_RATE = 16000
_FRAME = 2048  # 128 ms
_HOP = 256  # 16 ms
FRAME_HOP_S = _HOP / _RATE
_BANDS = 33
_LOW_HZ, _HIGH_HZ = 250.0, 3400.0
_SILENCE = 10.0 ** (-50.0 / 10.0)  # frame energy below the loudest frame's, masked
_KEY_GAP = 4  # frames between the two words a key samples (64 ms)
_KEY_BITS = 16  # bits sampled from each of the two words
_TABLES = 2  # independent bit samples
_MIN_OVERLAP = 16  # frames (~0.26 s) two clips must both keep for a similarity to count


@dataclass(frozen=True, kw_only=True, slots=True)
class Fingerprint:
    """One clip's fingerprint: a little-endian uint32 word and a keep bit per 16 ms frame."""

    words: bytes  # 4 bytes per frame
    mask: bytes  # numpy.packbits (little bit order) of the frames that carry sound

    @property
    def frames(self) -> int:
        return len(self.words) // 4

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(words uint32, keep bool)``, one entry per frame."""
        words = np.frombuffer(self.words, dtype="<u4")
        keep = np.unpackbits(np.frombuffer(self.mask, np.uint8), count=words.shape[0],
                             bitorder="little").astype(bool)
        return words, keep


@dataclass(frozen=True, kw_only=True, slots=True)
class Match:
    """The best alignment of two fingerprints: ``b``'s frame ``i`` on ``a``'s ``i + offset``."""

    similarity: float  # share of equal bits over the frames both keep, 0..1
    offset: int  # frames
    overlap: int  # frames compared


@functools.cache
def _bands() -> np.ndarray:
    edges = np.geomspace(_LOW_HZ, _HIGH_HZ, _BANDS + 1)
    freqs = np.fft.rfftfreq(_FRAME, 1.0 / _RATE)
    matrix = np.zeros((freqs.shape[0], _BANDS), np.float32)
    for b in range(_BANDS):
        matrix[(freqs >= edges[b]) & (freqs < edges[b + 1]), b] = 1.0
    matrix.flags.writeable = False
    return matrix


@functools.cache
def _window() -> np.ndarray:
    w = np.hanning(_FRAME + 1)[:-1].astype(np.float32)
    w.flags.writeable = False
    return w


def fingerprint(samples: np.ndarray) -> Fingerprint:
    """The fingerprint of 1-D float32 16 kHz ``samples`` (see the module docstring)."""
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"expected 1-D samples at 16 kHz, got shape {list(x.shape)}")
    if x.shape[0] < _FRAME + _HOP:
        x = np.pad(x, (0, _FRAME + _HOP - x.shape[0]))
    n = 1 + (x.shape[0] - _FRAME) // _HOP
    view = np.lib.stride_tricks.as_strided(x, shape=(n, _FRAME),
                                           strides=(x.strides[0] * _HOP, x.strides[0]),
                                           writeable=False)
    spectrum = np.fft.rfft(view * _window(), axis=1)
    energy = (spectrum.real**2 + spectrum.imag**2).astype(np.float32) @ _bands()  # (n, 33)
    across = energy[:, :-1] - energy[:, 1:]  # (n, 32)
    bits = (across[1:] - across[:-1]) > 0  # (n - 1, 32)
    words = np.packbits(bits, axis=1, bitorder="little").view("<u4")[:, 0]
    total = energy.sum(axis=1)
    loud = total > total.max() * _SILENCE if total.max() > 0 else np.zeros(n, bool)
    keep = loud[1:] & loud[:-1]
    return Fingerprint(words=words.astype("<u4").tobytes(),
                       mask=np.packbits(keep, bitorder="little").tobytes())


@functools.cache
def _bit_samples() -> np.ndarray:
    """``(tables, 2, _KEY_BITS)`` bit positions, fixed by a seed: part of the key format."""
    rng = np.random.default_rng(20020101)
    return np.stack([np.stack([np.sort(rng.choice(32, _KEY_BITS, replace=False))
                               for _ in range(2)]) for _ in range(_TABLES)])


def _sample_bits(words: np.ndarray, positions: np.ndarray) -> np.ndarray:
    bits = (words[:, None] >> positions[None, :].astype(np.uint32)) & np.uint32(1)
    return (bits << np.arange(positions.shape[0], dtype=np.uint32)[None, :]).sum(axis=1)


def lsh_keys(fp: Fingerprint) -> list[tuple[int, int]]:
    """``[(key, frame)]``: each distinct LSH key of the clip with the first frame it comes from.
    A key is the table number and two samples of :data:`_KEY_BITS` bits, of the words at frames
    ``i`` and ``i + 4`` (both kept): two copies of a recording share a key wherever those bits
    survived, unrelated clips share one with probability ``2 ** -32`` per pair of frames."""
    words, keep = fp.arrays()
    if words.shape[0] <= _KEY_GAP:
        return []
    both = keep[:-_KEY_GAP] & keep[_KEY_GAP:]
    frames = np.nonzero(both)[0]
    if not frames.shape[0]:
        return []
    first, second = words[frames], words[frames + _KEY_GAP]
    out: dict[int, int] = {}
    for table, (pos_a, pos_b) in enumerate(_bit_samples()):
        keys = (np.uint64(table) << np.uint64(2 * _KEY_BITS)) \
            | (_sample_bits(first, pos_a).astype(np.uint64) << np.uint64(_KEY_BITS)) \
            | _sample_bits(second, pos_b).astype(np.uint64)
        for key, frame in zip(keys.tolist(), frames.tolist()):
            out.setdefault(int(key), int(frame))
    return sorted(out.items())


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint16)


def _at_offset(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray],
               offset: int) -> Match:
    (wa, ka), (wb, kb) = a, b
    if offset >= 0:
        wa, ka = wa[offset:], ka[offset:]
    else:
        wb, kb = wb[-offset:], kb[-offset:]
    n = min(wa.shape[0], wb.shape[0])
    both = ka[:n] & kb[:n]
    overlap = int(both.sum())
    if overlap < _MIN_OVERLAP:
        return Match(similarity=0.0, offset=offset, overlap=overlap)
    diff = np.bitwise_xor(wa[:n][both], wb[:n][both]).view(np.uint8)
    errors = int(_POPCOUNT[diff].sum())
    return Match(similarity=1.0 - errors / (32.0 * overlap), offset=offset, overlap=overlap)


def similarity(a: Fingerprint, b: Fingerprint, offsets: Iterable[int] | None = None,
               search: int = 2) -> Match:
    """The best :class:`Match` of ``a`` and ``b`` over ``offsets`` (frames; default 0) and
    ``search`` frames either side of each. Ties go to the smallest offset."""
    arrays_a, arrays_b = a.arrays(), b.arrays()
    tried: set[int] = set()
    best = Match(similarity=0.0, offset=0, overlap=0)
    for centre in sorted(set(offsets or (0,))):
        for offset in range(centre - search, centre + search + 1):
            if offset in tried:
                continue
            tried.add(offset)
            m = _at_offset(arrays_a, arrays_b, offset)
            if (m.similarity, -abs(m.offset)) > (best.similarity, -abs(best.offset)):
                best = m
    return best
