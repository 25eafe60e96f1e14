"""ReadSources: every layout, every source-stage reason, and accepted + rejected == read."""

from __future__ import annotations

import doctest
import itertools
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.io.filesystem import CompressionTypes, FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from curate.config import SourceKind
from curate.errors import ConfigError, Reason, Stage
from curate.records import Rejection, Utterance
from curate.sources import REJECTED, UTTERANCES, ReadSources
from curate.sources import paths
from curate.sources.read import _keep_first
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


_source = source


def _reasons(rejected: beam.PCollection, label: str) -> beam.PCollection:
    return rejected | label >> beam.Map(lambda r: (r.key, r.reason))


def _assert_count(utts, rejected, expected: int, label: str = "Read") -> None:
    """accepted + rejected == read."""
    total = (utts, rejected) | f"{label}Flatten" >> beam.Flatten()
    counted = total | f"{label}Count" >> beam.combiners.Count.Globally()
    assert_that(counted, equal_to([expected]), label=f"{label}Accounting")


# --- paths -----------------------------------------------------------------------------------


def test_paths_docstring_examples_run():
    assert doctest.testmod(paths).failed == 0


def test_paths_join_normalise_and_is_within_for_local_paths_and_uris():
    assert paths.join("gs://b/corpus", "clips", "a.mp3") == "gs://b/corpus/clips/a.mp3"
    assert paths.join("gs://b/corpus", "/etc/passwd") == "/etc/passwd"
    assert paths.join("/corpus", "s3://other/x.wav") == "s3://other/x.wav"
    assert paths.normalise("gs://b/c/./d/../e.wav") == "gs://b/c/e.wav"
    assert paths.normalise("/a/b/../c") == "/a/c"
    assert paths.normalise("file:///a/b/../c") == "/a/c"  # a file:// URI is a local path
    assert paths.join("file:///corpus", "a.wav") == "/corpus/a.wav"
    assert paths.join("/corpus", "file:///elsewhere/a.wav") == "/elsewhere/a.wav"
    assert paths.is_within("/corpus", "file:///corpus/x/y.wav")
    assert paths.is_within("gs://b/corpus", "gs://b/corpus/x/y.wav")
    assert paths.is_within("gs://b/corpus/", "gs://b/corpus")
    assert not paths.is_within("gs://b/corpus", "gs://b/corpus/../../etc/passwd")
    assert not paths.is_within("gs://b/corpus", "gs://b/corpus2/x.wav")
    assert not paths.is_within("gs://b/corpus", "s3://b/corpus/x.wav")
    assert not paths.is_within("gs://b/corpus", "/b/corpus/x.wav")
    assert paths.is_within("/data", "/data/a/../b.wav")
    assert not paths.is_within("/data", "/data/../etc/passwd")
    assert not paths.is_within("/data", "/database/x.wav")
    assert paths.stem("s3://b/x/19-198-0000.flac") == "19-198-0000"
    assert paths.relative_parts("gs://b/c", "gs://b/c/19/198/x.flac") == ["19", "198", "x.flac"]


# --- the same corpus in every layout ---------------------------------------------------------


def test_same_corpus_reads_the_same_in_every_layout_with_key_prefixes(tmp_path):
    audio_root = tmp_path / "LibriSpeech"
    layouts = {
        "ls/": write_librispeech(audio_root),
        "nemo/": write_jsonl(tmp_path / "nemo" / "manifest.jsonl", audio_root),
        "cv/": write_table(tmp_path / "cv" / "validated.tsv", audio_root),
        "csv/": write_table(tmp_path / "cv" / "other.csv", audio_root),
        "kaldi/": write_kaldi(tmp_path / "kaldi", audio_root),
    }
    sources = [src.model_copy(update={"key_prefix": p}) for p, src in layouts.items()]
    expected = [
        (prefix, u.key, u.text, u.speaker, str(audio_root / u.relpath), 0.0, None)
        for prefix, u in itertools.product(layouts, CORPUS)
    ]
    with TestPipeline() as p:
        utts, rejected = p | ReadSources(sources)
        projected = utts | beam.Map(
            lambda u: (
                u.key[: u.key.index("/") + 1],
                u.key[u.key.index("/") + 1 :],
                u.text,
                u.speaker,
                u.audio_uri,
                u.start_s,
                u.end_s,
            )
        )
        assert_that(projected, equal_to(expected))
        assert_that(rejected, equal_to([]), label="NoRejections")


