"""Compaction (``curate compact NAME@vN``): a version made of a base build and several small
appended batches is rewritten into target-size shards, every example unchanged, every
full-size shard kept byte for byte, and registering it stores only the rewritten shards.

The corpus: the sample corpus (with its bad inputs) registered as v1, then three builds on the
version before, each adding a batch of new utterances as a new source (v2..v4): each appends a
small shard to the splits it reaches. v4 is compacted and registered as v5, on the local store
and on the lakeFS test server.
"""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.cli.main import main as curate_main
from curate.compact import SMALL_FRACTION, compact
from curate.launch import run_build
from curate.layout import INFO_FILE, manifest_file
from curate.samples import make_corpus
from registry.api import Registry
from tests.pipelines import test_incremental as incremental

N_BASE, N_APPENDS, N_BATCH, TARGET_MB = 40, 3, 3, 2.0
_QUIET = incremental._quiet


def _config(root: str, name: str, sources: list[str]) -> str:
    return incremental._config(root, name, sources, target_mb=TARGET_MB)


def _shard_files(info: dict) -> dict[str, dict]:
    return {p: f for p, f in info["files"].items() if p.startswith("data/")}


def _small(info: dict) -> set[str]:
    """The shard files under the compaction threshold (weighed by their TFRecord file)."""
    threshold = SMALL_FRACTION * TARGET_MB * 1024 * 1024
    out = set()
    for s in info["splits"].values():
        by_index: dict[int, list[dict]] = {}
        for shards in s["shards"].values():
            for shard in shards:
                by_index.setdefault(int(shard["path"].rsplit("-", 1)[1]), []).append(shard)
        for files in by_index.values():
            tfrecord = next(f for f in files if ".tfrecord-" in f["path"])
            if tfrecord["size_bytes"] < threshold:
                out |= {f["path"] for f in files}
    return out


def _unlisted_bytes(build_dir: str, info: dict) -> int:
    """The build's files that dataset_info.json does not list, new in every version: itself,
    report.html and what `curate validate` wrote (validation/)."""
    total = 0
    for d, _, files in os.walk(build_dir):
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), build_dir).replace(os.sep, "/")
            if rel not in info["files"]:
                total += os.path.getsize(os.path.join(d, name))
    return total


def _ordered_examples(build_dir: str, info: dict) -> dict[str, list[tuple[str, str]]]:
    """split -> [(key, example_sha256)] in manifest (= shard) order."""
    return {split: [(r["key"], r["example_sha256"]) for r in incremental._manifest(
        build_dir, info, split, ["key", "example_sha256"])] for split in info["splits"]}


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("compact"))
    make_corpus(os.path.join(root, "base"), utterances=N_BASE, seed=0, with_bad_inputs=True)
    reg_dir = os.path.join(root, "registry")
    reg = Registry(f"file://{reg_dir}", cache_dir=os.path.join(root, "cache"))
    sources = [os.path.join(root, "base", "librispeech")]
    builds, version = [], None
    for i in range(1 + N_APPENDS):
        if i:
            batch = os.path.join(root, f"batch{i}")
            make_corpus(batch, utterances=N_BATCH, seed=10 + i)
            sources.append(os.path.join(batch, "librispeech"))
        out = os.path.join(root, f"b{i + 1}")
        info = run_build(_config(root, f"v{i + 1}", sources), out, say=_QUIET,
                         base=None if version is None else reg.open(version.ref))
        version = reg.register(out, dataset=info["name"], allow_unvalidated=True)
        builds.append((out, info, version))
    last_dir, last_info, last = builds[-1]
    stored = incremental._stored_bytes(reg_dir)
    compacted = os.path.join(root, "compacted")
    said: list[str] = []
    info = compact(reg.open(last.ref), compacted, say=said.append)
    from curate.validation.validate import validate_build
    from registry.gate import RegistryBaselines

    result = validate_build(compacted, suite="asr_default",
                            baseline=RegistryBaselines(reg.uri).latest(info["name"]))
    v5 = reg.register(compacted, dataset=info["name"])  # validated: no allow_unvalidated
    return {"root": root, "reg": reg, "reg_dir": reg_dir, "builds": builds,
            "sources": sources, "last_dir": last_dir, "last_info": last_info, "last": last,
            "dir": compacted, "info": info, "said": said, "validation": result, "v5": v5,
            "stored_before": stored, "stored_after": incremental._stored_bytes(reg_dir)}


