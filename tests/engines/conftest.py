"""Fixtures of the engine tests: the loopback network namespace the engines run in, an SDK
worker pool inside it, the sample corpus and its DirectRunner build (the reference every engine
must reproduce byte for byte), that build registered with a build on it, and the model fixtures
for the builds with model signals on."""

from __future__ import annotations

import os

import pytest
import yaml

from curate.launch import run_build
from curate.samples import make_corpus
from tests.curate.models import conftest as models_conftest
from tests.curate.models.corpus import write_models_corpus
from tests.engines.processes import loopback_namespace, start_worker_pool, stop_group
from tests.pipelines.corpus import small_shard_corpus

# The model fixtures of tests/curate/models/ (pytest gives a directory only its own conftest's
# fixtures and its parents').
librivox = models_conftest.librivox
model_libraries = models_conftest.model_libraries
speech_installed = models_conftest.speech_installed


def _quiet(_: str) -> None:
    pass


@pytest.fixture(scope="session")
def namespace() -> list[str]:
    """The command prefix that runs a command in a loopback-only network namespace."""
    with loopback_namespace() as prefix:
        yield prefix


@pytest.fixture(scope="module")
def worker_pool(namespace, tmp_path_factory):
    """``(port, log path)`` of an SDK worker pool on 127.0.0.1 in the namespace, stopped with
    its harnesses after the module."""
    log = tmp_path_factory.mktemp("pool") / "pool.log"
    proc, port = start_worker_pool(log, namespace)
    try:
        yield port, log
    finally:
        stop_group(proc)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> str:
    """The sample corpus (bad inputs included, small shards): its LibriSpeech config."""
    root = small_shard_corpus(str(tmp_path_factory.mktemp("corpus") / "c"), utterances=16, seed=5)
    return os.path.join(root, "configs", "librispeech.yaml")


@pytest.fixture(scope="session")
def direct_build(corpus, tmp_path_factory):
    """``(build dir, dataset_info)`` of ``corpus`` on the DirectRunner."""
    out = str(tmp_path_factory.mktemp("direct") / "build")
    return out, run_build(corpus, out, workers=1, say=_quiet)


@pytest.fixture(scope="session")
def incremental_build(corpus, direct_build, tmp_path_factory):
    """A build on a base, as ``--base`` makes it: ``direct_build`` registered as v1 in a local
    registry, then ``corpus`` plus a second source of 3 new utterances built on v1 on the
    DirectRunner. Returns ``{"config", "ref", "registry", "dir", "info"}``."""
    from registry.api import Registry

    root = tmp_path_factory.mktemp("incremental")
    make_corpus(str(root / "new"), utterances=3, seed=11)
    with open(corpus) as f:
        config = yaml.safe_load(f)
    here = os.path.dirname(corpus)
    config["sources"] = [{**s, "path": os.path.normpath(os.path.join(here, s["path"]))}
                         for s in config["sources"]]
    config["sources"].append({"kind": "librispeech", "path": str(root / "new" / "librispeech")})
    v2 = str(root / "v2.yaml")
    with open(v2, "w") as f:
        yaml.safe_dump(config, f)
    uri = f"file://{root / 'registry'}"
    reg = Registry(uri, cache_dir=str(root / "cache"))
    out, info1 = direct_build
    v1 = reg.register(out, dataset=info1["name"], allow_unvalidated=True)
    build = str(root / "build")
    info = run_build(v2, build, workers=1, base=reg.open(v1.ref), say=_quiet)
    assert info["base"]["mode"] == "incremental" and info["counts"]["carried"] > 0
    return {"config": v2, "ref": v1.ref, "registry": uri, "dir": build, "info": info,
            "base": reg.open(v1.ref)}


@pytest.fixture(scope="session")
def models_corpus(tmp_path_factory, librivox, model_libraries):
    """``(config, expected)``: read speech with VAD, ASR and language ID on
    (:func:`tests.curate.models.corpus.write_models_corpus`)."""
    return write_models_corpus(tmp_path_factory.mktemp("models-corpus"), librivox)


@pytest.fixture(scope="session")
def direct_models_build(models_corpus, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("direct-models") / "build")
    return out, run_build(models_corpus[0], out, workers=1, say=_quiet)
