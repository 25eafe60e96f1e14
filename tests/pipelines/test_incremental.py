"""Builds on a registered version (``--base``): what did not change is carried over without a
decode and its shards are kept byte for byte; new examples go into new shards; a shard that
lost or changed an example is rewritten, only that one; registering stores about the new data.

The corpus: a base source (the sample corpus with its bad inputs) registered as v1, then a
second source of about 10 % new utterances (v2, built on v1), then the base source with one
utterance removed and one transcript fixed (v3, built on v2). Everything goes through the real
local registry, as ``curate build --base`` uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pyarrow.parquet as pq
import pytest
import yaml

from curate.cli.main import main as curate_main
from curate.launch import run_build
from curate.layout import manifest_file
from curate.samples import make_corpus
from registry.api import Registry
from tests.manifests import split_manifest

N_BASE, N_NEW, TARGET_MB = 40, 4, 0.3


def _config(root: str, name: str, sources: list[str], dest_dir: str | None = None, *,
            target_mb: float = TARGET_MB) -> str:
    """The base corpus's config (under ``root``) with ``sources`` and shards of ``target_mb``,
    written to ``dest_dir``."""
    with open(os.path.join(root, "base", "configs", "librispeech.yaml")) as f:
        config = yaml.safe_load(f)
    config["sources"] = [{"kind": "librispeech", "path": p} for p in sources]
    config["shards"]["target_size_mb"] = target_mb
    path = os.path.join(dest_dir or root, f"{name}.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


def _stored_bytes(registry_dir: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f))
               for d, _, files in os.walk(registry_dir) for f in files)


def _shards(info: dict) -> dict[str, dict]:
    return {p: f for p, f in info["files"].items() if p.startswith("data/")}


def _manifest(build_dir: str, info: dict, split: str, columns: list[str]) -> list[dict]:
    """The rows of a split's manifest files (``columns`` of them), in shard order."""
    return split_manifest(build_dir, split, info, columns=columns).to_pylist()


def _examples(build_dir: str, info: dict) -> dict[str, tuple[str, str]]:
    """key -> (split, example_sha256) over every split's manifest."""
    out = {}
    for split in info["splits"]:
        for row in _manifest(build_dir, info, split, ["key", "example_sha256"]):
            out[row["key"]] = (split, row["example_sha256"])
    return out


def _manifests(info: dict) -> dict[str, dict]:
    """Every split's manifest files, path -> entry (``splits.<split>.manifest``)."""
    return {m["path"]: m for s in info["splits"].values() for m in s["manifest"]}


def _unlisted_bytes(build_dir: str) -> int:
    """The build's files that dataset_info.json does not list, new in every version: itself
    and report.html (the build's report)."""
    return sum(os.path.getsize(os.path.join(build_dir, name))
               for name in ("dataset_info.json", "report.html")
               if os.path.exists(os.path.join(build_dir, name)))


def _quiet(_: str) -> None:
    pass


