"""PyTorch: map-style (ArrayRecord) and iterable (TFRecord) datasets with DataLoader workers,
ranks, per-epoch shuffles, exact resumes and pinned files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from registry.errors import IntegrityError
from registry.loaders.split import SplitFiles
from tests.extras import require
from tests.registry.loaders.conftest import Expected

torch = require("torch", "torch")

from registry.loaders.torch_data import (  # noqa: E402 (after the extra's check)
    ExampleDataset,
    ExampleStream,
    FlatAudio,
    ResumableDataLoader,
    flat_collate,
    pad_collate,
    pad_flat,
)

KINDS = [ExampleDataset, ExampleStream]


def _keys(loader) -> list[str]:
    return [k for batch in loader for k in batch["key"]]


@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_examples_are_the_builds(kind, train: SplitFiles, train_expected: Expected) -> None:
    ds = kind(train)
    examples = [ds[i] for i in range(len(ds))] if kind is ExampleDataset else list(ds)
    assert [ex["key"] for ex in examples] == train_expected.keys  # shard order
    assert [int(ex["index"]) for ex in examples] == list(range(len(train_expected.keys)))
    for ex in examples:
        train_expected.check(ex["key"], ex["text"], ex["audio"].numpy())
        assert ex["audio"].dtype == torch.float32
        assert ex["num_samples"].dtype == torch.int64 and int(ex["num_samples"]) == len(ex["audio"])
        assert ex["snr_db"].dtype == torch.float32 and ex["snr_db"].shape == ()
    assert ds.commit_id == train.commit_id
    raw = kind(train, decode_audio=False)
    first = raw[0] if kind is ExampleDataset else next(iter(raw))
    assert isinstance(first["audio"], bytes) and first["audio"][:4] == b"fLaC"


@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_a_dataloader_with_two_workers_reads_every_example_once(
    kind, train: SplitFiles, train_expected: Expected
) -> None:
    loader = ResumableDataLoader(kind(train), batch_size=3, num_workers=2)
    batches = list(loader)
    keys = [k for b in batches for k in b["key"]]
    assert sorted(keys) == sorted(train_expected.keys)
    for b in batches:
        lengths = b["audio_lengths"].tolist()
        assert b["audio"].shape == (len(b["key"]), max(lengths))
        for row, key, n in zip(b["audio"], b["key"], lengths):
            train_expected.check(key, train_expected.by_key[key].text, row[:n].numpy())
            assert not row[n:].any()  # zero padding
    assert [k for b in ResumableDataLoader(kind(train), batch_size=3, num_workers=2)
            for k in b["key"]] == keys  # the same order every time, whatever the timing


@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_two_ranks_see_disjoint_halves_whose_union_is_the_split(kind, train: SplitFiles) -> None:
    ranks = [_keys(ResumableDataLoader(kind(train, rank=r, world_size=2, shuffle=True, seed=3),
                                       batch_size=4, num_workers=2)) for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1])
    assert sorted(ranks[0] + ranks[1]) == sorted(k for k in _keys(ResumableDataLoader(
        kind(train), batch_size=4)))
    assert len(ranks[0]) == len(ranks[1]) == 10
    odd = [len(kind(train, rank=r, world_size=3)) for r in range(3)]
    assert sum(odd) == 20 and max(odd) - min(odd) <= 1
    assert [len(kind(train, rank=r, world_size=3, drop_remainder=True)) for r in range(3)] == [6] * 3


def _rank_keys(rank: int, world_size: int, init: str, split: SplitFiles, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world_size)
    try:
        for kind in KINDS:
            ds = kind(split, decode_audio=False)
            keys = [k for b in ResumableDataLoader(ds, batch_size=4) for k in b["key"]]
            Path(out, f"{kind.__name__}-{rank}.txt").write_text(
                "\n".join([f"{ds.rank}/{ds.world_size}", *keys]))
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_ranks_come_from_torch_distributed(train: SplitFiles, tmp_path: Path) -> None:
    """A real 2-process gloo job: each process takes its rank and world size from it. The
    processes are spawned: a fork of this test process, which other tests have left with
    threads (loaders, servers), can crash in the child (it did once, SIGSEGV in CI)."""
    import torch.multiprocessing as mp

    init = f"file://{tmp_path / 'rendezvous'}"
    mp.start_processes(_rank_keys, args=(2, init, train, str(tmp_path)), nprocs=2, join=True,
                       start_method="spawn")
    for kind in KINDS:
        got = [(tmp_path / f"{kind.__name__}-{r}.txt").read_text().splitlines() for r in (0, 1)]
        assert [g[0] for g in got] == ["0/2", "1/2"]
        assert not set(got[0][1:]) & set(got[1][1:])
        assert len(got[0][1:]) + len(got[1][1:]) == train.num_examples


@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_shuffles_are_fixed_by_seed_and_epoch(kind, train: SplitFiles) -> None:
    def order(seed: int, epoch: int) -> list[str]:
        ds = kind(train, shuffle=True, seed=seed, shuffle_buffer=8) if kind is ExampleStream \
            else kind(train, shuffle=True, seed=seed)
        ds.set_epoch(epoch)
        return _keys(ResumableDataLoader(ds, batch_size=5, num_workers=2))

    first = order(7, 0)
    assert order(7, 0) == first
    assert order(7, 1) != first and sorted(order(7, 1)) == sorted(first)
    assert order(8, 0) != first


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_a_resumed_loader_yields_exactly_the_remaining_examples(
    kind, workers: int, train: SplitFiles
) -> None:
    def make():
        ds = kind(train, shuffle=True, seed=11, rank=1, world_size=2)
        ds.set_epoch(2)
        return ResumableDataLoader(ds, batch_size=2, num_workers=workers)

    whole = _keys(make())
    loader = make()
    seen = []
    for batch in loader:
        seen += batch["key"]
        if len(seen) == 6:
            state = loader.state_dict()
            break
    assert state["epoch"] == 2
    resumed = make()
    resumed.load_state_dict(state)
    rest = _keys(resumed)
    assert sorted(seen + rest) == sorted(whole) and not set(seen) & set(rest)
    if kind is ExampleDataset or workers == 0:
        assert seen + rest == whole  # the very order the uninterrupted run had
    resumed.dataset.set_epoch(3)
    assert sorted(_keys(resumed)) == sorted(whole)  # the next epoch is whole again
    done = resumed.state_dict()
    again = make()
    again.load_state_dict({**done, "epoch": 3})
    assert _keys(again) == []  # a state saved at an epoch's end resumes into nothing


def test_resuming_with_another_order_is_refused(train: SplitFiles) -> None:
    state = ExampleDataset(train, shuffle=True, seed=1).state_dict()
    with pytest.raises(ValueError, match="the state has seed=1, this loader seed=2"):
        ExampleDataset(train, shuffle=True, seed=2).load_state_dict(state)
    stream = ExampleStream(train, shuffle=True)
    saved = ResumableDataLoader(stream, batch_size=2, num_workers=2)
    for _ in saved:
        break
    state = saved.state_dict()
    other = ResumableDataLoader(ExampleStream(train, shuffle=True), batch_size=2, num_workers=1)
    other.load_state_dict(state)
    with pytest.raises(ValueError, match="saved with num_workers=2"):
        list(other)


def test_persistent_workers_of_a_stream_follow_set_epoch_and_a_resume(train: SplitFiles) -> None:
    """Persistent workers keep their copy of the dataset across epochs: each epoch and
    resume position reaches them through the loader's shared state (they once replayed
    epoch 0, and re-applied a resume's skip every epoch)."""
    def fresh(epoch: int) -> list[str]:
        ds = ExampleStream(train, shuffle=True, seed=3, shuffle_buffer=8)
        ds.set_epoch(epoch)
        return _keys(ResumableDataLoader(ds, batch_size=4, num_workers=2))

    ds = ExampleStream(train, shuffle=True, seed=3, shuffle_buffer=8)
    loader = ResumableDataLoader(ds, batch_size=4, num_workers=2, persistent_workers=True)
    seen = []
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        seen.append(_keys(loader))
    assert seen == [fresh(0), fresh(1)] and seen[0] != seen[1]
    partial = ResumableDataLoader(ExampleStream(train, shuffle=True, seed=3, shuffle_buffer=8),
                                  batch_size=4, num_workers=2)
    partial.dataset.set_epoch(1)
    first = []
    for batch in partial:
        first += batch["key"]
        if len(first) >= 8:
            break
    loader.load_state_dict(partial.state_dict())
    rest = _keys(loader)
    assert sorted(first + rest) == sorted(seen[1]) and not set(first) & set(rest)
    ds.set_epoch(2)
    assert _keys(loader) == fresh(2)  # a whole epoch again: the skip was for epoch 1 only


