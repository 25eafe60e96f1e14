"""A small sample build's bytes, pinned: a refactor that changes a shard, a manifest or the
fingerprint fails here.

The corpus is ``curate.samples.make_corpus`` with a fixed seed, a handful of utterances and the
known bad inputs, built with small shards so that each split has more than one. Its manifests
hold the corpus's absolute paths (``source_uri``, ``audio_uri``), so the corpus is written to
one fixed directory, under a file lock shared by every test run on the machine; the build goes
to the test's own directory (nothing of its path is in the data).

The values were computed by this test on the code as it was before the build directory got its
layout module (issue 12). A change that means to change bytes updates them in its own commit
and says why.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
import yaml
from apache_beam.options.pipeline_options import PipelineOptions
from filelock import FileLock

from curate.build import BuildDataset
from curate.config import load_config
from curate.samples import make_corpus
from tests.manifests import split_manifest

CORPUS_DIR = os.path.join(tempfile.gettempdir(), "curate-pinned-sample-corpus")
UTTERANCES, SEED = 8, 12

# The build fingerprint and every file the fingerprint covers: path -> sha256.
FINGERPRINT = "efa1aeb2543fbd057b039845292d32c72adf4d792d0ba4b84c0128011abfde3d"
SHARDS = {
    "data/test/sample-librispeech-test.array_record-00000":
        "25ca9bb68b733ece4a89a9d79fc69a5bd9a932ebb4e8851d96c2c859ddcbf44d",
    "data/test/sample-librispeech-test.tfrecord-00000":
        "258ac6d593747d2076908e13cb84c14d12e7dec843c3c17054ad489aff53d666",
    "data/train/sample-librispeech-train.array_record-00000":
        "4be96ce18ff09672cad13d8b440e5906c6f095c244bb88f3777d59c86f08a73e",
    "data/train/sample-librispeech-train.array_record-00002":
        "ccf99a0f06c07562efccaef69b158472f0e3f0f9928aad72338dc1696f2533ed",
    "data/train/sample-librispeech-train.array_record-00003":
        "99cde06eabea68140a7c8305527ce832b50040c8da837211b225a2bb4a18af21",
    "data/train/sample-librispeech-train.tfrecord-00000":
        "540e790e0deb83a209229d01e7663490453ea2e15c08a706e4d0b4c77af7194a",
    "data/train/sample-librispeech-train.tfrecord-00002":
        "e2cc773493a14f8cad4649016ffd4cdaec12c038db6bc4afadc2501156791a8a",
    "data/train/sample-librispeech-train.tfrecord-00003":
        "2ff3be6638145dc4f00dd668d593984aa5d411e03388ebdac29d9b00d3f04d12",
    "data/validation/sample-librispeech-validation.array_record-00001":
        "6551c87311621003732f87a4be7ce90c54114d24ba36f93b4fe5de8adb5b8fa9",
    "data/validation/sample-librispeech-validation.array_record-00002":
        "f6d3c11c0b63ac75400dd0e5721efaeba885bbd4858386c63b8323a1db5cf73f",
    "data/validation/sample-librispeech-validation.tfrecord-00001":
        "db2242b6909896d5211dde1a76457e185a620f5f5f364ff2092d58f600fbce40",
    "data/validation/sample-librispeech-validation.tfrecord-00002":
        "792227ae86a04487e522a8a6e39e36455f18dafba813de069bab9fa6845daf9c",
}
# The manifests (and the stats.json computed from them) changed once, on purpose: their float
# signal columns were float64 while the shards hold float32, so a manifest value was not the
# value in the shard (see test_manifest_values_are_the_values_in_the_shards). The shards did
# not change: SHARDS above are the values computed before any change. Before that fix:
#   manifest/test.parquet        d3008b236a24479f3fa83823ef65683f18acc86bf5fde4f142c0e639baa09379
#   manifest/train.parquet       a1f8425dae8fa8299cd714c08bdddcdde0f6610939a56dd578db51e522faa540
#   manifest/validation.parquet  abf3df21ca35cdd9336e30c4d2b9510b9fc2dad2459d91e21813ba9ffca20af5
#   stats.json                   fe6643ea3dd31b4e0d542dbab8b065469c020a8a2a261025545608ad5e6cd339
#   fingerprint                  d0b7731d5d9a24db2e9558d00b93ea555279a67b44a604c0ca6cd364e024285f
# They changed once more with the dependencies that apache-beam 2.62.0 caps (numpy 2.4.6 ->
# 2.2.6, pyarrow 25.0.1 -> 16.1.0), not with the pipeline: numpy's float32 math synthesises two
# of the sample utterances differently (the corpus, not the build: the same corpus builds into
# the same shards under both), and pyarrow writes its version into every Parquet file's
# footer ("parquet-cpp-arrow version …"), so the manifests and rejected.parquet differ.
# Before (Beam 2.77's numpy 2.4.6 and pyarrow 25.0.1):
#   train array_record-00003 dd18dfb0…, tfrecord-00003 f670a9b3…,
#   validation array_record-00001 184a3b87…, tfrecord-00001 b6b240c7…,
#   manifest/test 64ab53e7…, train 98981458…, validation 5268ee6d…, rejected 9ac5ce6c…,
#   fingerprint b02f9095402fb3cba3d6bb4699398df854b63aa20cb5cb2555985fbd118d1722
# CARD.md changed on purpose with issue 17 (Hugging Face front matter from the sample config's
# new card: section, bars in eighths of a character, a histogram of every signal, a link to
# report.html); no other file did. Before: CARD.md 760dbf92…, fingerprint
# 11576259ce961f149e307469d0750b51b93e5c955b224af77ca0307c1403f5d9 (after it: 231dd7c2…).
# And once more with layout 2 (issue 11, incremental builds): the shard names lost their count
# ("-00003-of-00005" became "-00003") so that a build on a base version keeps its shards' names;
# the shards' bytes did not change (the sha256s above are the ones before). The manifests and
# rejected.parquet gained the fingerprints a build on this one matches (source_fingerprint,
# input_sha256, settings_sha256, example_sha256, start_s, end_s, record_bytes; rejected.parquet
# also the measured signals). stats.json and CARD.md did not change. Before:
#   manifest/test 949f1302…, train 4dbd70d5…, validation c79204dc…, rejected 6c36c0a2…,
#   fingerprint 231dd7c227e67e783286f670a0db18360bf2a022d4ca75ef186a07a0e9b66558
# rejected.parquet changed with issue 16 too, in two details only (same keys, reasons and
# stages): a too-long file says "(from the header; no sample was read)", and a missing audio
# file names every extension the decoder reads, not "no K.flac or K.wav". Before both:
#   rejected.parquet fcdb3212…, fingerprint 254447c0cf9bad61…
# And: a source's fingerprint is taken through the audio opener, so an input it refuses
# (the sample's empty file) records none. Before: rejected 4393c289…, fingerprint d480bd6d….
# And once more with layout 3 (issue 11): one manifest file per shard
# (manifest/<split>/<index>.parquet) instead of one per split, so that a build on a base keeps
# an unchanged shard's manifest file byte for byte as it keeps the shard; the files are written
# without column statistics, the Arrow schema copy and dictionaries (2.7x smaller). The rows,
# the shards, rejected.parquet, stats.json and CARD.md did not change. Before:
#   manifest/test.parquet 0d0ad080…, train 64a74024…, validation 43715bc6…,
#   fingerprint 0fae71116b6952fb60ca026866011f5abf703d9f8a250b3e793bd339b6e27ba7
OTHER_FILES = {
    "CARD.md":
        "92a75b9dc02bdfd1e0f999958cac8fa8f928723b1291acaaa22d971b7e567ff5",
    "manifest/test/00000.parquet":
        "0096621cb267d202b127522e70779ac9a378345b861aded5074c1b946bf0b14c",
    "manifest/train/00000.parquet":
        "0f01c074687486394883dda162dd435a09bec9a966a66a3a37ee632a09923fc8",
    "manifest/train/00002.parquet":
        "b2ad0e77747823e533be1461dd2855a69387a6fee93f2eb7ae824b68f4949854",
    "manifest/train/00003.parquet":
        "931a55363c44fe369d7921f486dcdf9ff4105d460cb829a10a810729d5510c6f",
    "manifest/validation/00001.parquet":
        "884b09aa1a184b5a5c24bb22e6e737d4fa0aa2a471dd98d0d19ce1eba64a3b57",
    "manifest/validation/00002.parquet":
        "6c8a7d1ae8da6ae6a944055206b8c6da0acebbd9bcb1961e162a331913e47c69",
    "rejected.parquet":
        "93dca42b3767727a427369a196cf4b563049d99ad964c75c9681ce591c4b6c04",
    "stats.json":
        "0835cbd5478e102ea67b2d07708179a8d69714e0883b024dfa31d316a6805bbd",
}


def _make_corpus() -> str:
    shutil.rmtree(CORPUS_DIR, ignore_errors=True)
    make_corpus(CORPUS_DIR, utterances=UTTERANCES, seed=SEED, with_bad_inputs=True)
    config = os.path.join(CORPUS_DIR, "configs", "librispeech.yaml")
    with open(config) as f:
        data = yaml.safe_load(f)
    data["shards"]["target_size_mb"] = 0.05  # several shards per split
    with open(config, "w") as f:
        yaml.safe_dump(data, f)
    return config


@pytest.fixture(scope="module")
def pinned_build(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("pinned") / "build")
    with FileLock(CORPUS_DIR + ".lock", timeout=600):
        config = load_config(_make_corpus())
        with beam.Pipeline(options=PipelineOptions(["--runner=DirectRunner"])) as p:
            _ = p | "Build" >> BuildDataset(config, out)
        with open(os.path.join(CORPUS_DIR, "expected.json")) as f:
            expected = json.load(f)["layouts"]["librispeech"]  # key -> None or the reason
    with open(os.path.join(out, "dataset_info.json")) as f:
        return json.load(f), expected, out


def test_the_sample_build_has_the_pinned_fingerprint_and_files(pinned_build):
    info, _, _ = pinned_build
    files = {path: meta["sha256"] for path, meta in info["files"].items()}
    print(json.dumps({"fingerprint": info["fingerprint"], "files": files}, indent=1))
    shards = {p: s for p, s in files.items() if p.startswith("data/")}
    assert len({p.split("/")[1] for p in shards}) >= 2 and len(shards) >= 6
    assert shards == SHARDS
    assert {p: s for p, s in files.items() if p not in shards} == OTHER_FILES
    assert info["fingerprint"] == FINGERPRINT


def test_the_sample_build_accepts_and_rejects_what_the_corpus_expects(pinned_build):
    info, expected, _ = pinned_build
    counts = info["counts"]
    assert counts["read"] == len(expected)
    assert counts["accepted"] == sum(reason is None for reason in expected.values())
    assert counts["rejected"] > 0


def test_manifest_values_are_the_values_in_the_shards(pinned_build):
    """Row i of a split's manifest is the i-th record of its shards, field for field: the
    float signals are the shards' float32 values exactly (before the manifest dtype fix they
    were float64 and differed in the low bits)."""
    from curate.features import FEATURE_SPEC
    from curate.writers import read_tfrecord

    info, _, out = pinned_build
    floats = [name for name, f in FEATURE_SPEC.items() if f["dtype"] == "float32"]
    compared = 0
    for split, entry in info["splits"].items():
        rows = split_manifest(out, split, info).to_pylist()
        records = [r for s in entry["shards"]["tfrecord"]
                   for r in read_tfrecord(open(os.path.join(out, s["path"]), "rb").read())]
        assert len(rows) == len(records), split
        for row, record in zip(rows, records):
            feature = tf.train.Example.FromString(record).features.feature
            assert feature["key"].bytes_list.value[0].decode() == row["key"]
            for name in floats:
                assert np.float32(row[name]) == np.float32(feature[name].float_list.value[0])
                assert row[name] == float(np.float32(row[name])), (name, row[name])
                compared += 1
    assert compared >= len(floats) * 9
