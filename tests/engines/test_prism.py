"""Beam's Prism runner gives the same build, byte for byte, as the DirectRunner, with the model
signals off and on, and for a build on a registered version (``--base``).

Prism is the Go binary that ``tests/engines/prism.sh`` builds from the Go module proxy at the
installed SDK's release (``go build`` of ``github.com/apache/beam/sdks/v2/go/cmd/prism`` against
``tests/engines/prism/go.mod``). The driver runs ``--runner PrismRunner --prism_location BINARY``:
the SDK starts that binary itself on an OS-chosen port and stops it at the end; the SDK harness
runs in the driver's process (``LOOPBACK``, what the PrismRunner picks). Driver and Prism run in a
loopback-only network namespace, with ``HOME`` pointing at an empty directory, which must still
hold no Beam cache afterwards: Beam downloaded nothing.
"""

from __future__ import annotations

import os
import sys

import apache_beam as beam
import pyarrow.parquet as pq

from curate.base import plan_base
from curate.build import BuildDataset
from curate.config import load_config
from curate.settings import build_settings
from tests.engines import prism_binary, require
from tests.engines.processes import run_bounded
from tests.same_build import assert_same_build

BUILD_TIMEOUT_S = 300


def _prism_build(config: str, tmp_path, namespace: list[str], *args: str) -> tuple[str, str]:
    """Build ``config`` on Prism (``args``: more of the driver's arguments); returns ``(build
    dir, the driver's stdout)``."""
    binary = require(prism_binary(), "prism.sh")
    out, home = str(tmp_path / "prism"), tmp_path / "home"
    home.mkdir()
    cmd = [
        *namespace, sys.executable, "-m", "pipelines.asr_dataset", "--config", config,
        "--output", out, "--runner", "PrismRunner", "--prism_location", binary, *args,
    ]
    env = {**os.environ, "HOME": str(home), "CURATE_CACHE_DIR": str(tmp_path / "cache")}
    proc = run_bounded(cmd, cwd=str(tmp_path), timeout_s=BUILD_TIMEOUT_S, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not (home / ".apache_beam").exists(), "Beam fetched a Prism binary of its own"
    return out, proc.stdout


def test_prism_runner_matches_direct_runner(namespace, corpus, direct_build, tmp_path):
    out, stdout = _prism_build(corpus, tmp_path, namespace)
    info = assert_same_build(*direct_build, out)
    assert info["fingerprint"] in stdout


def test_prism_runner_with_model_signals_matches_direct_runner(
    namespace, models_corpus, direct_models_build, tmp_path
):
    config, expected = models_corpus
    out, _ = _prism_build(config, tmp_path, namespace)
    info = assert_same_build(*direct_models_build, out)
    assert set(info["models"]) == {"vad", "asr", "langid"}
    rejected = pq.read_table(os.path.join(out, "rejected.parquet")).to_pylist()
    assert {r["key"]: r["reason"] for r in rejected} == {
        k: v for k, v in expected.items() if v is not None
    }


def test_prism_runner_builds_on_a_base_as_the_direct_runner(namespace, incremental_build, tmp_path):
    """A build on a base meets the base's records in a CoGroupByKey and shards in Flattens
    before a GroupByKey: every input of those must share one coder (curate.records.BY_KEY), or
    Prism fails to build its first stage (docs/runners.md)."""
    build = incremental_build
    out, stdout = _prism_build(build["config"], tmp_path, namespace,
                               "--base", build["ref"], "--registry", build["registry"])
    info = assert_same_build(build["dir"], build["info"], out)
    assert info["base"]["mode"] == "incremental" and info["counts"]["carried"] > 0
    assert any(f.get("base") for f in info["files"].values())  # a base shard kept as it was
    assert info["fingerprint"] in stdout


def test_flattens_and_groups_of_a_build_on_a_base_have_coders_prism_runs(incremental_build, tmp_path):
    """Without Prism: Prism runs a Flatten itself and re-codes each input whose coder differs
    from the Flatten's output coder by redefining that coder id in the whole pipeline
    (``handlerunner.go`` ``handleFlatten``, ``preprocess.go``). An input left with Beam's
    generic pickled coder, before a GroupByKey that makes the output a KV coder, turns every
    collection with that coder into a KV of pickled coders, and Prism cannot build any stage."""
    config = load_config(incremental_build["config"])
    plan = plan_base(config, incremental_build["base"], build_settings(config))
    p = beam.Pipeline()
    _ = p | "Build" >> BuildDataset(config, str(tmp_path / "out"), None, plan)
    comps = p.to_runner_api().components
    flattens = [t for t in comps.transforms.values()
                if t.spec.urn == "beam:transform:flatten:v1"]
    assert any("CoGroupByKey" in t.unique_name for t in flattens)
    for flatten in flattens:
        (out,) = flatten.outputs.values()
        want = comps.pcollections[out].coder_id
        for pcoll in flatten.inputs.values():
            assert comps.pcollections[pcoll].coder_id == want, flatten.unique_name
    # Nor can Prism decode Python's coder of a tuple other than a pair (beam:coder:tuple:v1)
    # going into a GroupByKey or Reshuffle (a Reshuffle of (split, path, sha256) did that once).

    def python_tuple(coder_id: str) -> bool:
        coder = comps.coders[coder_id]
        return coder.spec.urn == "beam:coder:tuple:v1" or any(
            python_tuple(c) for c in coder.component_coder_ids)

    groups = [t for t in comps.transforms.values() if t.spec.urn in (
        "beam:transform:group_by_key:v1", "beam:transform:reshuffle:v1")]
    assert groups
    for group in groups:
        for pcoll in group.inputs.values():
            assert not python_tuple(comps.pcollections[pcoll].coder_id), group.unique_name