def test_the_appended_batches_left_runs_of_small_shards(versions):
    """The premise: v4's splits end in small shards that v1 did not have, after v1's shards
    (most of them full size: the corpus is small, so a split's shards vary in size)."""
    v1_info, v4_info = versions["builds"][0][1], versions["last_info"]
    assert len(_small(v4_info) - set(_shard_files(v1_info))) >= 2 * 2  # two formats a shard
    full = set(_shard_files(v1_info)) - _small(v1_info)
    assert full and all(_shard_files(versions["info"])[p].get("base") for p in full)
    assert versions["said"][0].startswith(f"compacting {versions['last'].ref}")


def test_runs_are_rewritten_and_every_full_size_shard_kept_byte_for_byte(versions):
    before, after = _shard_files(versions["last_info"]), _shard_files(versions["info"])
    small = _small(versions["last_info"])
    for path, f in before.items():
        if path in small:
            continue
        assert after[path] == {**f, "base": True}, path
        assert filecmp.cmp(os.path.join(versions["dir"], path),
                           os.path.join(versions["last_dir"], path), shallow=False)
    rewritten = {p for p, f in after.items() if not f.get("base")}
    assert rewritten and rewritten <= small  # outputs take the runs' first names
    assert all(after[p]["sha256"] != before[p]["sha256"] for p in rewritten)
    assert len(after) < len(before)
    runs = versions["info"]["compaction"]["runs"]
    assert runs and all(len(r["into"]) < len(r["shards"]) for r in runs)
    assert sum(len(r["shards"]) for r in runs) * 2 == len(small)  # every small shard, in a run
    # every written shard is bigger than any shard of its run was
    for r in runs:
        split = r["split"]
        sizes = {int(s["path"].rsplit("-", 1)[1]): s["size_bytes"]
                 for s in versions["last_info"]["splits"][split]["shards"]["tfrecord"]}
        new = {int(s["path"].rsplit("-", 1)[1]): s["size_bytes"]
               for s in versions["info"]["splits"][split]["shards"]["tfrecord"]}
        assert min(new[i] for i in r["into"]) > max(sizes[i] for i in r["shards"])


def test_no_example_is_added_removed_changed_or_moved_in_order(versions):
    assert _ordered_examples(versions["dir"], versions["info"]) == _ordered_examples(
        versions["last_dir"], versions["last_info"])
    diff = versions["reg"].diff(versions["last"].ref, versions["v5"].ref)
    assert all(not (s.added or s.removed or s.changed) and not s.examples_delta
               for s in diff.splits), diff.to_dict()
    assert diff.files_changed  # the manifests of the compacted splits: shard, position
    info, last = versions["info"], versions["last_info"]
    for split in info["splits"]:
        assert {k: v for k, v in info["splits"][split].items() if k not in (
            "shards", "manifest")} == {k: v for k, v in last["splits"][split].items()
                                       if k not in ("shards", "manifest")}
    assert info["rejected_by_reason"] == last["rejected_by_reason"]
    for rel in ("rejected.parquet", "stats.json", "CARD.md"):
        assert info["files"][rel]["sha256"] == last["files"][rel]["sha256"], rel


def test_the_output_is_a_build_naming_its_base_that_the_gate_validates(versions):
    info, last = versions["info"], versions["last"]
    assert info["base"]["mode"] == "compaction"
    assert info["base"]["commit_id"] == last.commit_id and info["base"]["ref"] == last.ref
    assert info["compaction"]["target_size_mb"] == TARGET_MB
    assert info["counts"]["processed"] == 0 and info["counts"]["carried"] == 0
    assert info["counts"]["accepted"] == versions["last_info"]["counts"]["accepted"]
    assert versions["validation"].success
    assert os.path.exists(os.path.join(versions["dir"], "report.html"))
    assert not os.path.exists(os.path.join(versions["dir"], ".staging"))
    assert versions["v5"].fingerprint == info["fingerprint"]


