"""What the loaders share (registry/loaders/records.py): the 16-bit PCM transport."""

from __future__ import annotations

import numpy as np

from curate.config import AudioCodec
from registry.loaders.records import (
    PCM16_CODECS,
    Decoder,
    flat_batch,
    pad_batch,
    pad_flat,
    pcm16_exact,
)
from registry.loaders.split import SplitFiles


def test_the_pcm16_codecs_are_the_codecs_the_build_writes() -> None:
    assert PCM16_CODECS == {c.value for c in AudioCodec}


def test_a_flat_batch_of_16_bit_pcm_pads_back_to_the_float32_batch_bit_for_bit() -> None:
    pcm = np.array([-32768, -7, 0, 3, 32767], dtype=np.int16)
    examples = [{"audio": pcm.astype(np.float32) / 32768, "n": np.int64(5)},
                {"audio": pcm[1:3].astype(np.float32) / 32768, "n": np.int64(2)}]
    flat = flat_batch(examples, pcm16=True)
    assert flat["audio"].dtype == np.int16
    assert flat["audio"].tolist() == pcm.tolist() + pcm[1:3].tolist()
    back, padded = pad_flat(flat, dtype="float32"), pad_batch(examples)
    assert list(back) == list(padded)
    assert back["audio"].dtype == np.float32
    np.testing.assert_array_equal(back["audio"].view(np.int32), padded["audio"].view(np.int32))
    np.testing.assert_array_equal(back["audio_lengths"], padded["audio_lengths"])
    assert pad_flat(flat)["audio"].dtype == np.int16  # without dtype: the PCM, padded


def test_pcm16_is_only_for_decoded_float32_audio_of_a_16_bit_codec(train: SplitFiles) -> None:
    assert train.audio_codec == "flac" and pcm16_exact(train, Decoder(train))
    assert not pcm16_exact(train, Decoder(train, audio_dtype="int16"))
    assert not pcm16_exact(train, Decoder(train, decode_audio=False))
