"""Tests for curate.filters: every reason, the order, the details, and the pass case."""

from __future__ import annotations

import dataclasses

import pytest

from curate.config import FilterConfig
from curate.errors import InputRejected, Reason
from curate.filters import check_signals, check_text
from curate.records import Signals

GOOD = Signals(
    duration_s=3.0,
    rms_dbfs=-22.0,
    peak_dbfs=-3.0,
    clipping_ratio=0.0,
    silence_ratio=0.2,
    snr_db=25.0,
    chars_per_s=14.0,
    words_per_s=2.5,
    pcm_sha256="0" * 64,
)


def reason_of(signals: Signals, cfg: FilterConfig) -> InputRejected:
    with pytest.raises(InputRejected) as info:
        check_signals(signals, cfg)
    return info.value


def test_good_utterance_passes():
    check_text("hello world", FilterConfig())
    check_signals(GOOD, FilterConfig())
    check_signals(GOOD, FilterConfig(min_snr_db=10, min_chars_per_s=5, max_chars_per_s=20))


@pytest.mark.parametrize("text", ["", " ", "\t\n "])
def test_empty_text(text):
    with pytest.raises(InputRejected) as info:
        check_text(text, FilterConfig())
    assert info.value.reason is Reason.EMPTY_TEXT
    check_text(text, FilterConfig(allow_empty_text=True))


@pytest.mark.parametrize(
    ("change", "cfg", "reason", "detail"),
    [
        ({"duration_s": 0.1}, {}, Reason.TOO_SHORT, "duration 0.10 s < min_duration_s 0.2"),
        ({"duration_s": 31.5}, {}, Reason.TOO_LONG, "duration 31.50 s > max_duration_s 30"),
        ({"silence_ratio": 0.97}, {}, Reason.SILENT, "silence_ratio 0.97 > max_silence_ratio 0.95"),
        ({"clipping_ratio": 0.05}, {}, Reason.CLIPPED,
         "clipping_ratio 0.05 > max_clipping_ratio 0.01"),
        ({"snr_db": 3.0}, {"min_snr_db": 5.0}, Reason.LOW_SNR, "snr 3.00 dB < min_snr_db 5"),
        ({"chars_per_s": 2.0}, {"min_chars_per_s": 4.0}, Reason.SPEAKING_RATE,
         "chars_per_s 2.00 < min_chars_per_s 4"),
        ({"chars_per_s": 45.0}, {}, Reason.SPEAKING_RATE, "chars_per_s 45.00 > max_chars_per_s 40"),
    ],
)
def test_each_reason_with_value_and_bound(change, cfg, reason, detail):
    err = reason_of(dataclasses.replace(GOOD, **change), FilterConfig(**cfg))
    assert err.reason is reason
    assert err.detail == detail


def test_rules_apply_in_documented_order():
    everything_wrong = dataclasses.replace(
        GOOD, duration_s=0.1, silence_ratio=1.0, clipping_ratio=0.5, snr_db=-5.0, chars_per_s=99
    )
    cfg = FilterConfig(min_snr_db=0)
    order = [Reason.TOO_SHORT, Reason.SILENT, Reason.CLIPPED, Reason.LOW_SNR, Reason.SPEAKING_RATE]
    fixes = [{"duration_s": 3.0}, {"silence_ratio": 0.1}, {"clipping_ratio": 0.0},
             {"snr_db": 20.0}, {"chars_per_s": 10.0}]
    sig = everything_wrong
    for reason, fix in zip(order, fixes, strict=True):
        assert reason_of(sig, cfg).reason is reason
        sig = dataclasses.replace(sig, **fix)
    check_signals(sig, cfg)
    assert reason_of(dataclasses.replace(sig, duration_s=40.0, silence_ratio=1.0), cfg).reason is (
        Reason.TOO_LONG
    )


def test_values_on_the_bound_pass():
    cfg = FilterConfig(min_snr_db=25.0, min_chars_per_s=14.0, max_chars_per_s=14.0 + 1e-9)
    check_signals(dataclasses.replace(GOOD, duration_s=0.2, silence_ratio=0.95,
                                      clipping_ratio=0.01), cfg)
    check_signals(dataclasses.replace(GOOD, duration_s=30.0), FilterConfig())


def test_unset_bounds_are_not_checked():
    cfg = FilterConfig(min_snr_db=None, min_chars_per_s=None, max_chars_per_s=None)
    check_signals(dataclasses.replace(GOOD, snr_db=-20.0, chars_per_s=500.0), cfg)


def test_detail_never_prints_a_value_that_looks_like_the_bound():
    err = reason_of(dataclasses.replace(GOOD, duration_s=0.1999), FilterConfig())
    assert err.detail == "duration 0.1999 s < min_duration_s 0.2"


def test_zero_frames_are_too_short_even_without_a_minimum():
    err = reason_of(dataclasses.replace(GOOD, duration_s=0.0), FilterConfig(min_duration_s=0))
    assert err.reason is Reason.TOO_SHORT


def test_allowed_empty_text_is_not_held_to_the_minimum_rate():
    silent_text = dataclasses.replace(GOOD, chars_per_s=0.0, words_per_s=0.0)
    cfg = FilterConfig(min_chars_per_s=2.0)
    assert reason_of(silent_text, cfg).reason is Reason.SPEAKING_RATE
    check_signals(silent_text, FilterConfig(min_chars_per_s=2.0, allow_empty_text=True))