class _UriFileSystem(LocalFileSystem):
    """Local files served as ``fakeuri://tmp/...`` URIs: readers must treat paths as URIs."""

    PREFIX = "fakeuri://"

    @classmethod
    def scheme(cls) -> str:
        return "fakeuri"

    @classmethod
    def uri(cls, local: Path) -> str:
        return cls.PREFIX + str(local).lstrip("/")

    def _local(self, uri: str) -> str:
        return "/" + uri.removeprefix(self.PREFIX)

    def _meta(self, m: FileMetadata) -> FileMetadata:
        return FileMetadata(self.uri(Path(m.path)), m.size_in_bytes, m.last_updated_in_seconds)

    def _list(self, dir_or_prefix):
        return (self._meta(m) for m in super()._list(self._local(dir_or_prefix)))

    def metadata(self, path):
        return self._meta(super().metadata(self._local(path)))

    def open(self, path, mime_type="application/octet-stream",
             compression_type=CompressionTypes.AUTO):
        return super().open(self._local(path), mime_type, compression_type)

    def exists(self, path):
        return super().exists(self._local(path))

    def size(self, path):
        return super().size(self._local(path))

    def last_updated(self, path):
        return super().last_updated(self._local(path))

    def checksum(self, path):
        return super().checksum(self._local(path))


def test_every_layout_reads_through_a_non_local_beam_filesystem(tmp_path):
    uri = _UriFileSystem.uri
    audio_root = tmp_path / "LibriSpeech"
    layouts = {
        "ls/": write_librispeech(audio_root),
        "nemo/": write_jsonl(tmp_path / "nemo" / "manifest.jsonl", audio_root),
        "cv/": write_table(tmp_path / "cv" / "validated.tsv", audio_root),
        "kaldi/": write_kaldi(tmp_path / "kaldi", audio_root),
    }
    sources = [
        src.model_copy(
            update={
                "key_prefix": prefix,
                "path": uri(Path(src.path)),
                "audio_root": src.audio_root and uri(Path(src.audio_root)),
            }
        )
        for prefix, src in layouts.items()
    ]
    escape = tmp_path / "escape.jsonl"
    write_lines(escape, [json.dumps({"audio_filepath": "../../x.wav", "text": "t"})])
    sources.append(_source(SourceKind.JSONL, uri(escape)))
    expected = [
        (prefix + u.key, uri(audio_root / u.relpath)) for prefix in layouts for u in CORPUS
    ]
    with TestPipeline() as p:
        utts, rejected = p | ReadSources(sources)
        assert_that(utts | beam.Map(lambda u: (u.key, u.audio_uri)), equal_to(expected))
        assert_that(
            rejected | beam.Map(lambda r: (r.key, r.reason, r.audio_uri)),
            equal_to([("x", Reason.PATH_OUTSIDE_ROOT, uri(tmp_path.parent.parent / "x.wav"))]),
            label="Rejections",
        )


# --- librispeech -----------------------------------------------------------------------------