@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_a_file_changed_after_verification_is_refused(kind, builds, tmp_path: Path) -> None:
    root = Path(shutil.copytree(builds.v1, tmp_path / "build"))
    split = SplitFiles.from_build(root, "train")
    victim = Path((split.array_record if kind is ExampleDataset else split.tfrecord)[1].path)
    data = bytearray(victim.read_bytes())
    data[-20] ^= 0xFF
    victim.write_bytes(bytes(data))
    ds = kind(split, decode_audio=False)
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        list(ResumableDataLoader(ds, batch_size=4, num_workers=2))
    with pytest.raises(IntegrityError, match=r"sha256 .* is not the"):
        SplitFiles.from_build(root, "train")
    os.unlink(victim)
    with pytest.raises(IntegrityError, match="is gone from the cache"):
        list(ResumableDataLoader(ds, batch_size=4))


def test_pad_collate_pads_multichannel_audio_and_keeps_text() -> None:
    batch = pad_collate([
        {"audio": torch.ones(3, 2), "text": "a", "n": torch.tensor(3)},
        {"audio": torch.ones(5, 2), "text": "b", "n": torch.tensor(5)},
    ])
    assert batch["audio"].shape == (2, 5, 2) and batch["audio_lengths"].tolist() == [3, 5]
    assert batch["audio"][0, 3:].abs().sum() == 0 and batch["text"] == ["a", "b"]
    assert batch["n"].tolist() == [3, 5]
    assert np.all(batch["audio"][1].numpy() == 1)