def test_registering_it_stores_only_the_rewritten_shards_and_manifests(versions):
    info, last = versions["info"], versions["last_info"]
    new = {p: f for p, f in info["files"].items()
           if last["files"].get(p, {}).get("sha256") != f["sha256"]}
    assert {p for p in new if not p.startswith("data/")} == {
        manifest_file(r["split"], i) for r in info["compaction"]["runs"] for i in r["into"]}
    listed_new = sum(f["size_bytes"] for f in new.values())
    new_bytes = listed_new + _unlisted_bytes(versions["dir"], info)
    v5 = versions["v5"]
    assert v5.bytes_new == new_bytes
    assert v5.bytes_reused == sum(f["size_bytes"] for f in info["files"].values()) - listed_new
    shards = sum(f["size_bytes"] for f in _shard_files(info).values())
    stored = versions["stored_after"] - versions["stored_before"]
    assert stored <= new_bytes * 1.1 + 64 * 1024  # + commit records and refs
    assert listed_new < shards / 2  # a full copy would be every shard


def test_a_kept_shard_keeps_its_manifest_file_and_a_rewritten_one_gets_its_own(versions):
    info, last = versions["info"], versions["last_info"]
    for split, entry in info["splits"].items():
        before = {m["path"]: m for m in last["splits"][split]["manifest"]}
        kept = {int(s["path"].rsplit("-", 1)[1]) for s in entry["shards"]["tfrecord"]
                if s.get("base")}
        indices = [int(s["path"].rsplit("-", 1)[1]) for s in entry["shards"]["tfrecord"]]
        assert [m["path"] for m in entry["manifest"]] == [manifest_file(split, i)
                                                          for i in indices]
        for m, shard in zip(entry["manifest"], entry["shards"]["tfrecord"]):
            index = int(shard["path"].rsplit("-", 1)[1])
            assert m["num_examples"] == shard["num_examples"]
            if index in kept:
                assert m == {**before[m["path"]], "base": True}
                assert filecmp.cmp(os.path.join(versions["dir"], m["path"]),
                                   os.path.join(versions["last_dir"], m["path"]),
                                   shallow=False)
            else:
                assert not m.get("base") and m["sha256"] != before.get(m["path"], {}).get(
                    "sha256")
                rows = pq.read_table(os.path.join(versions["dir"], m["path"]),
                                     columns=["shard", "position"]).to_pylist()
                assert rows == [{"shard": index, "position": i}
                                for i in range(m["num_examples"])]
        gone = set(before) - {m["path"] for m in entry["manifest"]}  # a run's other indices
        assert all(m["path"] not in info["files"] for m in map(before.get, gone))


def test_readers_read_the_same_examples(versions):
    reg = versions["reg"]
    before, after = reg.open(versions["last"].ref), reg.open(versions["v5"].ref)
    for split in before.splits:
        a, b = list(before.examples(split)), list(after.examples(split))
        assert [e["key"] for e in a] == [e["key"] for e in b]
        for x, y in zip(a, b):
            assert x.keys() == y.keys() and x["text"] == y["text"]
            assert np.array_equal(x["audio"], y["audio"])
        ra, rb = before.array_record_source(split), after.array_record_source(split)
        assert len(ra) == len(rb) and all(ra[i] == rb[i] for i in range(len(ra)))


def test_compacting_again_gives_the_same_bytes(versions, tmp_path):
    again = str(tmp_path / "again")
    info = compact(versions["reg"].open(versions["last"].ref), again, say=_QUIET)
    assert info == versions["info"]
    for d, _, files in os.walk(versions["dir"]):
        for name in files:
            rel = os.path.relpath(os.path.join(d, name), versions["dir"])
            # validation/: written by curate validate, afterwards; report.html (not fingerprinted)
            # names the output directory, and its OGG excerpts get a random stream serial
            if rel.startswith("validation") or rel == "report.html":
                continue
            assert filecmp.cmp(os.path.join(d, name), os.path.join(again, rel), shallow=False), rel