def test_librispeech_pairs_lines_and_audio_and_rejects_each_orphan(tmp_path):
    root = tmp_path / "ls"
    chapter = root / "5" / "50"
    for stem in ("5-50-0000", "5-50-0002", "5-50-0003", "5-50-0004", "5-50-0005"):
        touch_audio(chapter / f"{stem}.flac")
    touch_audio(chapter / "5-50-0005.wav")  # a second audio file for one key
    write_lines(
        chapter / "5-50.trans.txt",
        [
            "5-50-0000 OK TEXT",
            "",
            "5-50-0001 NO AUDIO FILE",
            b"5-50-0003 CAF\xe9 LATIN-1",
            "5-50-0004",
            "5-50-0005 TWO AUDIO FILES",
        ],
    )
    touch_audio(root / "6" / "60" / "6-60-0000.wav")
    write_lines(root / "6" / "60" / "6-60.trans.txt", ["6-60-0000 WAV IS FINE"])
    touch_audio(root / "spk7" / "ch" / "utt7.flac")  # no '-' in the key: speaker directory
    write_lines(root / "spk7" / "ch" / "any.trans.txt", ["utt7 DIRECTORY SPEAKER"])
    write_lines(root / "README.TXT", ["not part of the corpus"])
    trans = str(chapter / "5-50.trans.txt")

    with TestPipeline() as p:
        utts, rejected = p | ReadSources([_source(SourceKind.LIBRISPEECH, root)])
        assert_that(
            utts,
            equal_to(
                [
                    Utterance(key="5-50-0000", audio_uri=str(chapter / "5-50-0000.flac"),
                              text="OK TEXT", speaker="5", source_uri=trans),
                    Utterance(key="5-50-0004", audio_uri=str(chapter / "5-50-0004.flac"),
                              text="", speaker="5", source_uri=trans),
                    Utterance(key="5-50-0005", audio_uri=str(chapter / "5-50-0005.flac"),
                              text="TWO AUDIO FILES", speaker="5", source_uri=trans),
                    Utterance(key="6-60-0000", audio_uri=str(root / "6/60/6-60-0000.wav"),
                              text="WAV IS FINE", speaker="6",
                              source_uri=str(root / "6/60/6-60.trans.txt")),
                    Utterance(key="utt7", audio_uri=str(root / "spk7/ch/utt7.flac"),
                              text="DIRECTORY SPEAKER", speaker="spk7",
                              source_uri=str(root / "spk7/ch/any.trans.txt")),
                ]
            ),
        )
        assert_that(
            rejected | beam.Map(lambda r: (r.key, r.reason, r.stage, r.audio_uri)),
            equal_to(
                [
                    ("5-50-0001", Reason.MISSING_AUDIO, Stage.SOURCE, ""),
                    ("5-50-0002", Reason.MISSING_TRANSCRIPT, Stage.SOURCE,
                     str(chapter / "5-50-0002.flac")),
                    ("5-50-0003", Reason.TEXT_NOT_UTF8, Stage.SOURCE,
                     str(chapter / "5-50-0003.flac")),
                    ("5-50-0005", Reason.DUPLICATE_KEY, Stage.SOURCE,
                     str(chapter / "5-50-0005.wav")),
                ]
            ),
            label="Rejections",
        )
        _assert_count(utts, rejected, 9)  # 8 keys + 1 extra audio file


# --- jsonl -----------------------------------------------------------------------------------


def test_jsonl_manifest_rejects_bad_lines_one_each(tmp_path):
    manifest = tmp_path / "nemo" / "manifest.jsonl"
    root = manifest.parent
    inside = root / "a" / "x9.wav"
    rows = [
        {"audio_filepath": "a/x1.wav", "text": " one ", "speaker": 7, "duration": 1.5},
        {"audio_filepath": "a/long.wav", "text": "seg", "offset": 12.5, "duration": 2.0},
        '{"audio_filepath": ',
        {"text": "no audio"},
        {"audio_filepath": "a/x5.wav"},
        b'{"audio_filepath": "a/x6.wav", "text": "caf\xe9"}',
        {"audio_filepath": "../../etc/passwd", "text": "escape"},
        {"audio_filepath": "/etc/hosts", "text": "absolute elsewhere"},
        {"audio_filepath": str(inside), "text": "absolute inside"},
        "   ",
        [1, 2],
        {"audio_filepath": "a/x12.wav", "text": "negative", "offset": -1},
        "[" * 100_000,  # nests deeper than the JSON parser recurses
        '{"audio_filepath": "a/x14.wav", "text": "lone \\ud800 surrogate"}',
    ]
    write_lines(manifest, [r if isinstance(r, (str, bytes)) else json.dumps(r) for r in rows])
    src = str(manifest)

    with TestPipeline() as p:
        utts, rejected = p | ReadSources([_source(SourceKind.JSONL, manifest)])
        assert_that(
            utts,
            equal_to(
                [
                    Utterance(key="x1", audio_uri=str(root / "a/x1.wav"), text="one",
                              speaker="7", source_uri=src),
                    Utterance(key="long_00012500", audio_uri=str(root / "a/long.wav"),
                              text="seg", speaker="unknown", source_uri=src, start_s=12.5,
                              end_s=14.5),
                    Utterance(key="x9", audio_uri=str(inside), text="absolute inside",
                              speaker="unknown", source_uri=src),
                ]
            ),
        )
        assert_that(
            _reasons(rejected, "Reasons"),
            equal_to(
                [
                    ("", Reason.MALFORMED_ENTRY),
                    ("", Reason.MALFORMED_ENTRY),
                    ("x5", Reason.MALFORMED_ENTRY),
                    ("x6", Reason.TEXT_NOT_UTF8),
                    ("passwd", Reason.PATH_OUTSIDE_ROOT),
                    ("hosts", Reason.PATH_OUTSIDE_ROOT),
                    ("", Reason.MALFORMED_ENTRY),
                    ("x12", Reason.MALFORMED_ENTRY),
                    ("", Reason.MALFORMED_ENTRY),
                    ("x14", Reason.TEXT_NOT_UTF8),
                ]
            ),
            label="Rejections",
        )

        def escape_detail_names_path_and_root(rejections: list[Rejection]) -> None:
            (escape,) = [r for r in rejections if r.key == "passwd"]
            assert "'../../etc/passwd'" in escape.detail and str(root) in escape.detail
            assert escape.source_uri == src

        assert_that(rejected, escape_detail_names_path_and_root, label="EscapeDetail")
        _assert_count(utts, rejected, 13)  # non-blank lines


