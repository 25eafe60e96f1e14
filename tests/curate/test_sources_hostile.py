"""Regression tests for source inputs a red-team run used to break the readers with (issue 16).

Each test is named after what broke: a byte-order mark or CRLF line ends that lost keys, a JSONL
number that crashed the build, re-encoded LibriSpeech trees whose audio was never found,
symlinks that led out of the corpus, and FIFOs or ``/dev/zero`` that hung or exhausted a worker.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import apache_beam as beam
import pytest
import soundfile as sf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from curate.config import SourceKind
from curate.errors import ConfigError, InputRejected, Reason
from curate.records import Rejection
from curate.sources import ReadSources
from curate.sources.common import BOM, MAX_SECONDS, parse_keyed_line
from curate.sources.kaldi import _parse_segment
from curate.sources.librispeech import AUDIO_FORMATS
from curate.sources.manifests import JsonlLayout, _jsonl_outcomes
from tests.curate.corpus_fixtures import (
    CORPUS,
    source,
    touch_audio,
    write_jsonl,
    write_kaldi,
    write_librispeech,
    write_lines,
    write_table,
)

pytestmark = pytest.mark.timeout(120)  # a FIFO that blocks must fail the test, not hang it


_source = source


def _bom_and_crlf(path: Path) -> None:
    """Rewrite a text file as Windows editors save it: a UTF-8 BOM and CRLF line ends."""
    data = path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(BOM + data)


# --- 7. a byte-order mark and CRLF line ends ----------------------------------------------


def test_bom_and_crlf_line_ends_lose_no_key_in_any_layout(tmp_path):
    """A BOM used to glue itself to the first key (LibriSpeech: the line and its audio no
    longer paired, two wrong rejections; Kaldi: the key gained '\\ufeff' and its speaker became
    'unknown'). Every layout must read the same utterances as from clean files."""
    audio_root = tmp_path / "LibriSpeech"
    layouts = {
        "ls/": write_librispeech(audio_root),
        "nemo/": write_jsonl(tmp_path / "nemo" / "manifest.jsonl", audio_root),
        "cv/": write_table(tmp_path / "cv" / "validated.tsv", audio_root),
        "csv/": write_table(tmp_path / "cv" / "other.csv", audio_root),
        "kaldi/": write_kaldi(tmp_path / "kaldi", audio_root),
    }
    for path in [*audio_root.rglob("*.trans.txt"), tmp_path / "nemo" / "manifest.jsonl",
                 tmp_path / "cv" / "validated.tsv", tmp_path / "cv" / "other.csv",
                 *(tmp_path / "kaldi").iterdir()]:
        _bom_and_crlf(path)
    sources = [src.model_copy(update={"key_prefix": p}) for p, src in layouts.items()]
    expected = [
        (prefix + u.key, u.text, u.speaker, str(audio_root / u.relpath))
        for prefix, u in itertools.product(layouts, CORPUS)
    ]
    with TestPipeline() as p:
        utts, rejected = p | ReadSources(sources)
        got = utts | beam.Map(lambda u: (u.key, u.text, u.speaker, u.audio_uri))
        assert_that(got, equal_to(expected))
        assert_that(rejected, equal_to([]), label="NoRejections")


def test_kaldi_bom_does_not_make_a_speaker_unknown():
    """The keyed-line parser (every Kaldi table, LibriSpeech transcripts) drops a leading BOM
    and the CR of a CRLF line end."""
    key, entry = parse_keyed_line(BOM + b"spk1-utt1 spk1\r\n", "utt2spk")
    assert (key, entry.value, entry.error) == ("spk1-utt1", "spk1", None)


# --- 9. JSONL numbers out of range ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"offset": 1e308}, "'offset' is 1e+308 s, more than 1e+07 s"),
        ({"offset": 0, "duration": 1e308}, "'duration' is 1e+308 s"),
        ({"offset": 10**400}, "'offset' is 1000000000000000000000000000000000000000…"),
        ({"offset": MAX_SECONDS + 1}, "more than 1e+07 s"),
        ({"offset": -0.5}, "must not be negative"),
        ({"duration": "12"}, "must be a number of seconds"),
    ],
)
def test_jsonl_number_out_of_range_rejects_the_line_instead_of_crashing_the_build(fields, detail):
    """``"offset": 1e308`` used to raise OverflowError (round(inf)) and kill the whole build."""
    layout = JsonlLayout(path="/m/manifest.jsonl", audio_root="/m")
    line = json.dumps({"audio_filepath": "a.wav", "text": "hi", **fields}).encode()
    (outcome,) = _jsonl_outcomes(line, layout)
    assert isinstance(outcome, Rejection), outcome
    assert outcome.reason is Reason.MALFORMED_ENTRY and detail in outcome.detail, outcome.detail
    assert len(outcome.detail) < 300


def test_jsonl_integer_too_long_to_parse_rejects_the_line():
    """Python's json refuses integers of more than 4300 digits with a ValueError that is not a
    JSONDecodeError: it used to escape the reader."""
    layout = JsonlLayout(path="/m/manifest.jsonl", audio_root="/m")
    line = b'{"audio_filepath": "a.wav", "text": "hi", "speaker": ' + b"7" * 5000 + b"}"
    (outcome,) = _jsonl_outcomes(line, layout)
    assert outcome.reason is Reason.MALFORMED_ENTRY and "not valid JSON" in outcome.detail


def test_kaldi_segment_times_out_of_range_are_malformed_not_an_overflow():
    from curate.sources.common import Entry

    for value in ("rec 1e308 2e308", "rec 0 1e308", "rec 1e9 -1"):
        with pytest.raises(InputRejected) as info:
            _parse_segment("u1", Entry(source_uri="segments", value=value))
        assert info.value.reason is Reason.MALFORMED_ENTRY, value


# --- 10. LibriSpeech trees of any audio format the decoder reads ----------------------------


def test_audio_formats_are_formats_the_installed_decoder_reads():
    available = set(sf.available_formats())
    assert set(AUDIO_FORMATS.values()) <= available, set(AUDIO_FORMATS.values()) - available


def test_reencoded_librispeech_tree_is_found_and_two_files_for_one_key_name_both(tmp_path):
    """Only .flac and .wav used to be audio: a tree of .opus/.ogg/.mp3/.sph files had every
    utterance rejected as missing_audio."""
    root = tmp_path / "ls"
    chapter = root / "1" / "10"
    exts = {"1-10-0000": ".opus", "1-10-0001": ".ogg", "1-10-0002": ".mp3",
            "1-10-0003": ".sph", "1-10-0004": ".FLAC", "1-10-0005": ".aiff"}
    for key, ext in exts.items():
        touch_audio(chapter / f"{key}{ext}")
    touch_audio(chapter / "1-10-0006.mp3")  # two files for one key: the lossless one is used
    touch_audio(chapter / "1-10-0006.flac")
    write_lines(chapter / "1-10.trans.txt", [f"{k} TEXT" for k in [*exts, "1-10-0006"]])
    with TestPipeline() as p:
        utts, rejected = p | ReadSources([_source(SourceKind.LIBRISPEECH, root)])
        got = utts | beam.Map(lambda u: (u.key, os.path.basename(u.audio_uri)))
        assert_that(got, equal_to([(k, k + e) for k, e in exts.items()]
                                  + [("1-10-0006", "1-10-0006.flac")]))
        assert_that(
            rejected | beam.Map(lambda r: (r.key, r.reason, r.audio_uri, r.detail)),
            equal_to([(
                "1-10-0006", Reason.DUPLICATE_KEY, str(chapter / "1-10-0006.mp3"),
                f"key '1-10-0006' has two audio files, {chapter / '1-10-0006.flac'} and "
                f"{chapter / '1-10-0006.mp3'}: the first is used (by extension, in the order of "
                "curate.sources.librispeech.AUDIO_FORMATS, then path)",
            )]),
            label="Rejections",
        )


# --- 11. symlinks out of the corpus; 8. FIFOs and devices --------------------------------------


def test_symlinks_out_of_the_corpus_are_path_outside_root_in_every_layout(tmp_path):
    """Symlinks inside the corpus pointing outside its root used to be followed."""
    outside = touch_audio(tmp_path / "elsewhere" / "secret.flac")
    secret_text = write_lines(tmp_path / "elsewhere" / "private.txt", ["9-90-0000 PRIVATE"])
    root = tmp_path / "ls"
    write_librispeech(root, CORPUS[:1])
    chapter = root / "19" / "198"
    (chapter / "19-198-0009.flac").symlink_to(outside)  # audio out of the root
    os.symlink(chapter / "19-198-0000.flac", chapter / "19-198-0008.flac")  # a link inside: fine
    with open(chapter / "19-198.trans.txt", "a") as f:
        f.write("19-198-0009 LINKED OUT\n19-198-0008 LINKED IN\n")
    (root / "9" / "90").mkdir(parents=True)
    (root / "9" / "90" / "9-90.trans.txt").symlink_to(secret_text)  # a transcript out of it
    manifest = tmp_path / "nemo" / "manifest.jsonl"
    (manifest.parent / "a").mkdir(parents=True)
    (manifest.parent / "a" / "link.flac").symlink_to(outside)
    write_lines(manifest, [json.dumps({"audio_filepath": "a/link.flac", "text": "x"})])
    kaldi = tmp_path / "kaldi"
    write_lines(kaldi / "wav.scp", [f"k1 {manifest.parent / 'a' / 'link.flac'}"])
    write_lines(kaldi / "text", ["k1 hi"])
    sources = [
        _source(SourceKind.LIBRISPEECH, root),
        _source(SourceKind.JSONL, manifest),
        _source(SourceKind.KALDI, kaldi, audio_root=manifest.parent),
    ]
    with TestPipeline() as p:
        utts, rejected = p | ReadSources(sources)
        assert_that(utts | beam.Map(lambda u: u.key), equal_to(["19-198-0000", "19-198-0008"]))
        assert_that(
            rejected | beam.Map(lambda r: (r.key, r.reason, "outside" in r.detail)),
            equal_to([("19-198-0009", Reason.PATH_OUTSIDE_ROOT, True),
                      ("", Reason.PATH_OUTSIDE_ROOT, True),  # the transcript file, unread
                      ("link", Reason.PATH_OUTSIDE_ROOT, True),
                      ("k1", Reason.PATH_OUTSIDE_ROOT, True)]),
            label="Rejections",
        )


def test_fifo_and_dev_zero_in_a_corpus_are_rejected_without_blocking(tmp_path):
    """A FIFO used to hang the build forever and a symlink to /dev/zero to grow until memory
    ran out. Neither is opened now."""
    root = tmp_path / "ls"
    write_librispeech(root, CORPUS[:1])
    chapter = root / "19" / "198"
    os.mkfifo(chapter / "19-198-0005.flac")  # audio: the decode stage refuses it (tests/audio)
    os.mkfifo(root / "19" / "fifo.trans.txt")
    with open(chapter / "19-198.trans.txt", "a") as f:
        f.write("19-198-0005 A FIFO\n")
    with TestPipeline() as p:
        utts, rejected = p | ReadSources([_source(SourceKind.LIBRISPEECH, root)])
        assert_that(utts | beam.Map(lambda u: u.key), equal_to(["19-198-0000", "19-198-0005"]))
        assert_that(
            rejected | beam.Map(lambda r: (r.key, r.reason, r.detail)),
            equal_to([("", Reason.UNSUPPORTED_PATH,
                       f"transcript {root / '19' / 'fifo.trans.txt'} is a FIFO, not a file")]),
            label="Rejections",
        )


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_manifest_that_is_a_fifo_or_dev_zero_fails_at_once_with_one_line(tmp_path, kind):
    good = write_jsonl(tmp_path / "ok.jsonl", tmp_path)
    manifest = tmp_path / "bad.jsonl"
    kaldi = tmp_path / "kaldi"
    write_lines(kaldi / "wav.scp", ["u1 u1.wav"])
    if kind == "fifo":
        os.mkfifo(manifest)
        os.mkfifo(kaldi / "text")
    else:
        manifest.symlink_to("/dev/zero")
        (kaldi / "text").symlink_to("/dev/zero")
    what = "a FIFO" if kind == "fifo" else "a character device"
    for bad in (_source(SourceKind.JSONL, manifest), _source(SourceKind.TSV, manifest),
                _source(SourceKind.KALDI, kaldi)):
        with pytest.raises(ConfigError) as info:
            ReadSources([good, bad])
        assert f"is {what}, not a regular file" in str(info.value), info.value
        assert str(info.value).startswith("sources[1] ")

