"""Hugging Face ``datasets``: a pinned split as a ``datasets.Dataset``, built without PyTorch.

One row per example in shard order: every manifest column (key, text, speaker, duration,
signals…) and ``audio``, an ``Audio`` column holding the encoded bytes exactly as the shards
store them (FLAC or WAV) with the version's sampling rate. The table is written once as an
Arrow file (``cache_file``, e.g. beside the version's cached files) and memory-mapped, so a
split larger than memory works, and opening it again reads nothing but that file (it is
written again when its size or modification time is not the ones recorded when written).

Decoding on access (``ds[0]["audio"]``) is ``datasets``' own (``torchcodec`` since datasets
4); with ``decode_audio=False`` rows give ``{"bytes", "path"}`` instead.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from typing import Any

from registry.loaders.records import manifest_by_shard, shard_table
from registry.loaders.split import AUDIO, SplitFiles

__all__ = ["to_hf_dataset"]


def _audio_struct(table: Any, codec: str) -> Any:
    """``audio`` (binary) as the ``{bytes, path}`` struct that an ``Audio`` column stores;
    ``path`` is ``<key>.<codec>``, which tells a decoder the format."""
    import pyarrow as pa
    import pyarrow.compute as pc

    paths = pc.binary_join_element_wise(table.column("key"), f".{codec or 'flac'}", "")
    audio = pa.StructArray.from_arrays(
        [table.column(AUDIO).combine_chunks(), paths.combine_chunks()], names=["bytes", "path"])
    return table.set_column(table.schema.get_field_index(AUDIO), AUDIO, audio)


def _tables(files: SplitFiles) -> Iterator[Any]:
    """The split's rows, a shard at a time (the manifest read once)."""
    manifest = manifest_by_shard(files)
    for shard in range(len(files.shards())):
        yield _audio_struct(shard_table(files, shard, manifest=manifest), files.audio_codec)


def _table(files: SplitFiles) -> Any:
    import pyarrow as pa

    return pa.concat_tables(list(_tables(files)))


def _info(files: SplitFiles, schema: Any, decode_audio: bool) -> Any:
    import datasets

    features = datasets.Features.from_arrow_schema(schema)
    features[AUDIO] = datasets.Audio(sampling_rate=files.sample_rate_hz or None, decode=decode_audio)
    return datasets.DatasetInfo(
        description=f"{files.ref} split '{files.split}' (commit {files.commit_id})",
        features=features)


def to_hf_dataset(files: SplitFiles, *, cache_file: str | os.PathLike[str] | None = None,
                  decode_audio: bool = True) -> Any:
    """The split as a ``datasets.Dataset`` (see the module doc). Without ``cache_file`` the
    table is held in memory. ``decode_audio=False`` is ``Audio(decode=False)``: rows give
    ``{"bytes", "path"}`` (no torchcodec needed)."""
    import datasets

    split = datasets.NamedSplit(files.split)
    if cache_file is None:
        table = _table(files)
        info = _info(files, table.schema, decode_audio)
        return datasets.Dataset(datasets.table.InMemoryTable(table), info=info, split=split)
    path = os.fspath(cache_file)
    if not _pinned(path):
        _write_arrow(_tables(files), path)
    ds = datasets.Dataset.from_file(path, split=split)
    return datasets.Dataset(ds.data, info=_info(files, ds.data.schema, decode_audio),
                            split=split)


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _pinned(path: str) -> bool:
    """Whether ``path`` is the file this module wrote (same size and mtime as its pin)."""
    try:
        with open(f"{path}.pin.json", encoding="utf-8") as f:
            pin = json.load(f)
    except (OSError, ValueError):
        return False
    return pin is not None and pin == _stat(path)


def _write_arrow(tables: Iterator[Any], path: str) -> None:
    """Write ``tables`` (one schema) to ``path`` atomically as one Arrow stream, a table at a
    time (a shard in memory, not the split), then its pin."""
    import pyarrow as pa

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{secrets.token_hex(4)}"
    try:
        with pa.OSFile(tmp, "wb") as sink:
            writer = None
            for table in tables:
                if writer is None:
                    writer = pa.ipc.new_stream(sink, table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    with open(f"{path}.pin.json", "w", encoding="utf-8") as f:
        json.dump(_stat(path), f)