STORES = ("local", "lakefs")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The two sources, their configs, and v1 built (once for both stores)."""
    root = str(tmp_path_factory.mktemp("incremental"))
    make_corpus(os.path.join(root, "base"), utterances=N_BASE, seed=0, with_bad_inputs=True)
    make_corpus(os.path.join(root, "new"), utterances=N_NEW, seed=5)
    base_src = os.path.join(root, "base", "librispeech")
    new_src = os.path.join(root, "new", "librispeech")
    out: dict = {"root": root, "b1": os.path.join(root, "b1")}
    out["info1"] = run_build(_config(root, "v1", [base_src]), out["b1"], say=_quiet)
    out["v2_config"] = _config(root, "v2", [base_src, new_src])
    return out


@pytest.fixture(scope="module")
def lakefs():
    """The in-process lakeFS test server, and the environment that names it (``lakefs://``,
    as lakectl is configured): Beam's workers and a ``curate`` subprocess open the registry
    from its URI, never from pickled credentials."""
    from registry.lakectl_config import ACCESS_KEY_ID_ENV, ENDPOINT_URL_ENV
    from registry.lakectl_config import SECRET_ACCESS_KEY_ENV
    from registry.lakefs_store import STORAGE_NAMESPACE_ENV
    from tests.registry.lakefs_server import lakefs_test_server

    with lakefs_test_server() as server, pytest.MonkeyPatch.context() as env:
        for name, value in ((ENDPOINT_URL_ENV, server.endpoint_url),
                            (ACCESS_KEY_ID_ENV, server.access_key_id),
                            (SECRET_ACCESS_KEY_ENV, server.secret_access_key),
                            (STORAGE_NAMESPACE_ENV, server.storage_namespace_root)):
            env.setenv(name, value)
        yield server


@pytest.fixture(scope="module")
def all_versions(corpus, request, tmp_path_factory):
    """``store`` -> v1 registered in that store and v2 built on it and registered, made on
    first use: the same builds through the embedded local store and through lakeFS."""
    made: dict = {}

    def get(store: str) -> dict:
        if store in made:
            return made[store]
        root = corpus["root"]
        cache = str(tmp_path_factory.mktemp(f"cache-{store}"))
        if store == "local":
            reg_dir = os.path.join(root, "registry")
            uri = f"file://{reg_dir}"

            def stored() -> int:
                return _stored_bytes(reg_dir)

            def contents() -> set[str]:  # the store's objects are named by their sha256
                objects = os.path.join(reg_dir, "objects")
                return {d + f for d in os.listdir(objects) if len(d) == 2
                        for f in os.listdir(os.path.join(objects, d))}
        else:
            server = request.getfixturevalue("lakefs")
            uri = "lakefs://"

            def stored() -> int:  # the blobs the server holds (objects, not metadata)
                return sum(len(b) for b in list(server.model.blobs.values()))

            def contents() -> set[str]:  # one blob per upload: a re-upload would show
                return {hashlib.sha256(b).hexdigest() for b in list(server.model.blobs.values())}

            def uploads() -> int:
                return len(server.model.blobs)
        reg = Registry(uri, cache_dir=cache)
        out = {**corpus, "store": store, "reg": reg, "reg_uri": uri, "cache": cache}
        v1 = reg.register(out["b1"], dataset=out["info1"]["name"], allow_unvalidated=True)
        out["stored1"], out["contents1"] = stored(), contents()
        out["uploads1"] = uploads() if store == "lakefs" else None
        out["b2"] = os.path.join(root, f"b2-{store}")
        out["counters2"] = counters = {}
        out["info2"] = run_build(out["v2_config"], out["b2"], base=reg.open(v1.ref),
                                 say=_quiet, counters=counters)
        v2 = reg.register(out["b2"], dataset=out["info2"]["name"], allow_unvalidated=True)
        out["stored2"], out["contents2"] = stored(), contents()
        out["uploads2"] = uploads() if store == "lakefs" else None
        out["v1"], out["v2"] = v1, v2
        made[store] = out
        return out

    return get


@pytest.fixture(scope="module", params=STORES)
def versions(all_versions, request):
    """Each case below runs on the local store and on the lakeFS test server."""
    return all_versions(request.param)


@pytest.fixture(scope="module")
def local_versions(all_versions):
    """For the cases that do not depend on the store (a fresh build, workers, the plan)."""
    return all_versions("local")


def test_new_inputs_alone_are_decoded_and_the_others_carried(versions):
    info1, info2 = versions["info1"], versions["info2"]
    counts = info2["counts"]
    assert counts["accepted"] + counts["rejected"] == counts["read"]
    assert counts["read"] == info1["counts"]["read"] + N_NEW
    assert counts["accepted"] == info1["counts"]["accepted"] + N_NEW
    assert counts["carried"] >= info1["counts"]["accepted"]  # and the decided rejections
    assert counts["removed"] == 0
    # Every input decoded is one that was processed: the new ones, and the base's rejections
    # that cannot be decided from records (missing files, duplicates).
    assert versions["counters2"]["audio.decoded"] <= counts["processed"]
    assert N_NEW <= counts["processed"] <= N_NEW + 6
    assert info2["base"]["ref"] == versions["v1"].ref
    assert info2["base"]["commit_id"] == versions["v1"].commit_id
    assert info2["base"]["mode"] == "incremental"


def test_unchanged_shards_are_kept_byte_for_byte_and_new_examples_go_to_new_shards(versions):
    shards1, shards2 = _shards(versions["info1"]), _shards(versions["info2"])
    kept = {p for p, f in shards2.items() if f.get("base")}
    assert kept and all(shards2[p]["sha256"] == shards1[p]["sha256"] for p in kept)
    for p in kept:  # the file in the build directory is the base's file
        with open(os.path.join(versions["b2"], p), "rb") as a, \
                open(os.path.join(versions["b1"], p), "rb") as b:
            assert a.read() == b.read()
    added = set(shards2) - set(shards1)
    assert added and set(shards1) - kept == set()  # nothing of the base rewritten or lost
    last = {}
    for p in shards1:
        split = p.split("/")[1]
        last[split] = max(last.get(split, -1), int(p.rsplit("-", 1)[1]))
    for p in added:  # after the base's last index of the split
        assert int(p.rsplit("-", 1)[1]) > last.get(p.split("/")[1], -1)


def test_a_kept_shard_is_placed_without_its_bytes_being_read_from_a_local_store(versions):
    """Local store: a kept shard of the build directory is a hard link to the store's object,
    made read-only (no byte read or copied, none in the registry's cache; registering the build
    hashes it). lakeFS: the build directory must hold the bytes, downloaded into the cache."""
    from registry.local import LocalStore

    info2, v1 = versions["info2"], versions["v1"]
    kept = [p for p, f in _shards(info2).items() if f.get("base")]
    assert kept
    commit_dir = os.path.join(versions["cache"], info2["name"], v1.commit_id)
    for p in kept:
        built = os.stat(os.path.join(versions["b2"], p))
        if versions["store"] == "local":
            obj = LocalStore(versions["reg_uri"].removeprefix("file://")).object_path(
                _shards(info2)[p]["sha256"])
            assert built.st_ino == obj.stat().st_ino and not obj.stat().st_mode & 0o222
            assert not os.path.exists(os.path.join(commit_dir, p))
        else:
            assert os.path.isfile(os.path.join(commit_dir, p))


def _index(path: str) -> tuple[str, int]:
    """(split, index) of a shard file."""
    return path.split("/")[1], int(path.rsplit("-", 1)[1])


def test_a_kept_shard_keeps_its_manifest_file_byte_for_byte(versions):
    info1, info2 = versions["info1"], versions["info2"]
    m1, m2 = _manifests(info1), _manifests(info2)
    shards2 = _shards(info2)
    kept = {_index(p) for p, f in shards2.items() if f.get("base")}
    assert kept
    # one manifest file per shard, named after its index, listed in shard order
    assert set(m2) == {manifest_file(*_index(p)) for p in shards2}
    for split, entry in info2["splits"].items():
        assert [m["path"] for m in entry["manifest"]] == sorted(
            manifest_file(*_index(s["path"])) for s in entry["shards"]["tfrecord"])
    for split, index in kept:
        rel = manifest_file(split, index)
        assert m2[rel]["sha256"] == m1[rel]["sha256"] and m2[rel]["base"] is True, rel
        assert info2["files"][rel] == {**info1["files"][rel], "base": True}
        with open(os.path.join(versions["b2"], rel), "rb") as a, \
                open(os.path.join(versions["b1"], rel), "rb") as b:
            assert a.read() == b.read()
    for rel, m in m2.items():  # each file holds its shard's rows, positions 0..n-1
        rows = pq.read_table(os.path.join(versions["b2"], rel)).to_pylist()
        split, index = rel.split("/")[1], int(rel.rsplit("/", 1)[1].split(".")[0])
        assert [(r["shard"], r["position"]) for r in rows] == [
            (index, i) for i in range(m["num_examples"])], rel
        if (split, index) not in kept:
            assert not m.get("base") and rel not in m1, rel  # the new shards' files


def test_registering_stores_no_manifest_file_of_a_kept_shard(versions):
    info1, info2 = versions["info1"], versions["info2"]
    manifests = _manifests(info2)
    kept = {m["sha256"] for m in manifests.values() if m.get("base")}
    new = {m["sha256"] for m in manifests.values() if not m.get("base")}
    assert kept and new
    stored = versions["contents2"] - versions["contents1"]  # contents v2 added to the store
    assert not kept & stored and new <= stored
    if versions["store"] == "lakefs":  # lakeFS holds a blob per upload: nothing uploaded twice
        new_files = {p for p, f in info2["files"].items()
                     if info1["files"].get(p, {}).get("sha256") != f["sha256"]}
        unlisted = sum(os.path.exists(os.path.join(versions["b2"], n))
                       for n in ("dataset_info.json", "report.html"))
        assert versions["uploads2"] - versions["uploads1"] == len(new_files) + unlisted


def test_moved_sources_keep_the_shards_and_rewrite_their_manifest_files(local_versions,
                                                                       tmp_path):
    """The base's sources copied elsewhere: same bytes, so every input is carried and every
    shard kept, but the manifest rows name the new place, so each manifest file is written
    again (and not marked as the base's)."""
    versions = local_versions
    moved = str(tmp_path / "moved")
    shutil.copytree(os.path.join(versions["root"], "base"), moved)
    config = _config(versions["root"], "moved", [os.path.join(moved, "librispeech")],
                     str(tmp_path))
    counters: dict = {}
    info = run_build(config, str(tmp_path / "b"), base=versions["reg"].open(versions["v1"].ref),
                     say=_quiet, counters=counters)
    info1 = versions["info1"]
    assert counters.get("audio.decoded", 0) <= info["counts"]["processed"]
    assert _shards(info) == {p: {**f, "base": True} for p, f in _shards(info1).items()}
    m1, m = _manifests(info1), _manifests(info)
    assert set(m) == set(m1)
    for rel, entry in m.items():
        assert not entry.get("base") and entry["sha256"] != m1[rel]["sha256"], rel
    for split in info["splits"]:
        rows = _manifest(str(tmp_path / "b"), info, split, ["key", "audio_uri",
                                                             "example_sha256"])
        before = {r["key"]: r for r in _manifest(versions["b1"], info1, split,
                                                 ["key", "audio_uri", "example_sha256"])}
        assert [r["key"] for r in rows] == list(before)
        for r in rows:
            assert r["audio_uri"].startswith(moved) and r["example_sha256"] == before[
                r["key"]]["example_sha256"]


def test_carried_examples_keep_their_split_and_bytes(versions):
    before = _examples(versions["b1"], versions["info1"])
    after = _examples(versions["b2"], versions["info2"])
    assert set(before) <= set(after) and len(after) == len(before) + N_NEW
    assert {k: after[k] for k in before} == before


def test_registering_stores_about_the_new_data_only(versions):
    info1, info2 = versions["info1"], versions["info2"]
    new_files = {p: f for p, f in info2["files"].items()
                 if info1["files"].get(p, {}).get("sha256") != f["sha256"]}
    new_bytes = sum(f["size_bytes"] for f in new_files.values())
    new_bytes += _unlisted_bytes(versions["b2"])
    newly_stored = versions["stored2"] - versions["stored1"]
    shard_bytes = sum(f["size_bytes"] for f in _shards(info2).values())
    assert newly_stored <= new_bytes * 1.1 + 64 * 1024  # + commit records and refs
    assert newly_stored < shard_bytes / 4  # a full copy would be all of them
    assert all(not f.get("base") for f in new_files.values())
    v2 = versions["v2"]  # what registering says it stored and reused
    assert v2.bytes_new == new_bytes
    kept = sum(f["size_bytes"] for f in _shards(info2).values() if f.get("base"))
    assert v2.bytes_reused >= kept > 0


def test_an_incremental_build_holds_the_examples_of_a_fresh_build(local_versions, tmp_path):
    versions = local_versions
    fresh = str(tmp_path / "fresh")
    info = run_build(versions["v2_config"], fresh, say=_quiet)
    assert _examples(fresh, info) == _examples(versions["b2"], versions["info2"])
    assert info["counts"]["accepted"] == versions["info2"]["counts"]["accepted"]
    assert info["rejected_by_reason"] == versions["info2"]["rejected_by_reason"]
    # curate diff between them: no example added, removed or changed (example bytes compared)
    reg = versions["reg"]
    fresh_version = reg.register(fresh, dataset=info["name"], allow_unvalidated=True)
    diff = reg.diff(versions["v2"].ref, fresh_version.ref)
    assert all(not (s.added or s.removed or s.changed) for s in diff.splits), diff.to_dict()


def test_two_workers_build_the_same_bytes_on_the_same_base(local_versions, tmp_path):
    versions = local_versions
    reg, v1 = versions["reg"], versions["v1"]
    again = run_build(versions["v2_config"], str(tmp_path / "w2"), base=reg.open(v1.ref),
                      workers=2, say=_quiet)
    assert again["fingerprint"] == versions["info2"]["fingerprint"]
    assert _shards(again) == _shards(versions["info2"])


def test_a_removed_and_a_changed_input_rewrite_only_their_shards(versions, tmp_path):
    root, reg = versions["root"], versions["reg"]
    src = str(tmp_path / "base")
    shutil.copytree(os.path.join(root, "base"), src)
    info2 = versions["info2"]
    rows = {}
    for split in info2["splits"]:
        for row in _manifest(versions["b2"], info2, split, ["key", "shard"]):
            rows[row["key"]] = (split, row["shard"])
    base_keys = sorted(k for k in _examples(versions["b1"], versions["info1"])
                       if not k.startswith("9999-"))  # not the bad inputs' transcript
    removed, changed = base_keys[0], base_keys[-1]
    for key in (removed, changed):
        speaker, chapter, _ = key.split("-")
        trans = os.path.join(src, "librispeech", speaker, chapter, f"{speaker}-{chapter}.trans.txt")
        with open(trans, encoding="utf-8") as f:
            lines = f.read().splitlines()
        if key == removed:
            lines = [line for line in lines if not line.startswith(key + " ")]
        else:
            lines = [line + " FIXED" if line.startswith(key + " ") else line for line in lines]
        with open(trans, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    config = _config(root, "v3", [os.path.join(src, "librispeech"),
                                  os.path.join(root, "new", "librispeech")])
    counters: dict = {}
    info3 = run_build(config, str(tmp_path / "b3"), base=reg.open(versions["v2"].ref),
                      say=_quiet, counters=counters)
    assert info3["counts"]["removed"] == 1
    assert counters["audio.decoded"] <= info3["counts"]["processed"]
    assert info3["counts"]["processed"] - versions["info2"]["counts"]["processed"] <= 1
    shards2, shards3 = _shards(info2), _shards(info3)
    touched_indices = {rows[removed], rows[changed]}
    for path, f in shards2.items():
        split, index = path.split("/")[1], int(path.rsplit("-", 1)[1])
        if (split, index) in touched_indices:
            assert shards3.get(path, {}).get("sha256") != f["sha256"], path  # rewritten or gone
        else:
            assert shards3[path] == {**f, "base": True}, path
    assert set(shards3) <= set(shards2)  # the changed example went back into its shard
    after = _examples(str(tmp_path / "b3"), info3)
    assert removed not in after and after[changed][0] == rows[changed][0]


def test_a_base_of_another_dataset_is_refused_before_anything_is_written(versions, tmp_path,
                                                                         capsys):
    with open(versions["v2_config"]) as f:
        config = yaml.safe_load(f)
    config["name"] = "another-dataset"
    path = str(tmp_path / "other.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    out = str(tmp_path / "out")
    reg_uri = versions["reg_uri"]
    code = curate_main(["build", path, "--output", out, "--base", versions["v1"].ref,
                        "--registry", reg_uri])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "another-dataset" in err, err
    assert not os.path.exists(out)
    code = curate_main(["build", path, "--output", out, "--base", "another-dataset@v1",
                        "--registry", reg_uri])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert not os.path.exists(out)


def test_the_cli_builds_on_a_base_and_says_what_it_carried(versions, tmp_path, capsys):
    out = str(tmp_path / "cli")
    code = curate_main(["build", versions["v2_config"], "--output", out, "--base",
                        versions["v1"].ref, "--registry", versions["reg_uri"]])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"building on {versions['v1'].ref}" in printed
    assert "carried" in printed and "kept from the base" in printed
    with open(os.path.join(out, "dataset_info.json")) as f:
        assert json.load(f)["fingerprint"] == versions["info2"]["fingerprint"]


def _edited_config(path: str, dest: str, edit) -> str:
    with open(path) as f:
        config = yaml.safe_load(f)
    edit(config)
    with open(dest, "w") as f:
        yaml.safe_dump(config, f)
    return dest


def test_a_tightened_filter_is_applied_from_recorded_signals_without_decoding(versions,
                                                                              tmp_path):
    info2, reg = versions["info2"], versions["reg"]
    rows = []
    for split in info2["splits"]:
        rows += [{**r, "split": split} for r in _manifest(versions["b2"], info2, split,
                                                          ["key", "shard", "duration_s"])]
    bound = sorted(r["duration_s"] for r in rows)[-3]  # the 2 longest examples now fail

    def tighten(config: dict) -> None:
        config.setdefault("filters", {})["max_duration_s"] = bound

    config = _edited_config(versions["v2_config"], str(tmp_path / "tight.yaml"), tighten)
    counters: dict = {}
    info = run_build(config, str(tmp_path / "tight"), base=reg.open(versions["v2"].ref),
                     say=_quiet, counters=counters)
    assert info["base"]["mode"] == "incremental"
    assert counters.get("audio.decoded", 0) <= info["counts"]["processed"]
    assert info["counts"]["accepted"] == info2["counts"]["accepted"] - 2
    assert info["rejected_by_reason"]["too_long"] == \
        info2["rejected_by_reason"].get("too_long", 0) + 2
    longest = {(r["split"], r["shard"]) for r in rows if r["duration_s"] > bound}
    for path, f in _shards(info2).items():
        split, index = path.split("/")[1], int(path.rsplit("-", 1)[1])
        if (split, index) not in longest:
            assert _shards(info)[path]["sha256"] == f["sha256"], path
        else:
            assert _shards(info).get(path, {}).get("sha256") != f["sha256"], path
    rejected = pq.read_table(str(tmp_path / "tight" / "rejected.parquet")).to_pylist()
    too_long = [r for r in rejected if r["reason"] == "too_long"]
    assert all(r["input_sha256"] for r in too_long)
    # measured ones carry their signals; one refused from its header (no sample read) has none,
    # so a build on this one looks at it again (a header read, not a decode)
    assert all((r["duration_s"] is None) == r["detail"].endswith("no sample was read)")
               for r in too_long)
    assert sum(r["duration_s"] is not None for r in too_long) >= 2

    # The bound loosened again, on the tightened version: only the 2 it had rejected are
    # decoded again (besides the rejections every build decides again: duplicate_audio, which
    # needs its twin), and the build holds v2's examples, byte for byte.
    tight = reg.register(str(tmp_path / "tight"), dataset=info["name"], allow_unvalidated=True)
    counters = {}
    loose = run_build(versions["v2_config"], str(tmp_path / "loose"), base=reg.open(tight.ref),
                      say=_quiet, counters=counters)
    always = versions["counters2"]["audio.decoded"] - N_NEW  # re-decided every build (dupes)
    assert counters["audio.decoded"] == 2 + always
    assert _examples(str(tmp_path / "loose"), loose) == _examples(versions["b2"], info2)


def test_a_changed_audio_setting_is_a_full_rebuild_said_in_one_line(local_versions, tmp_path):
    versions = local_versions
    def wav(config: dict) -> None:
        config["audio"]["codec"] = "wav"

    config = _edited_config(versions["v2_config"], str(tmp_path / "wav.yaml"), wav)
    said: list[str] = []
    counters: dict = {}
    info = run_build(config, str(tmp_path / "wav"), base=versions["reg"].open(versions["v1"].ref),
                     say=said.append, counters=counters)
    assert info["base"]["mode"] == "full"
    assert "full rebuild" in said[0] and "audio.codec flac -> wav" in said[0], said
    assert info["counts"]["carried"] == 0
    assert not any(f.get("base") for f in info["files"].values())


def test_new_audio_equal_to_a_base_example_is_a_duplicate_naming_the_base_key(versions,
                                                                              tmp_path):
    root = versions["root"]
    new = str(tmp_path / "new")
    shutil.copytree(os.path.join(root, "new"), new)
    base_rows = _manifest(versions["b1"], versions["info1"], "train", ["key", "audio_uri"])
    twin = next(r for r in base_rows if r["audio_uri"].endswith(".flac"))
    victim = next(os.path.join(d, f) for d, _, fs in sorted(os.walk(new)) for f in sorted(fs)
                  if f.endswith(".flac"))
    shutil.copyfile(twin["audio_uri"], victim)
    config = _config(root, "dup", [os.path.join(root, "base", "librispeech"),
                                   os.path.join(new, "librispeech")], str(tmp_path))
    info = run_build(config, str(tmp_path / "dup-build"),
                     base=versions["reg"].open(versions["v1"].ref), say=_quiet)
    rejected = pq.read_table(str(tmp_path / "dup-build" / "rejected.parquet")).to_pylist()
    victim_key = os.path.basename(victim).rsplit(".", 1)[0]
    (dup,) = [r for r in rejected if r["key"] == victim_key]
    assert dup["reason"] == "duplicate_audio" and twin["key"] in dup["detail"], dup
    assert info["counts"]["accepted"] == versions["info1"]["counts"]["accepted"] + N_NEW - 1


def test_both_stores_carry_the_same_and_lakefs_uploads_only_the_new(all_versions):
    """The same v1 and v2 through the local store and the lakeFS test server: the same build,
    and lakeFS does not upload again a shard that v1 holds (under v2's new branch)."""
    local, lake = all_versions("local"), all_versions("lakefs")
    assert lake["info2"]["fingerprint"] == local["info2"]["fingerprint"]
    assert lake["counters2"]["audio.decoded"] == local["counters2"]["audio.decoded"]
    # dataset_info.json and report.html name another base commit and registry; every other
    # file is equal
    assert lake["v2"].bytes_new - _unlisted_bytes(lake["b2"]) == \
        local["v2"].bytes_new - _unlisted_bytes(local["b2"])
    assert lake["v2"].bytes_reused == local["v2"].bytes_reused > 0


def test_a_build_on_a_base_killed_midway_leaves_no_version_and_runs_again(versions, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from curate.layout import INFO_FILE, STAGING_DIR

    out = str(tmp_path / "killed")
    args = ["build", versions["v2_config"], "--output", out, "--base", versions["v1"].ref,
            "--registry", versions["reg_uri"]]
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.isdir(os.path.join(out, STAGING_DIR)) and os.listdir(
                    os.path.join(out, STAGING_DIR)):
                break  # the pipeline is writing: kill it now
            time.sleep(0.1)
        assert proc.poll() is None, "the build ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not os.path.exists(os.path.join(out, INFO_FILE))  # no half version
    assert curate_main(args) == 0  # the leftovers are cleared, the build runs again
    with open(os.path.join(out, INFO_FILE)) as f:
        assert json.load(f)["fingerprint"] == versions["info2"]["fingerprint"]