# --- tsv / csv -------------------------------------------------------------------------------


def test_common_voice_tsv_and_csv_rows(tmp_path):
    tsv = tmp_path / "cv" / "validated.tsv"
    write_lines(
        tsv,
        [
            "client_id\tpath\tsentence\tup_votes",
            'c1\tx1.mp3\t"Hi," she said\t2',
            "c2\tx2.mp3",
            "c3\t../../x3.mp3\tescape\t0",
            b"c4\tx4.mp3\tcaf\xe9\t0",
            "c5\tx5.mp3\ttoo\tmany\tfields",
            "\tx6.mp3\tno client id\t0",
            "c7\t\tno path\t0",
        ],
    )
    csv_path = tmp_path / "cv" / "other.csv"
    write_lines(
        csv_path,
        [
            "path,sentence,client_id",  # any column order
            'y1.mp3,"Hello, world",d1',
            'y2.mp3,"unterminated,d2',
            'y3.mp3,"say ""hi""",d3',
        ],
    )
    clips = tmp_path / "cv" / "clips"
    sources = [
        _source(SourceKind.TSV, tsv),
        _source(SourceKind.TSV, csv_path, key_prefix="csv/", audio_root=tmp_path / "mp3"),
    ]

    with TestPipeline() as p:
        utts, rejected = p | ReadSources(sources)
        assert_that(
            utts | beam.Map(lambda u: (u.key, u.text, u.speaker, u.audio_uri, u.source_uri)),
            equal_to(
                [
                    ("x1", '"Hi," she said', "c1", str(clips / "x1.mp3"), str(tsv)),
                    ("x6", "no client id", "unknown", str(clips / "x6.mp3"), str(tsv)),
                    ("csv/y1", "Hello, world", "d1", str(tmp_path / "mp3/y1.mp3"), str(csv_path)),
                    ("csv/y3", 'say "hi"', "d3", str(tmp_path / "mp3/y3.mp3"), str(csv_path)),
                ]
            ),
        )
        assert_that(
            _reasons(rejected, "Reasons"),
            equal_to(
                [
                    ("x2", Reason.MALFORMED_ENTRY),
                    ("x3", Reason.PATH_OUTSIDE_ROOT),
                    ("x4", Reason.TEXT_NOT_UTF8),
                    ("x5", Reason.MALFORMED_ENTRY),
                    ("", Reason.MALFORMED_ENTRY),
                    ("csv/y2", Reason.MALFORMED_ENTRY),
                ]
            ),
            label="Rejections",
        )
        _assert_count(utts, rejected, 10)  # rows after the headers


# --- kaldi -----------------------------------------------------------------------------------


def test_kaldi_dir_without_segments(tmp_path):
    data = tmp_path / "kaldi"
    write_lines(
        data / "wav.scp",
        [
            "u1 audio/u1.wav",
            "u2 audio/u2.wav",
            "u4 sox audio/u4.sph -t wav - |",
            "u5 ../outside.wav",
            "u6 audio/u6b.wav",
            "u6 audio/u6.wav",
            "u7",
            "u8 feats.ark:123",
            "u9 audio/u9.wav",
            "u10 audio/u10.wav",
        ],
    )
    write_lines(
        data / "text",
        ["u1 hello", "u3 no audio", "u4 pipe", "u5 outside", "u6 six", "u7 seven", "u8 ark",
         b"u9 caf\xe9", "u10"],
    )
    write_lines(data / "utt2spk", ["u1 s1", "u6 s6", "u99 s99"])
    text = str(data / "text")

    with TestPipeline() as p:
        utts, rejected = p | ReadSources([_source(SourceKind.KALDI, data)])
        assert_that(
            utts,
            equal_to(
                [
                    Utterance(key="u1", audio_uri=str(data / "audio/u1.wav"), text="hello",
                              speaker="s1", source_uri=text),
                    Utterance(key="u6", audio_uri=str(data / "audio/u6.wav"), text="six",
                              speaker="s6", source_uri=text),
                    Utterance(key="u10", audio_uri=str(data / "audio/u10.wav"), text="",
                              speaker="unknown", source_uri=text),
                ]
            ),
        )
        assert_that(
            _reasons(rejected, "Reasons"),
            equal_to(
                [
                    ("u2", Reason.MISSING_TRANSCRIPT),
                    ("u3", Reason.MISSING_AUDIO),
                    ("u4", Reason.UNSUPPORTED_PATH),
                    ("u5", Reason.PATH_OUTSIDE_ROOT),
                    ("u6", Reason.DUPLICATE_KEY),
                    ("u7", Reason.MALFORMED_ENTRY),
                    ("u8", Reason.UNSUPPORTED_PATH),
                    ("u9", Reason.TEXT_NOT_UTF8),
                ]
            ),
            label="Rejections",
        )
        _assert_count(utts, rejected, 11)  # 10 ids in wav.scp or text + 1 repeated line


