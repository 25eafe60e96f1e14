"""Speech-like audio and transcripts for the sample corpus.

Not a speech synthesiser, only audio that exercises a curation pipeline the way speech does: a
glottal-pulse source with a drifting pitch, shaped by three moving formants, cut into syllables
and words with short pauses, over a little background noise. Everything is vectorised numpy and
driven by the ``numpy.random.Generator`` passed in, so the same generator state gives the same
samples on every machine.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> voice = Voice.random(rng)
>>> pcm = synthesize(rng, voice=voice, words=["HELLO", "THERE"], frames=8000, sample_rate_hz=16000)
>>> pcm.shape, pcm.dtype
((8000,), dtype('int16'))
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["WORDS", "Voice", "clip_hard", "random_words", "synthesize"]

_CONTROL_HZ = 1000  # rate of the amplitude / pitch / formant control tracks
_F0_MIN_HZ, _F0_MAX_HZ = 90.0, 250.0
# (F1, F2, F3) in Hz of a few vowels of an adult male voice (Peterson & Barney averages).
_VOWELS = np.array(
    [
        [730, 1090, 2440],  # a
        [270, 2290, 3010],  # i
        [300, 870, 2240],  # u
        [530, 1840, 2480],  # e
        [570, 840, 2410],  # o
        [660, 1720, 2410],  # ae
        [490, 1350, 1690],  # er
    ],
    dtype=np.float64,
)
_BANDWIDTHS_HZ = (80.0, 110.0, 160.0)
_FORMANT_LEVELS = (1.0, 0.6, 0.35)
_FRICATION_LEVEL = np.float32(1.5)  # peak frication noise against the mean voiced spectrum
_VOWEL_GROUPS = re.compile(r"[AEIOUY]+")
WORDS = tuple(
    """
    AN AS AT BE BY DO GO HE IF IN IS IT ME MY NO OF ON OR SO TO UP US WE ALL AND ANY ARE BUT
    CAN DAY DID FOR GOT HAD HAS HER HIM HIS HOW ITS MAN MAY NEW NOT NOW OLD ONE OUR OUT SAW SEE
    SHE SIR THE TOO TWO WAS WAY WHO WHY YES YET YOU ALSO BACK BEEN CAME COME DOWN EACH EVEN EYES
    FACE FROM GAVE GOOD HAND HAVE HEAD HERE HOME INTO JUST KNEW KNOW LAST LEFT LIFE LIKE LONG LOOK
    MADE MAKE MANY MORE MOST MUCH MUST NEAR NEVER NIGHT ONLY OVER PART SAID SAME SEEN SOME SUCH
    TAKE THAN THAT THEM THEN THEY THIS TIME TOLD TOOK UPON VERY WELL WENT WERE WHAT WHEN WITH
    WORD WORK YEAR ABOUT AFTER AGAIN BEING COULD EVERY FIRST FOUND GREAT HEARD HOUSE LIGHT LITTLE
    MIGHT MONEY MOTHER OTHER PLACE RIGHT SHALL SMALL STILL THEIR THERE THESE THING THINK THOSE
    THREE UNDER WATER WHERE WHICH WHILE WHITE WHOLE WORLD WOULD YOUNG ALWAYS BEFORE BETTER CALLED
    FATHER FRIEND GARDEN MOMENT PEOPLE SHOULD SILENT STREET THOUGHT THROUGH TOWARDS WINDOW
    NOTHING ANOTHER BROTHER CAPTAIN EVENING HUNDRED MORNING PERHAPS SOMETHING TOGETHER
    """.split()
)
_WORDS_BY_LEN = tuple(sorted(set(WORDS), key=lambda w: (len(w), w)))
_WORD_LENS = np.array([len(w) for w in _WORDS_BY_LEN])


@dataclass(frozen=True, kw_only=True, slots=True)
class Voice:
    """What makes one speaker sound like itself."""

    f0_hz: float  # median pitch
    f0_spread_st: float  # how far the pitch wanders, in semitones
    formant_scale: float  # vocal tract length: all formants are multiplied by this
    breathiness: float  # share of aspiration noise in the voiced source

    @classmethod
    def random(cls, rng: np.random.Generator) -> Voice:
        low = rng.random() < 0.5
        return cls(
            f0_hz=float(rng.uniform(100, 140) if low else rng.uniform(165, 225)),
            f0_spread_st=float(rng.uniform(1.5, 3.5)),
            formant_scale=float(rng.uniform(0.9, 1.0) if low else rng.uniform(1.05, 1.18)),
            breathiness=float(rng.uniform(0.02, 0.08)),
        )

    @property
    def is_low(self) -> bool:
        return self.f0_hz < 150


def random_words(rng: np.random.Generator, duration_s: float) -> list[str]:
    """Upper-case words for ``duration_s`` of speech: about 2.5 a second, at least one, short
    enough that characters per second stay within about 4..20."""
    n = max(1, round(duration_s * rng.uniform(2.2, 2.8)))
    max_len = max(2, int(20 * duration_s / n) - 1)
    pool = int(np.searchsorted(_WORD_LENS, max_len, side="right"))
    return [_WORDS_BY_LEN[i] for i in rng.integers(0, pool, size=n)]


def _syllables(word: str) -> int:
    return max(1, len(_VOWEL_GROUPS.findall(word)))


def _timeline(
    rng: np.random.Generator, words: Sequence[str], duration_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Syllable start/end times and the index of the word each syllable belongs to."""
    edge = rng.uniform(0.1, 0.3, size=2)
    edge *= min(1.0, 0.22 * duration_s / edge.sum())
    gaps = rng.uniform(0.04, 0.16, size=max(0, len(words) - 1))
    if gaps.size:
        gaps *= min(1.0, 0.1 * duration_s / gaps.sum())
    speech_s = duration_s - edge.sum() - gaps.sum()
    nsyl = np.array([_syllables(w) for w in words])
    weights = nsyl * rng.uniform(0.8, 1.25, size=len(words))
    word_s = speech_s * weights / weights.sum()
    word_start = edge[0] + np.concatenate([[0.0], np.cumsum(word_s[:-1] + gaps)])
    word_of = np.repeat(np.arange(len(words)), nsyl)
    # Position of each syllable inside its word, as a fraction, with a little jitter.
    first = np.repeat(np.cumsum(nsyl) - nsyl, nsyl)
    frac = (np.arange(nsyl.sum()) - first) / nsyl[word_of]
    step = 1.0 / nsyl[word_of]
    jitter = rng.uniform(-0.15, 0.15, size=frac.size) * step * (frac > 0)
    start = word_start[word_of] + (frac + jitter) * word_s[word_of]
    end = np.append(start[1:], 0.0)
    last = np.append(word_of[1:] != word_of[:-1], True)
    end[last] = (word_start + word_s)[word_of[last]]
    return start, end, word_of


