"""ASR agreement on real read speech: right transcripts agree, shuffled ones do not."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from curate.errors import Reason
from curate.models.asr import AsrScorer, PocketSphinxRecognizer, load_recognizer
from curate.models.config import AsrConfig, ModelSignalsConfig
from curate.models.errors import ModelLoadError
from curate.models.filters import first_violation
from curate.models.records import ModelInput
from tests.curate.models import speech


def test_correct_transcripts_score_well_below_the_threshold(librivox_signals, signals_cfg):
    max_wer = signals_cfg.asr.max_wer
    for key, s in librivox_signals.items():
        assert s.asr_wer <= max_wer - 0.15, (key, s.asr_hypothesis)
        assert first_violation(s, signals_cfg) is None, key
    errors = sum(s.asr_word_errors for s in librivox_signals.values())
    words = sum(s.asr_ref_words for s in librivox_signals.values())
    assert errors / words < 0.35  # corpus WER of PocketSphinx en-us here: ~0.26


def test_shuffled_transcripts_are_all_rejected_for_asr_disagreement(loaded_models, librivox, signals_cfg):
    keys = sorted(librivox)
    texts = [librivox[k].transcript for k in keys]
    for i, key in enumerate(keys):  # each audio gets the next utterance's transcript
        shuffled = ModelInput(samples=librivox[key].samples, transcript=texts[(i + 1) % len(keys)])
        signals = loaded_models.compute(shuffled)
        reason, detail = first_violation(signals, signals_cfg)
        assert reason == Reason.ASR_DISAGREEMENT, (key, detail)
        assert signals.asr_wer > signals_cfg.asr.max_wer + 0.15, (key, signals.asr_wer)


def test_signals_name_the_recogniser_and_its_version(librivox_signals):
    ids = {s.asr_model for s in librivox_signals.values()}
    assert len(ids) == 1
    assert ids.pop().startswith("pocketsphinx==5.")


def test_decoders_are_safe_to_share_between_threads(loaded_models, librivox):
    recognizer = loaded_models.loaded["asr"].recognizer
    clips = [x.samples[: 24000] for x in sorted(librivox.values(), key=lambda x: x.transcript)[:2]]
    expected = [recognizer.transcribe(x) for x in clips]
    got: dict[int, str] = {}

    def work(i: int) -> None:
        got[i] = recognizer.transcribe(clips[i % 2])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(4)] == expected * 2


def test_a_hypothesis_does_not_depend_on_what_the_decoder_heard_before(loaded_models, librivox, espeak):
    """Regression: PocketSphinx kept feature state between utterances, so the same French clip
    came out as 'he saw all ...' from a fresh decoder and 'he thought all ...' from a used one,
    and Beam (fresh worker) disagreed with the direct call."""
    from curate.models.asr import PocketSphinxRecognizer

    clip = espeak(speech.FRENCH[0], "fr").samples
    used: PocketSphinxRecognizer = loaded_models.loaded["asr"].recognizer
    used.transcribe(next(iter(librivox.values())).samples)
    first, again = used.transcribe(clip), used.transcribe(clip)
    assert first == again == PocketSphinxRecognizer().transcribe(clip)


def test_empty_audio_gives_an_empty_hypothesis(loaded_models):
    scorer: AsrScorer = loaded_models.loaded["asr"]
    result = scorer.measure(ModelInput(samples=np.zeros(0, np.float32), transcript="two words"))
    assert result.hypothesis == "" and result.wer == 1.0


def test_a_plug_in_recogniser_is_loaded_by_dotted_path():
    cfg = AsrConfig(enabled=True, recognizer="tests.curate.models.fakes:echo",
                    options={"words": "hello there"})
    scorer = AsrScorer.load(cfg)
    x = ModelInput(samples=np.ones(800, np.float32), transcript="Hello, there!")
    result = scorer.measure(x)
    assert (result.hypothesis, result.wer) == ("hello there", 0.0)
    assert result.model_id == "echo[hello there]"


@pytest.mark.parametrize(
    ("asr", "message"),
    [
        ({"recognizer": "pocketsphinx", "model_path": "/no/such/model"},
         r"signals.asr.model_path: PocketSphinx model files not found: hmm=/no/such/model/en-us"),
        ({"recognizer": "pocketsphinx", "options": {"no_such_option": 1}},
         r"signals.asr: PocketSphinx cannot start"),
        ({"options": {"no_such_option": 1}}, r"signals.asr.options: unknown option\(s\) "
         r"\['no_such_option'\] for whisper"),
        ({"recognizer": "no_such_package.asr:make"}, r"signals.asr.recognizer: cannot import"),
        ({"recognizer": "tests.curate.models.fakes:not_a_recognizer"}, r"has no model_id"),
        ({"recognizer": "tests.curate.models.fakes:broken", "model_path": "/w"},
         r"recognizer 'tests.curate.models.fakes:broken' failed to load: OSError: .*under /w"),
        ({"recognizer": "faster-whisper"}, r"faster-whisper needs a local CTranslate2 model"),
    ],
)
def test_an_unloadable_recogniser_is_a_load_error_naming_the_field(model_libraries, asr, message):
    with pytest.raises(ModelLoadError, match=message):
        load_recognizer(AsrConfig(enabled=True, **asr))


def test_pocketsphinx_recogniser_reads_the_wheel_model_by_default(model_libraries):
    recognizer = PocketSphinxRecognizer()
    assert "en-us.lm.bin" in recognizer.info.files and recognizer.info.detail == "en-us"
    assert ModelSignalsConfig().asr.recognizer == "whisper"  # the default since issue 14