def test_a_compacted_version_has_nothing_to_compact_and_nothing_is_written(versions, tmp_path,
                                                                          capsys):
    out = str(tmp_path / "nothing")
    said: list[str] = []
    assert compact(versions["reg"].open(versions["v5"].ref), out, say=said.append) is None
    assert said[0].startswith(f"nothing to compact in {versions['v5'].ref}")
    assert not os.path.exists(out)
    code = curate_main(["compact", versions["v5"].ref, "--output", out,
                        "--registry", versions["reg"].uri])
    assert code == 0 and "nothing to compact" in capsys.readouterr().out
    assert not os.path.exists(out)


def test_a_build_on_the_compacted_version_carries_every_example_and_keeps_every_shard(
        versions, tmp_path):
    counters: dict = {}
    info = run_build(_config(versions["root"], "again", versions["sources"]),
                     str(tmp_path / "on-compacted"), base=versions["reg"].open(
                         versions["v5"].ref), say=_QUIET, counters=counters)
    assert info["base"]["mode"] == "incremental"
    assert info["counts"]["accepted"] == versions["info"]["counts"]["accepted"]
    assert counters.get("audio.decoded", 0) <= info["counts"]["processed"]
    shards = _shard_files(versions["info"])
    assert _shard_files(info) == {p: {**f, "base": True} for p, f in shards.items()}


def test_the_cli_compacts_as_the_api_does(versions, tmp_path, capsys):
    out = str(tmp_path / "cli")
    code = curate_main(["compact", versions["last"].ref, "--output", out,
                        "--registry", versions["reg"].uri])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "kept byte for byte" in printed and "curate register" in printed
    with open(os.path.join(out, INFO_FILE)) as f:
        assert json.load(f)["fingerprint"] == versions["info"]["fingerprint"]


def _one_line_error(capsys, args: list[str], code: int, *words: str) -> str:
    assert curate_main(args) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert all(w in err for w in words), err
    return err


def test_bad_input_is_one_line_and_writes_nothing(versions, tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "out")
    name = versions["info"]["name"]
    reg = ["--registry", versions["reg"].uri]
    _one_line_error(capsys, ["compact", f"{name}@v99", "--output", out, *reg], 2, "v99")
    _one_line_error(capsys, ["compact", "no-such-dataset@v1", "--output", out, *reg], 2,
                    "no-such-dataset")
    _one_line_error(capsys, ["compact", f"{name}@", "--output", out, *reg], 2)
    _one_line_error(capsys, ["compact", versions["last"].ref, "--output", out, *reg,
                             "--target-size-mb", "0"], 2, "target-size-mb")
    # a version of an older layout (layout 1 shard names), in a registry of its own
    old = str(tmp_path / "old-build")
    import shutil

    shutil.copytree(versions["builds"][0][0], old)
    with open(os.path.join(old, INFO_FILE)) as f:
        info = json.load(f)
    info["schema_version"] = 1
    with open(os.path.join(old, INFO_FILE), "w") as f:
        json.dump(info, f)
    old_reg = Registry(f"file://{tmp_path / 'old-registry'}", cache_dir=str(tmp_path / "c"))
    v = old_reg.register(old, dataset=name, allow_unvalidated=True)
    _one_line_error(capsys, ["compact", v.ref, "--output", out, "--registry", old_reg.uri], 2,
                    "layout 1")
    # an unreachable registry: exit 3
    from registry.lakectl_config import (
        ACCESS_KEY_ID_ENV,
        ENDPOINT_URL_ENV,
        SECRET_ACCESS_KEY_ENV,
    )

    monkeypatch.setenv(ENDPOINT_URL_ENV, "http://127.0.0.1:9")  # discard: nothing listens
    monkeypatch.setenv(ACCESS_KEY_ID_ENV, "AKIAEXAMPLE")
    monkeypatch.setenv(SECRET_ACCESS_KEY_ENV, "secret")
    _one_line_error(capsys, ["compact", versions["last"].ref, "--output", out,
                             "--registry", "lakefs://"], 3)
    assert not os.path.exists(out)