def _control_tracks(
    rng: np.random.Generator, voice: Voice, words: Sequence[str], duration_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Amplitude, aspiration, pitch (Hz) and formants (n, 3) at ``_CONTROL_HZ``."""
    n = max(2, int(math.ceil(duration_s * _CONTROL_HZ)) + 1)
    t = np.arange(n) / _CONTROL_HZ
    start, end, word_of = _timeline(rng, words, duration_s)
    nsyl = start.size
    idx = np.clip(np.searchsorted(start, t, side="right") - 1, 0, nsyl - 1)
    u = (t - start[idx]) / np.maximum(end[idx] - start[idx], 1e-3)
    inside = (u >= 0) & (u < 1)
    gain = rng.uniform(0.55, 1.0, size=nsyl)
    floor = rng.uniform(0.12, 0.3, size=nsyl)
    shape = np.sin(np.pi * np.clip(u, 0, 1)) ** 0.7
    amp = np.where(inside, gain[idx] * (floor[idx] + (1 - floor[idx]) * shape), 0.0)
    # Soft word edges so a word does not start with a click.
    word_lo = np.full(word_of.max() + 1, np.inf)
    word_hi = np.zeros_like(word_lo)
    np.minimum.at(word_lo, word_of, start)
    np.maximum.at(word_hi, word_of, end)
    w = word_of[idx]
    ramp = np.clip(np.minimum(t - word_lo[w], word_hi[w] - t) / 0.012, 0, 1)
    amp *= ramp
    # Aspiration bursts at the start of about half of the syllables (consonant onsets).
    burst = rng.random(nsyl) < 0.5
    since = t - start[idx]
    asp = np.where(inside & burst[idx], np.exp(-since / 0.035) * (since < 0.1), 0.0)
    # Pitch: declination, an accent per word, slow drift and a little vibrato, in semitones.
    accent = rng.uniform(0, 1, size=word_of.max() + 1) * voice.f0_spread_st
    semis = -1.5 * t / max(duration_s, 1e-3) + accent[w] * np.sin(np.pi * np.clip(u, 0, 1))
    for _ in range(3):
        semis += (
            rng.uniform(0.2, 0.6)
            * voice.f0_spread_st
            * np.sin(2 * np.pi * rng.uniform(0.1, 0.7) * t + rng.uniform(0, 2 * np.pi))
        )
    semis += 0.15 * np.sin(2 * np.pi * rng.uniform(4.5, 6.0) * t)
    f0 = np.clip(voice.f0_hz * 2 ** (semis / 12), _F0_MIN_HZ, _F0_MAX_HZ)
    # Formants glide between one vowel target per syllable.
    vowels = _VOWELS[rng.integers(0, len(_VOWELS), size=nsyl)]
    vowels = vowels * voice.formant_scale * rng.uniform(0.93, 1.07, size=(nsyl, 3))
    centre = (start + end) / 2
    formants = np.stack([np.interp(t, centre, vowels[:, i]) for i in range(3)], axis=1)
    return amp, asp, f0, formants


def _glottal_source(f0: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """Derivative of a Rosenberg glottal pulse train following the pitch track ``f0``."""
    phase = (np.cumsum(f0 / sample_rate_hz) % 1.0).astype(np.float32)
    rise, fall = np.float32(0.4), np.float32(0.16)
    flow = np.zeros_like(phase)
    opening = phase < rise
    closing = ~opening & (phase < rise + fall)
    flow[opening] = 0.5 - 0.5 * np.cos(np.float32(np.pi) / rise * phase[opening])
    flow[closing] = np.cos(np.float32(np.pi / 2) / fall * (phase[closing] - rise))
    return np.diff(flow, prepend=np.float32(0))


def _resonance(f: np.ndarray, centre: np.ndarray, bandwidth: float) -> np.ndarray:
    """Magnitude of a two-pole resonance normalised to 1 at ``centre`` (0 at DC)."""
    return 1 / np.sqrt(1 + ((f**2 - centre**2) / (np.float32(bandwidth) * f + 1e-3)) ** 2)


def _formant_filter(
    rng: np.random.Generator,
    x: np.ndarray,
    formants: np.ndarray,
    frication: np.ndarray,
    sample_rate_hz: int,
) -> np.ndarray:
    """Shape ``x`` with parallel resonances that move with the control tracks (``formants``
    (n, 3) in Hz) and add band noise where ``frication`` (n,) is up, by short-time FFT and
    weighted overlap-add."""
    size = 1 << max(8, math.ceil(math.log2(0.025 * sample_rate_hz)))
    hop = size // 4
    n = x.size
    nframes = (n + size) // hop + 1
    padded = np.zeros((nframes + 3) * hop, dtype=np.float32)
    padded[size : size + n] = x
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(padded, size)[::hop][:nframes] * window
    spec = np.fft.rfft(frames, axis=1)
    # Control values at each frame centre (the tracks are sampled at _CONTROL_HZ).
    centres = (np.arange(nframes) * hop - size // 2) / sample_rate_hz * _CONTROL_HZ
    grid = np.arange(len(formants))
    track = np.column_stack([formants, frication])
    ctl = np.stack([np.interp(centres, grid, track[:, i]) for i in range(4)], axis=1)
    ctl = ctl.astype(np.float32)[:, :, None]
    f = np.fft.rfftfreq(size, 1 / sample_rate_hz).astype(np.float32)
    gain = np.zeros((nframes, f.size), dtype=np.float32)
    for i, (level, bw) in enumerate(zip(_FORMANT_LEVELS, _BANDWIDTHS_HZ, strict=True)):
        gain += np.float32(level) * _resonance(f, ctl[:, i], bw)
    gain += 0.25 * _resonance(f, ctl[:, 2] * np.float32(1.4), 500.0)  # a fixed-ish F4 region
    spec *= gain
    # Frication: band noise made directly in the frequency domain, relative to the voicing.
    ref = np.float32(np.sqrt(np.mean(np.abs(spec) ** 2)))
    hiss = rng.standard_normal((nframes, f.size, 2), dtype=np.float32).view(np.complex64)[..., 0]
    spec += ref * _FRICATION_LEVEL * ctl[:, 3] * _resonance(f, np.float32(4500.0), 3000.0) * hiss
    out_frames = np.fft.irfft(spec, n=size, axis=1).astype(np.float32) * window
    out = np.zeros((nframes + 3, hop), dtype=np.float32)
    for c in range(4):
        out[c : c + nframes] += out_frames[:, c * hop : (c + 1) * hop]
    return out.reshape(-1)[size : size + n] / 2


def synthesize(
    rng: np.random.Generator,
    *,
    voice: Voice,
    words: Sequence[str],
    frames: int,
    sample_rate_hz: int,
    channels: int = 1,
    peak_dbfs: float | None = None,
    snr_db: float | None = None,
) -> np.ndarray:
    """``frames`` samples of speech-like audio saying ``words``, as int16 (frames,) or
    (frames, channels). ``peak_dbfs`` defaults to a draw in [-6, -3]; ``snr_db`` (background
    noise against the speech RMS) to a draw in [15, 35]."""
    if not words:
        raise ValueError("at least one word is needed")
    if channels not in (1, 2):
        raise ValueError(f"channels must be 1 or 2, got {channels}")
    peak_dbfs = float(rng.uniform(-6, -3)) if peak_dbfs is None else peak_dbfs
    snr_db = float(rng.uniform(15, 35)) if snr_db is None else snr_db
    duration_s = frames / sample_rate_hz
    amp, asp, f0, formants = _control_tracks(rng, voice, words, duration_s)
    ctl_t = np.arange(amp.size, dtype=np.float64) / _CONTROL_HZ
    t = np.arange(frames, dtype=np.float64) / sample_rate_hz
    amp_s = np.interp(t, ctl_t, amp).astype(np.float32)
    pulses = _glottal_source(np.interp(t, ctl_t, f0), sample_rate_hz)
    pulses /= max(float(np.abs(pulses).max()), 1e-9)
    hiss = rng.standard_normal(frames, dtype=np.float32)
    source = amp_s * (pulses + voice.breathiness * hiss)
    speech = _formant_filter(rng, source, formants, asp, sample_rate_hz)
    active = amp_s > 0.05
    speech_rms = float(np.sqrt(np.mean(speech[active] ** 2))) if active.any() else 1.0
    noise_rms = speech_rms * 10 ** (-snr_db / 20)
    out = np.empty((frames, channels), dtype=np.float32)
    for ch in range(channels):
        if ch == 0:
            src = speech
        else:  # a second microphone: a little later, a little quieter
            delay = int(rng.integers(1, max(2, sample_rate_hz // 2000)))
            src = np.concatenate([np.zeros(delay, np.float32), speech[:-delay]])
            src = src * np.float32(rng.uniform(0.8, 0.95))
        noise = rng.standard_normal(frames, dtype=np.float32)
        noise[1:] += 0.7 * noise[:-1]  # a gentle low-frequency tilt
        out[:, ch] = src + noise * np.float32(noise_rms / 1.22)
    out *= np.float32(10 ** (peak_dbfs / 20) / max(float(np.abs(out).max()), 1e-9))
    pcm = np.round(out * 32767).astype(np.int16)
    return pcm[:, 0] if channels == 1 else pcm


def clip_hard(pcm: np.ndarray, *, share: float) -> np.ndarray:
    """Amplify ``pcm`` until at least ``share`` of samples on each side hit full scale, then
    hard-clip: positive peaks at +32767 and negative ones at -32768 (decoded: +-1.0)."""
    x = pcm.astype(np.float64)
    level = min(np.quantile(x, 1 - share), np.quantile(-x, 1 - share))
    if level <= 0:
        raise ValueError("cannot clip audio that is mostly silence")
    y = np.round(x * (32767.0 / level))
    return np.clip(y, -32768, 32767).astype(np.int16)
