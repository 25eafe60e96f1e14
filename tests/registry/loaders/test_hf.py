"""Hugging Face datasets: a Dataset with an Audio column, built without PyTorch, saved and
loaded back equal, split by node, resumed, and refused when a file changed."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from registry.errors import IntegrityError
from registry.loaders.split import SplitFiles
from tests.extras import require
from tests.registry.loaders.conftest import Expected

datasets = require("datasets", "hf")

from registry.loaders.hf_data import to_hf_dataset  # noqa: E402

REPO = Path(__file__).resolve().parents[3]


def _rows(ds) -> list[dict]:
    return ds.cast_column("audio", datasets.Audio(decode=False)).to_list()


def _samples(audio: dict):
    import soundfile as sf

    return sf.read(io.BytesIO(audio["bytes"]), dtype="float32")[0]


def test_the_dataset_holds_the_builds_examples(train: SplitFiles, train_expected: Expected,
                                               tmp_path: Path) -> None:
    ds = to_hf_dataset(train, cache_file=tmp_path / "train.arrow")
    assert isinstance(ds, datasets.Dataset) and ds.num_rows == 20
    assert ds.features["audio"] == datasets.Audio(sampling_rate=16000)
    assert ds.features["snr_db"] == datasets.Value("float64") and ds.split == "train"
    rows = _rows(ds)
    assert [r["key"] for r in rows] == train_expected.keys
    for r in rows:
        train_expected.check(r["key"], r["text"], _samples(r["audio"]))
        assert r["audio"]["path"] == f"{r['key']}.flac"
    assert train.commit_id in ds.info.description
    again = to_hf_dataset(train, cache_file=tmp_path / "train.arrow")  # the pinned Arrow file
    assert _rows(again) == rows and again.cache_files == ds.cache_files
    assert _rows(to_hf_dataset(train)) == rows  # in memory, the same
    assert to_hf_dataset(train, decode_audio=False)[0]["audio"] == rows[0]["audio"]


def test_save_to_disk_and_load_back_equal(train: SplitFiles, tmp_path: Path) -> None:
    ds = to_hf_dataset(train)
    ds.save_to_disk(str(tmp_path / "saved"))
    loaded = datasets.load_from_disk(str(tmp_path / "saved"))
    assert loaded.features == ds.features
    assert _rows(loaded) == _rows(ds)


def test_it_is_built_without_pytorch(builds, tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from registry.loaders.split import SplitFiles\n"
        "from registry.loaders.hf_data import to_hf_dataset\n"
        f"ds = to_hf_dataset(SplitFiles.from_build({str(builds.v1)!r}, 'train'),\n"
        f"                   cache_file={str(tmp_path / 'a.arrow')!r})\n"
        "assert ds.num_rows == 20\n"
        "print(sorted(m for m in ('torch', 'tensorflow', 'torchcodec') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_two_nodes_see_disjoint_halves_whose_union_is_the_split(train: SplitFiles) -> None:
    from datasets.distributed import split_dataset_by_node

    ds = to_hf_dataset(train)
    nodes = [list(split_dataset_by_node(ds, rank=r, world_size=2)["key"]) for r in (0, 1)]
    assert not set(nodes[0]) & set(nodes[1]) and len(nodes[0]) == len(nodes[1]) == 10
    assert sorted(nodes[0] + nodes[1]) == sorted(list(ds["key"]))


def test_a_resumed_iterable_yields_exactly_the_remaining_examples(train: SplitFiles) -> None:
    def make():  # shuffled as a Dataset (its indices): datasets < 4.1 (Beam 2.62's pyarrow caps
        # it) restores an IterableDataset's shuffle buffer empty, so that order does not resume
        return to_hf_dataset(train, decode_audio=False).shuffle(seed=3).to_iterable_dataset(
            num_shards=4)

    whole = [r["key"] for r in make()]
    it_ds = make()
    seen = []
    for r in it_ds:
        seen.append(r["key"])
        if len(seen) == 7:
            state = it_ds.state_dict()
            break
    resumed = make()
    resumed.load_state_dict(state)
    assert seen + [r["key"] for r in resumed] == whole


def test_a_file_changed_after_verification_is_refused(builds, tmp_path: Path) -> None:
    root = Path(shutil.copytree(builds.v1, tmp_path / "build"))
    split = SplitFiles.from_build(root, "train")
    victim = Path(split.manifests[0].path)
    victim.write_bytes(victim.read_bytes() + b"\0")
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        to_hf_dataset(split)
    os.unlink(victim)
    with pytest.raises(IntegrityError, match="gone from the cache"):
        to_hf_dataset(split, cache_file=tmp_path / "x.arrow")