def test_kaldi_segments_and_rejection_counters(tmp_path):
    data = tmp_path / "kaldi"
    write_lines(
        data / "wav.scp",
        ["recA audio/recA.wav", "recB cat x.wav |", "recC audio/unused.wav",
         "recD audio/d1.wav", "recD audio/d2.wav"],
    )
    write_lines(
        data / "segments",
        ["s1 recA 0.0 1.5", "s2 recA 1.5 -1", "s3 recB 0 1", "s4 recZ 0 1", "s5 recA 2 1",
         "s6 recA 0 1", "s8 recD 0 1"],
    )
    write_lines(data / "text", ["s1 a", "s2 b", "s3 c", "s4 d", "s5 e", "s7 only text", "s8 h"])
    write_lines(data / "utt2spk", ["s1 spk1"])
    text, audio = str(data / "text"), str(data / "audio/recA.wav")

    p = TestPipeline()
    utts, rejected = p | ReadSources([_source(SourceKind.KALDI, data, key_prefix="k/")])
    assert_that(
        utts,
        equal_to(
            [
                Utterance(key="k/s1", audio_uri=audio, text="a", speaker="spk1",
                          source_uri=text, start_s=0.0, end_s=1.5),
                Utterance(key="k/s2", audio_uri=audio, text="b", speaker="unknown",
                          source_uri=text, start_s=1.5, end_s=None),
            ]
        ),
    )
    assert_that(
        rejected | beam.Map(lambda r: (r.key, r.reason, Path(r.source_uri).name)),
        equal_to(
            [
                ("k/s3", Reason.UNSUPPORTED_PATH, "wav.scp"),
                ("k/s4", Reason.MISSING_AUDIO, "segments"),
                ("k/s5", Reason.MALFORMED_ENTRY, "segments"),
                ("k/s6", Reason.MISSING_TRANSCRIPT, "segments"),
                ("k/s7", Reason.MISSING_AUDIO, "text"),
                ("k/s8", Reason.MALFORMED_ENTRY, "wav.scp"),
            ]
        ),
        label="Rejections",
    )
    _assert_count(utts, rejected, 8)  # utterance ids in segments or text
    result = p.run()
    result.wait_until_finish()

    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query(MetricsFilter().with_namespace("curate"))["counters"]
    }
    assert counters == {
        "rejected.unsupported_path": 1,
        "rejected.missing_audio": 2,
        "rejected.malformed_entry": 2,
        "rejected.missing_transcript": 1,
    }


# --- several sources -------------------------------------------------------------------------


def test_source_joins_group_by_string_keys_so_prism_can_run_them(tmp_path):
    """Regression: Beam 2.62 does not take a key's type from the annotations, so the joins of
    the LibriSpeech and Kaldi readers grouped by pickled keys, and Prism refused to build their
    stages ("unknown coder urn key: beam:coder:pickled_python:v1")."""
    audio_root = tmp_path / "LibriSpeech"
    kaldi = write_kaldi(tmp_path / "kaldi", audio_root)
    write_lines(tmp_path / "kaldi" / "segments", [f"{u.key} {u.key} 0 1" for u in CORPUS])
    p = beam.Pipeline()
    _ = p | ReadSources([write_librispeech(audio_root), kaldi])
    comps = p.to_runner_api().components
    joins = [t for t in comps.transforms.values()
             if t.spec.urn == "beam:transform:group_by_key:v1" and "CoGroupByKey" in t.unique_name]
    assert len(joins) == 3  # JoinByKey; JoinByUtterance and JoinByRecording (segments)
    for join in joins:
        (pcoll,) = join.inputs.values()
        kv = comps.coders[comps.pcollections[pcoll].coder_id]
        key = comps.coders[kv.component_coder_ids[0]]
        assert key.spec.urn == "beam:coder:string_utf8:v1", join.unique_name


