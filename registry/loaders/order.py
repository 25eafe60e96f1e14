"""Which examples a rank reads, and in which order an epoch visits them.

Shared by the PyTorch and Grain loaders so that both split a version the same way: rank ``r``
of ``w`` reads the contiguous range ``[r*n//w, (r+1)*n//w)`` of the split in shard order (as
Grain's ``ShardOptions`` does: few files per rank, and two ranks never share an example); with
``drop_remainder`` every rank reads ``n//w`` examples (what DDP needs: equal steps per rank).
An epoch's order is a permutation drawn from ``(seed, epoch)`` alone, so every run, process
and worker agrees on it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["epoch_permutation", "rank_range", "resolve_rank"]


def resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """``(rank, world_size)``: as given, else from an initialised ``torch.distributed``, else
    from JAX's processes when JAX is imported and runs several, else ``(0, 1)``."""
    if rank is None and world_size is None:
        rank, world_size = _from_frameworks()
    elif rank is None or world_size is None:
        raise ValueError("give both rank and world_size, or neither")
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in 0..{world_size - 1} (world_size {world_size})")
    return int(rank), int(world_size)


def _from_frameworks() -> tuple[int, int]:
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    jax = sys.modules.get("jax")
    if jax is not None and jax.process_count() > 1:
        return jax.process_index(), jax.process_count()
    return 0, 1


def rank_range(num_examples: int, rank: int, world_size: int, *,
               drop_remainder: bool = False) -> tuple[int, int]:
    """``[start, stop)`` of the split's examples that ``rank`` reads."""
    if drop_remainder:
        per = num_examples // world_size
        return rank * per, (rank + 1) * per
    return rank * num_examples // world_size, (rank + 1) * num_examples // world_size


def epoch_permutation(n: int, *, seed: int, epoch: int) -> np.ndarray:
    """A permutation of ``range(n)`` that depends only on ``(seed, epoch)``."""
    return np.random.default_rng([seed, epoch]).permutation(n)