@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_int16_audio_is_the_builds_pcm_and_pads_as_int16(
    kind, train: SplitFiles, train_expected: Expected
) -> None:
    ds = kind(train, audio_dtype="int16")
    batches = list(ResumableDataLoader(ds, batch_size=6))
    assert _keys(batches) == train_expected.keys
    for b in batches:
        assert b["audio"].dtype == torch.int16
        for key, row, n in zip(b["key"], b["audio"].numpy(), b["audio_lengths"].tolist()):
            np.testing.assert_array_equal(row[:n], train_expected.by_key[key].samples)
            assert not row[n:].any()
    with pytest.raises(ValueError, match="audio_dtype must be one of float32, int16"):
        kind(train, audio_dtype="int8")


def _same_batches(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert list(x) == list(y)  # the same keys, in the same order
        for name in x:
            if isinstance(x[name], torch.Tensor):
                assert x[name].dtype == y[name].dtype and torch.equal(x[name], y[name]), name
            else:
                assert x[name] == y[name], name


@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("kind", KINDS, ids=["map", "stream"])
def test_padding_in_the_main_process_gives_the_workers_padded_batches(
    kind, dtype: str, train: SplitFiles
) -> None:
    """The default with workers (flat audio from the workers, padded here) against padding in
    the workers and against the in-process loader: the same batches, in the same order."""
    def batches(**kwargs) -> list:
        ds = kind(train, audio_dtype=dtype, shuffle=True, seed=3)
        return list(ResumableDataLoader(ds, batch_size=4, **kwargs))

    in_main = batches(num_workers=2)
    assert all(isinstance(b["audio"], torch.Tensor) for b in in_main)
    _same_batches(in_main, batches(num_workers=2, pad_in_main=False))
    if kind is ExampleDataset:  # a stream's order depends on num_workers
        _same_batches(in_main, batches(num_workers=0))


def test_flat_collate_then_pad_flat_is_pad_collate() -> None:
    examples = [
        {"audio": torch.arange(6, dtype=torch.int16).reshape(3, 2), "text": "a",
         "n": torch.tensor(3)},
        {"audio": torch.ones(5, 2, dtype=torch.int16), "text": "b", "n": torch.tensor(5)},
        {"audio": torch.ones(0, 2, dtype=torch.int16), "text": "c", "n": torch.tensor(0)},
    ]
    flat = flat_collate(examples)
    assert isinstance(flat["audio"], FlatAudio) and flat["audio"].samples.shape == (8, 2)
    assert isinstance(flat["n"], np.ndarray) and isinstance(flat["audio_lengths"], np.ndarray)
    _same_batches([pad_flat(flat)], [pad_collate(examples)])
    other = {"audio": [b"fLaC"], "key": ["k"]}
    assert pad_flat(other) is other  # audio left encoded: unchanged


def test_float32_audio_goes_between_processes_as_16_bit_pcm_and_comes_back_exactly(
    train: SplitFiles, train_expected: Expected
) -> None:
    """A 16-bit build's float32 samples are k / 32768: the workers send k (half the bytes),
    and the padded batch is bit for bit what the in-process loader gives."""
    pcm = np.array([-32768, -1, 0, 1, 12345, 32767], dtype=np.int16)
    examples = [{"audio": torch.from_numpy(pcm.astype(np.float32) / 32768), "text": "a"},
                {"audio": torch.from_numpy(pcm[:2].astype(np.float32) / 32768), "text": "b"}]
    flat = flat_collate(examples, pcm16=True)
    assert flat["audio"].pcm16 and flat["audio"].samples.dtype == torch.int16
    assert flat["audio"].samples.numpy().tolist() == pcm.tolist() + pcm[:2].tolist()
    padded, direct = pad_flat(flat)["audio"], pad_collate(examples)["audio"]
    assert padded.dtype == torch.float32
    assert torch.equal(padded.view(torch.int32), direct.view(torch.int32))  # bit for bit
    loader = ResumableDataLoader(ExampleDataset(train), batch_size=4, num_workers=2)
    assert loader.collate_fn.keywords == {"pcm16": True}  # flac, float32
    for b in loader:
        assert b["audio"].dtype == torch.float32
        for key, text, row, n in zip(b["key"], b["text"], b["audio"], b["audio_lengths"]):
            train_expected.check(key, text, row[:n].numpy())
    int16 = ResumableDataLoader(ExampleDataset(train, audio_dtype="int16"), num_workers=2)
    assert int16.collate_fn.keywords == {"pcm16": False}  # int16 already


def test_pad_in_main_refuses_a_collate_of_its_own(train: SplitFiles) -> None:
    with pytest.raises(ValueError, match="pad_in_main=True replaces the collate function"):
        ResumableDataLoader(ExampleDataset(train), num_workers=2, pad_in_main=True,
                            collate_fn=pad_collate)
    loader = ResumableDataLoader(ExampleDataset(train), num_workers=2, collate_fn=pad_collate)
    assert loader.collate_fn is pad_collate  # a collate given: the workers run it, as given