_KILL_AFTER_ONE_SHARD = """
import os, signal, sys
import curate.writers as writers
from curate.cli.main import main

write = writers.write_shards

def write_then_die(*args, **kwargs):
    result = write(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # killed midway: one shard written, the rest not
    return result

writers.write_shards = write_then_die
sys.exit(main(sys.argv[1:]))
"""


def test_a_compaction_killed_midway_leaves_no_build_and_runs_again(versions, tmp_path):
    out = str(tmp_path / "killed")
    args = ["compact", versions["last"].ref, "--output", out, "--registry", versions["reg"].uri]
    proc = subprocess.run([sys.executable, "-c", _KILL_AFTER_ONE_SHARD, *args],
                          capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert os.listdir(out) and not os.path.exists(os.path.join(out, INFO_FILE))
    with pytest.raises(Exception, match="not a build directory"):
        versions["reg"].register(out, dataset=versions["info"]["name"], allow_unvalidated=True)
    assert curate_main(args) == 0  # the leftovers are cleared, it runs again
    with open(os.path.join(out, INFO_FILE)) as f:
        assert json.load(f)["fingerprint"] == versions["info"]["fingerprint"]


def test_on_lakefs_compaction_uploads_only_the_rewritten_shards(versions, tmp_path,
                                                               monkeypatch):
    """v1..v4 registered in the lakeFS test server, v4 compacted from there and registered:
    the same compacted files, only the rewritten ones uploaded."""
    from registry.lakectl_config import (
        ACCESS_KEY_ID_ENV,
        ENDPOINT_URL_ENV,
        SECRET_ACCESS_KEY_ENV,
    )
    from registry.lakefs_store import STORAGE_NAMESPACE_ENV
    from registry.uri import open_store
    from tests.registry.counting_store import CountingStore
    from tests.registry.lakefs_server import lakefs_test_server

    with lakefs_test_server() as server:
        for env, value in ((ENDPOINT_URL_ENV, server.endpoint_url),
                           (ACCESS_KEY_ID_ENV, server.access_key_id),
                           (SECRET_ACCESS_KEY_ENV, server.secret_access_key),
                           (STORAGE_NAMESPACE_ENV, server.storage_namespace_root)):
            monkeypatch.setenv(env, value)
        store = CountingStore(open_store("lakefs://"))
        reg = Registry(store, cache_dir=str(tmp_path / "cache"))
        name = versions["info"]["name"]
        for build_dir, _, _ in versions["builds"]:
            last = reg.register(build_dir, dataset=name, allow_unvalidated=True)
        out = str(tmp_path / "compacted")
        info = compact(reg.open(last.ref), out, say=_QUIET)
        local = versions["info"]
        assert _shard_files(info) == _shard_files(local)
        assert {p: f["sha256"] for p, f in info["files"].items()} == {
            p: f["sha256"] for p, f in local["files"].items()}
        store.reset()
        v5 = reg.register(out, dataset=name, allow_unvalidated=True)
        before = reg.open(last.ref).info["files"]
        rewritten = {p for p, f in info["files"].items() if before.get(p, {}).get("sha256") != f["sha256"]}
        assert rewritten and all(p.startswith(("data/", "manifest/")) for p in rewritten)
        assert set(store.uploaded) == rewritten | {INFO_FILE, "report.html"}
        assert v5.bytes_new == versions["v5"].bytes_new - _unlisted_bytes(
            versions["dir"], local) + _unlisted_bytes(out, info)
        diff = reg.diff(last.ref, v5.ref)
        assert all(not (s.added or s.removed or s.changed) for s in diff.splits)
