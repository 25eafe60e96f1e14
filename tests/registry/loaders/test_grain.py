"""Grain: the data source with grain.DataLoader in-process and with 2 worker processes,
per-host sharding, checkpointed iterator state and pinned files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from registry.errors import IntegrityError
from registry.loaders.split import SplitFiles
from tests.extras import require
from tests.registry.loaders.conftest import Expected

grain = require("grain", "grain")

from registry.loaders.grain_data import (  # noqa: E402
    FlatBatch,
    GrainSource,
    PadBatch,
    PaddedBatches,
    read_options,
    shard_options,
)


def _loader(source: GrainSource, *, workers: int = 0, shard=None, shuffle: bool = False,
            seed: int = 0, batch: int = 4, epochs: int = 1, batch_fn=None) -> grain.DataLoader:
    sampler = grain.samplers.IndexSampler(
        len(source), shard_options=shard or grain.sharding.NoSharding(), shuffle=shuffle,
        seed=seed, num_epochs=epochs)
    return grain.DataLoader(data_source=source, sampler=sampler, worker_count=workers,
                            operations=[grain.transforms.Batch(batch, batch_fn=batch_fn or PadBatch())])


def _keys(batches) -> list[str]:
    return [str(k) for b in batches for k in b["key"]]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_grain_dataloader_reads_the_builds_examples(
    workers: int, train: SplitFiles, train_expected: Expected
) -> None:
    source = GrainSource(train)
    assert len(source) == 20 and source.commit_id == train.commit_id
    batches = list(_loader(source, workers=workers, batch=3))
    if workers == 0:
        assert _keys(batches) == train_expected.keys  # shard order
    else:  # each worker batches every other record; Grain interleaves them, always alike
        assert sorted(_keys(batches)) == sorted(train_expected.keys)
        assert _keys(_loader(source, workers=workers, batch=3)) == _keys(batches)
    for b in batches:
        assert b["audio"].dtype == np.float32 and b["audio_lengths"].dtype == np.int64
        assert b["index"].dtype == np.int64 and b["snr_db"].dtype == np.float32
        for key, text, row, n in zip(b["key"], b["text"], b["audio"], b["audio_lengths"]):
            train_expected.check(key, text, row[:n])
            assert not row[n:].any()
    one = source[5]
    assert one["key"] == train_expected.keys[5] and one["index"] == 5
    assert isinstance(GrainSource(train, decode_audio=False)[0]["audio"], bytes)


def test_int16_audio_through_two_workers_is_the_builds_pcm(
    train: SplitFiles, train_expected: Expected
) -> None:
    """``audio_dtype="int16"``: the 16-bit samples the build encoded, padded in the workers'
    shared memory (what the main process maps) and equal to an in-process read."""
    source = GrainSource(train, audio_dtype="int16")
    batches = list(_loader(source, workers=2, batch=4))
    inproc = list(_loader(source, batch=4))
    assert _keys(batches) == _keys(inproc) or sorted(_keys(batches)) == sorted(_keys(inproc))
    seen = set()
    for b in batches:
        assert b["audio"].dtype == np.int16
        for key, row, n in zip(b["key"], b["audio"], b["audio_lengths"]):
            np.testing.assert_array_equal(row[:n], train_expected.by_key[str(key)].samples)
            assert not row[n:].any()
            seen.add(str(key))
    assert seen == set(train_expected.keys)
    with pytest.raises(ValueError, match="audio_dtype must be one of float32, int16"):
        GrainSource(train, audio_dtype="float64")


def test_two_hosts_see_disjoint_halves_whose_union_is_the_split(train: SplitFiles) -> None:
    source = GrainSource(train, decode_audio=False)
    hosts = [_keys(_loader(source, shard=shard_options(r, 2), shuffle=True, seed=5, workers=2))
             for r in (0, 1)]
    assert not set(hosts[0]) & set(hosts[1])
    assert sorted(hosts[0] + hosts[1]) == sorted(_keys(_loader(source)))
    assert len(hosts[0]) == len(hosts[1]) == 10
    one = shard_options()
    assert (one.shard_index, one.shard_count) == (0, 1)
    with pytest.raises(ValueError, match="rank 2 is not in 0..1"):
        shard_options(2, 2)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_restored_iterator_yields_exactly_the_remaining_examples(
    workers: int, train: SplitFiles
) -> None:
    source = GrainSource(train, decode_audio=False)

    def make():
        return _loader(source, workers=workers, shuffle=True, seed=9, batch=2, epochs=2,
                       shard=shard_options(1, 2))

    whole = _keys(make())
    it = iter(make())
    seen = _keys([next(it) for _ in range(4)])
    state = it.get_state()
    resumed = iter(make())
    resumed.set_state(state)
    assert seen + _keys(resumed) == whole  # two epochs of rank 1: 20 examples, then the end
    assert sorted(whole) == sorted(list(set(whole)) * 2)  # each of its examples twice
    assert len(set(whole)) == 10


def test_a_file_changed_after_verification_is_refused(builds, tmp_path: Path) -> None:
    root = Path(shutil.copytree(builds.v1, tmp_path / "build"))
    split = SplitFiles.from_build(root, "train")
    victim = Path(split.array_record[0].path)
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    with pytest.raises(Exception, match="changed after it was verified") as info:
        list(_loader(GrainSource(split), workers=2))
    assert "IntegrityError" in repr(info.value) or isinstance(info.value, IntegrityError)
    with pytest.raises(IntegrityError, match="changed after it was verified"):
        GrainSource(split)[0]


def _flat_loader(source: GrainSource, **kwargs) -> PaddedBatches:
    """:func:`_loader` with :class:`FlatBatch`, padded in this process."""
    return PaddedBatches(_loader(source, **kwargs, batch_fn=FlatBatch()))


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert list(x) == list(y)
        for name in x:
            assert x[name].dtype == y[name].dtype and x[name].shape == y[name].shape, name
            np.testing.assert_array_equal(x[name], y[name])


@pytest.mark.parametrize("dtype", ["float32", "int16"])
@pytest.mark.parametrize("workers", [0, 2])
def test_flat_batches_padded_in_the_main_process_are_padbatchs(
    workers: int, dtype: str, train: SplitFiles
) -> None:
    source = GrainSource(train, audio_dtype=dtype)
    padded = list(_loader(source, workers=workers, batch=3, shuffle=True, seed=4))
    flat = list(_flat_loader(source, workers=workers, batch=3, shuffle=True, seed=4))
    _same(flat, padded)
    assert flat[0]["audio"].ndim == 2


def test_flat_batches_of_encoded_audio_and_a_restored_iterator(train: SplitFiles) -> None:
    source = GrainSource(train, decode_audio=False)
    whole = _keys(_flat_loader(source, workers=2, shuffle=True, seed=9, batch=2))
    it = iter(_flat_loader(source, workers=2, shuffle=True, seed=9, batch=2))
    seen = _keys([next(it) for _ in range(3)])
    resumed = iter(_flat_loader(source, workers=2, shuffle=True, seed=9, batch=2))
    resumed.set_state(it.get_state())
    assert seen + _keys(resumed) == whole and sorted(whole) == sorted(train_keys(source))


def train_keys(source: GrainSource) -> list[str]:
    return [str(source[i]["key"]) for i in range(len(source))]


@pytest.mark.parametrize("workers", [0, 2])
def test_the_sources_loader_gives_the_padded_batches_of_a_dataloader_built_by_hand(
    workers: int, train: SplitFiles
) -> None:
    """``GrainSource.loader``: FlatBatch in the workers (16-bit PCM), one reading thread each,
    padded here; the batches are those of the DataLoader with PadBatch, in the same order."""
    source = GrainSource(train)
    by_hand = list(_loader(source, workers=workers, batch=3, shuffle=True, seed=4))
    loader = source.loader(3, worker_count=workers, shuffle=True, seed=4)
    assert isinstance(loader, PaddedBatches) == (workers > 0)
    if workers:  # float32 of a 16-bit build: sent as its int16 PCM, made float32 here
        assert loader.dtype == "float32"
    _same(list(loader), by_hand)
    options = read_options(workers, 3)
    assert (options.num_threads, options.prefetch_buffer_size) == ((1, 6) if workers else (16, 500))


def test_the_sources_loader_shards_per_host_and_resumes_exactly(train: SplitFiles) -> None:
    source = GrainSource(train, decode_audio=False)
    hosts = [_keys(source.loader(2, worker_count=2, rank=r, world_size=2, shuffle=True, seed=5))
             for r in (0, 1)]
    assert not set(hosts[0]) & set(hosts[1])
    assert sorted(hosts[0] + hosts[1]) == sorted(train_keys(source))
    audio = GrainSource(train)

    def make():
        return audio.loader(2, worker_count=2, rank=1, world_size=2, shuffle=True, seed=9,
                            num_epochs=2)

    whole = _keys(make())
    it = iter(make())
    seen = _keys([next(it) for _ in range(3)])
    resumed = iter(make())
    resumed.set_state(it.get_state())
    assert seen + _keys(resumed) == whole and len(whole) == 20 and len(set(whole)) == 10
