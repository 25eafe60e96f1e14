"""DNSMOS from the pinned ONNX files: the same scores as speechmos's own ``run()`` window for
window, a clear drop under noise, and refusal of files whose hash does not match."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from curate.models import dnsmos as dnsmos_module
from curate.models.dnsmos import WINDOW_SAMPLES, Dnsmos, p808_features, windows
from curate.models.errors import ModelLoadError
from tests.curate.models.variants import add_noise


@pytest.fixture(scope="module")
def dnsmos(model_libraries) -> Dnsmos:
    return Dnsmos.load()


def _reference_windows(audio: np.ndarray) -> np.ndarray:
    """The windows speechmos's ``run()`` scores: the clip doubled until it fills one, then a
    9.01 s window every second."""
    while len(audio) < WINDOW_SAMPLES:
        audio = np.append(audio, audio)
    hops = int(np.floor(len(audio) / 16000) - 9.01) + 1
    return np.stack([audio[i * 16000 : i * 16000 + WINDOW_SAMPLES] for i in range(hops)])


def test_scores_equal_speechmos_run_on_the_same_windows(dnsmos, librivox):
    from speechmos import dnsmos as reference

    # Two clips: one window (0890, 5.3 s, doubled once) and two (0880, 3.0 s, doubled twice);
    # bench/signals.py compares all five.
    for key in sorted(librivox):
        if not key.endswith(("-0880", "-0890")):
            continue
        x = librivox[key]
        ours = dnsmos.score_windows(_reference_windows(x.samples))
        ref = reference.run(x.samples, 16000)
        for name, theirs in (("sig", "sig_mos"), ("bak", "bak_mos"), ("ovrl", "ovrl_mos"),
                             ("p808", "p808_mos")):
            assert getattr(ours, name) == pytest.approx(float(ref[theirs]), abs=2e-3), (key, name)


def test_mel_features_equal_librosas(librivox):
    import librosa

    x = next(iter(librivox.values())).samples[:144000]
    mel = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=321, hop_length=160, n_mels=120)
    expected = (librosa.power_to_db(mel, ref=np.max) + 40) / 40
    np.testing.assert_allclose(p808_features(x), expected.T, atol=1e-4)


def test_noise_at_0_db_costs_more_than_one_point_of_ovrl(dnsmos, librivox):
    for key, x in librivox.items():
        clean, noisy = dnsmos.score(x.samples), dnsmos.score(add_noise(x.samples, 0.0))
        assert clean.ovrl - noisy.ovrl >= 1.0, (key, clean, noisy)
        assert clean.bak - noisy.bak >= 1.5, key
        assert 1.0 <= noisy.ovrl < clean.ovrl <= 5.0


def test_windows_cover_the_clip_without_overlapping_more_than_needed():
    assert windows(np.ones(16000, np.float32)).shape == (1, WINDOW_SAMPLES)
    assert windows(np.ones(WINDOW_SAMPLES, np.float32)).shape == (1, WINDOW_SAMPLES)
    x = np.arange(int(20 * 16000), dtype=np.float32)
    w = windows(x)
    assert w.shape == (3, WINDOW_SAMPLES)
    assert w[0, 0] == 0 and w[-1, -1] == x[-1]
    with pytest.raises(ValueError, match="empty"):
        windows(np.zeros(0, np.float32))


def test_a_window_scores_the_same_bits_alone_as_with_the_other_windows_of_its_clip(dnsmos,
                                                                                     librivox):
    # score_windows runs all of a clip's windows in one call per network: what a window scores
    # must not depend on its batch (a build is byte-identical with 1 and 2 workers).
    x = np.concatenate([v.samples for _, v in sorted(librivox.items())])[: 20 * 16000]
    wins = windows(x)
    assert wins.shape[0] == 3
    together = dnsmos.score_windows(wins)
    alone = [dnsmos.score_windows(w[None]) for w in wins]
    for name in ("sig", "bak", "ovrl", "p808"):
        assert getattr(together, name) == float(np.mean([getattr(a, name) for a in alone])), name
    assert together == dnsmos.score(x)


def test_identity_and_bad_input(dnsmos):
    assert dnsmos.model_id.startswith("dnsmos==0.0.1.1[p835+p808]@")
    assert dnsmos.describe()["files"] == ["model_v8.onnx", "sig_bak_ovr.onnx"]
    with pytest.raises(ValueError, match="NaN"):
        dnsmos.score(np.full(16000, np.nan, np.float32))


def test_a_model_file_whose_hash_does_not_match_refuses_to_load(model_libraries, tmp_path,
                                                                 monkeypatch):
    real = dnsmos_module.package_dir("speechmos", field="x", install="x")
    shutil.copytree(os.path.join(real, "dnsmos_models"), tmp_path / "dnsmos_models")
    with open(tmp_path / "dnsmos_models" / "sig_bak_ovr.onnx", "ab") as f:
        f.write(b"\0")
    monkeypatch.setattr(dnsmos_module, "package_dir", lambda *a, **k: str(tmp_path))
    with pytest.raises(ModelLoadError, match=f"^signals.dnsmos: {tmp_path}/dnsmos_models/"
                                             "sig_bak_ovr.onnx: sha256 "):
        Dnsmos.load()