def test_duplicate_keys_across_sources_keep_the_smallest_source(tmp_path):
    # Listed first in the config, but "b.jsonl" sorts after "a.jsonl": "a.jsonl" wins.
    b = tmp_path / "b.jsonl"
    a = tmp_path / "a.jsonl"
    write_lines(b, [json.dumps({"audio_filepath": "x1.wav", "text": "from b"}),
                    json.dumps({"audio_filepath": "only_b.wav", "text": "b"})])
    write_lines(a, [json.dumps({"audio_filepath": "x1.wav", "text": "from a"}),
                    json.dumps({"audio_filepath": "z/x1.wav", "text": "a again"})])
    sources = [_source(SourceKind.JSONL, b), _source(SourceKind.JSONL, a)]

    with TestPipeline() as p:
        read = p | ReadSources(sources)
        utts, rejected = read[UTTERANCES], read[REJECTED]
        assert_that(
            utts | beam.Map(lambda u: (u.key, u.text)),
            equal_to([("x1", "from a"), ("only_b", "b")]),
        )
        assert_that(
            rejected | beam.Map(lambda r: (r.key, r.reason, r.source_uri, r.audio_uri, r.detail)),
            equal_to(
                [
                    ("x1", Reason.DUPLICATE_KEY, str(a), str(tmp_path / "z/x1.wav"),
                     f"key 'x1' also read from {a} ({tmp_path / 'x1.wav'})"),
                    ("x1", Reason.DUPLICATE_KEY, str(b), str(tmp_path / "x1.wav"),
                     f"key 'x1' also read from {a} ({tmp_path / 'x1.wav'})"),
                ]
            ),
            label="Rejections",
        )
        _assert_count(utts, rejected, 4)


def test_duplicate_resolution_does_not_depend_on_arrival_order():
    dupes = [
        Utterance(key="k", audio_uri=f"/a/{n}.wav", text=t, speaker="s", source_uri=src)
        for n, t, src in [(2, "x", "/m1"), (1, "y", "/m2"), (1, "x", "/m1"), (1, "a", "/m1")]
    ]
    outcomes = {tuple(_keep_first(("k", list(order)))) for order in itertools.permutations(dupes)}
    assert len(outcomes) == 1
    kept = next(iter(outcomes))[0]
    assert (kept.source_uri, kept.audio_uri, kept.text) == ("/m1", "/a/1.wav", "a")


# --- early errors about a whole source -------------------------------------------------------


def test_broken_sources_fail_at_construction_naming_index_and_path(tmp_path):
    good = write_jsonl(tmp_path / "ok.jsonl", tmp_path)
    no_transcripts = tmp_path / "ls"
    touch_audio(no_transcripts / "1" / "2" / "1-2-0000.flac")
    no_wav_scp = tmp_path / "kaldi"
    write_lines(no_wav_scp / "text", ["u1 hi"])
    no_text = tmp_path / "kaldi2"
    write_lines(no_text / "wav.scp", ["u1 u1.wav"])
    bad_header = write_lines(tmp_path / "bad.tsv", ["client_id\tfilename\tsentence"])
    cases = [
        (_source(SourceKind.LIBRISPEECH, no_transcripts), "no *.trans.txt"),
        (_source(SourceKind.LIBRISPEECH, tmp_path / "absent"), "no *.trans.txt"),
        (_source(SourceKind.JSONL, tmp_path / "missing.jsonl"), "manifest file not found"),
        (_source(SourceKind.TSV, tmp_path / "missing.tsv"), "manifest file not found"),
        (_source(SourceKind.TSV, bad_header), "lacks column(s) path"),
        (_source(SourceKind.KALDI, no_wav_scp), "has no wav.scp"),
        (_source(SourceKind.KALDI, no_text), "has no text"),
        (
            _source(SourceKind.LIBRISPEECH, tmp_path, audio_root=tmp_path),
            "audio_root does not apply",
        ),
    ]
    for bad, message in cases:
        with pytest.raises(ConfigError) as info:
            ReadSources([good, bad])
        text = str(info.value)
        assert text.startswith(f"sources[1] ({bad.kind.value} {bad.path}): "), text
        assert message in text and "\n" not in text, text
    with pytest.raises(ConfigError, match="no sources"):
        ReadSources([])
