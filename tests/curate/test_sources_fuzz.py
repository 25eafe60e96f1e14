"""Property-based tests of the source parsers: no input makes them crash or hang (issue 16).

Every reader turns one input into exactly one outcome (an ``Utterance`` or a ``Rejection``),
whatever the bytes: transcript lines, NeMo JSON lines (arbitrary bytes and arbitrary JSON
objects with the fields of every type), Common Voice TSV/CSV rows and Kaldi tables (the keyed
lines, the segment times, the joins). Examples are bounded (see ``tests/fuzz.py``).
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from curate.errors import Reason
from curate.records import Rejection, Utterance
from curate.sources.common import BOM, Entry, parse_keyed_line
from curate.sources.kaldi import (
    SEGMENTS,
    TEXT,
    UTT2SPK,
    WAV_SCP,
    KaldiLayout,
    _parse_segment,
    _resolve_recording,
    _segment,
    _whole_recording,
)
from curate.sources.librispeech import LibriSpeechLayout, _pair
from curate.sources.manifests import (
    JsonlLayout,
    TableDialect,
    TableLayout,
    _jsonl_outcomes,
    _table_outcomes,
)
from tests.fuzz import fuzz_settings

pytestmark = pytest.mark.timeout(300)

# Lines as hostile files hold them: any bytes, with the characters parsers trip on made common.
_TRICKY = st.sampled_from([b"\t", b" ", b"\r", b"\n", b"\x00", BOM, b"\xff", b"\xc3", b'"',
                           b",", b"\\", b"/", b"..", b"|", b":", b"-", b"1e308", b"\xe2\x80\xa8"])
LINES = st.lists(st.one_of(st.binary(max_size=12), _TRICKY), max_size=16).map(b"".join)
TEXTS = st.text(max_size=20)
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=True),
    st.sampled_from([1e308, -1e308, 10**400, 0, -0.0, 1e7, 1e7 + 1]),
)
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, TEXTS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXTS, inner, max_size=3)),
    max_leaves=8,
)
FIELD_VALUES = st.one_of(JSON_VALUES, st.sampled_from(["a.wav", "../x.wav", "/etc/passwd",
                                                       "a\x00.wav", "s3://b/x.wav", ""]))

JSONL = JsonlLayout(path="/corpus/manifest.jsonl", audio_root="/corpus")
TSV = TableLayout(path="/corpus/validated.tsv", audio_root="/corpus/clips",
                  dialect=TableDialect.TSV, columns=("client_id", "path", "sentence", "up_votes"))
CSV = TableLayout(path="/corpus/other.csv", audio_root="/corpus/clips",
                  dialect=TableDialect.CSV, columns=("path", "sentence", "client_id"))
KALDI = KaldiLayout(data_dir="/corpus/kaldi", audio_root="/corpus", has_utt2spk=True,
                    has_segments=True, key_prefix="k/")
LIBRISPEECH = LibriSpeechLayout(root="/corpus/ls")


def _one_outcome(outcomes: list) -> None:
    assert len(outcomes) == 1, outcomes
    _sane(outcomes[0])


def _sane(outcome: object) -> None:
    if isinstance(outcome, Rejection):
        assert isinstance(outcome.reason, Reason) and isinstance(outcome.detail, str)
        outcome.detail.encode("utf-8")  # it is stored in parquet
        return
    assert isinstance(outcome, Utterance), outcome
    assert math.isfinite(outcome.start_s) and outcome.start_s >= 0
    assert outcome.end_s is None or (math.isfinite(outcome.end_s) and outcome.end_s >= 0)
    for text in (outcome.key, outcome.text, outcome.speaker, outcome.audio_uri):
        text.encode("utf-8")


@fuzz_settings(120)
@given(LINES)
def test_keyed_line_parser_never_raises(raw):
    parsed = parse_keyed_line(raw, "/corpus/text")
    if parsed is not None:
        key, entry = parsed
        assert key and isinstance(entry, Entry)
        assert entry.error is None or entry.reason is Reason.TEXT_NOT_UTF8


@fuzz_settings(100)
@given(st.lists(LINES, max_size=6), st.lists(st.sampled_from(["x.flac", "x.mp3", "x.FLAC",
                                                               "y/x.wav"]), max_size=3))
def test_librispeech_pairing_gives_one_outcome_per_input(lines, audio_names):
    entries = [parse_keyed_line(b"x " + raw, "/corpus/ls/a.trans.txt") for raw in lines]
    grouped = {"lines": [e for _, e in filter(None, entries)],
               "audio": [Entry(source_uri=LIBRISPEECH.root, value=f"/corpus/ls/{n}")
                         for n in audio_names]}
    outcomes = list(_pair(("x", grouped), LIBRISPEECH))
    n_inputs = max(1, len(grouped["lines"])) + max(0, len(grouped["audio"]) - 1)
    if grouped["lines"] or grouped["audio"]:
        assert len(outcomes) == n_inputs, outcomes
    for outcome in outcomes:
        _sane(outcome)


@fuzz_settings(120)
@given(LINES)
def test_jsonl_reader_gives_one_outcome_for_any_bytes(raw):
    outcomes = list(_jsonl_outcomes(raw, JSONL))
    if raw.strip():
        _one_outcome(outcomes)
    else:
        assert outcomes == []


@fuzz_settings(120)
@given(st.dictionaries(st.sampled_from(["audio_filepath", "text", "speaker", "offset",
                                        "duration", "other"]), FIELD_VALUES, max_size=6))
@example({"audio_filepath": "a\x00.wav", "text": "hi"})  # found here: realpath raised on NUL
@example({"audio_filepath": "a.wav", "text": "hi", "offset": 1e308})
@example({"audio_filepath": []})  # found here: naming the rejected line raised
def test_jsonl_reader_gives_one_outcome_for_any_json_object(obj):
    try:
        raw = json.dumps(obj).encode()
    except ValueError:  # (an integer too long for json.dumps itself)
        return
    _one_outcome(list(_jsonl_outcomes(raw, JSONL)))
    _one_outcome(list(_jsonl_outcomes(BOM + raw + b"\r", JSONL)))


@fuzz_settings(120)
@given(st.one_of(LINES, st.lists(st.one_of(TEXTS, st.just("a.mp3")), max_size=5)
                 .map(lambda xs: "\t".join(xs).encode())))
@pytest.mark.parametrize("layout", [TSV, CSV], ids=["tsv", "csv"])
def test_table_reader_gives_one_outcome_for_any_row(layout, raw):
    outcomes = list(_table_outcomes(raw, layout))
    if raw.strip():
        _one_outcome(outcomes)
    else:
        assert outcomes == []


@fuzz_settings(120)
@given(LINES)
def test_kaldi_segment_parser_never_raises_other_than_a_rejection(raw):
    parsed = parse_keyed_line(b"u1 " + raw, "/corpus/kaldi/segments")
    entry = parsed[1] if parsed else Entry(source_uri="segments", value="")
    try:
        rec, start, end = _parse_segment("u1", entry)
    except Exception as e:
        assert type(e).__name__ == "InputRejected", e
        return
    assert math.isfinite(start) and 0 <= start and (end is None or start < end <= 1e7)


def _table(lines: list[bytes], name: str) -> list[Entry]:
    parsed = [parse_keyed_line(b"u1 " + raw, f"/corpus/kaldi/{name}") for raw in lines]
    return [entry for _, entry in filter(None, parsed)]


@fuzz_settings(100)
@given(st.lists(LINES, max_size=3), st.lists(LINES, max_size=3), st.lists(LINES, max_size=2),
       st.lists(LINES, max_size=3))
def test_kaldi_joins_give_one_outcome_per_input(wav, text, spk, seg):
    grouped = {WAV_SCP: _table(wav, WAV_SCP), TEXT: _table(text, TEXT),
               UTT2SPK: _table(spk, UTT2SPK)}
    whole = list(_whole_recording(("u1", grouped), KALDI))
    if grouped[WAV_SCP] or grouped[TEXT]:
        assert len(whole) == max(1, len(grouped[WAV_SCP])) + max(0, len(grouped[TEXT]) - 1)
    for outcome in whole:
        _sane(outcome)
    segmented = list(_segment(("u1", {**grouped, SEGMENTS: _table(seg, SEGMENTS)}), KALDI))
    pending = [x for x in segmented if isinstance(x, tuple)]
    for rec_id, p in pending:
        for outcome in _resolve_recording((rec_id, {WAV_SCP: grouped[WAV_SCP],
                                                    "pending": [p]}), KALDI):
            _sane(outcome)
