"""Training in several processes with PyTorch's own engine: torchrun and DistributedDataParallel.

`torchrun --nproc_per_node=N -m rnncast train ...` starts N copies of the command; torchrun
tells each who it is through environment variables (RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT). `session()` joins them into one process group
(gloo on the CPU, NCCL on CUDA GPUs, one GPU per process: cuda:LOCAL_RANK), and the
training loop then:

- wraps the network in DDP, which averages the gradients of every step over the processes;
- draws the same shuffled batches on every process (same seed) and gives each process its
  own contiguous slice of every batch (`shard`), so a step still sees `--batch-size`
  windows in all and an epoch as many steps as in one process: the same optimisation,
  split N ways;
- sums the training and validation losses over the processes (`all_sum`), so every process
  takes the same early-stopping and learning-rate decisions, and stops at the same batch
  when any of them is asked to stop (`any_rank`).

`predict` runs the same way: each process forecasts its contiguous share of the series
(`split_rows`) and the shares are gathered (`gather_rows`) for rank 0 to write; so does the
interval calibration at the end of training.

Only the process of rank 0 (`World.main`) writes files and reports progress. Without torchrun
(or with one process) nothing here does anything and training is as it always was. The
environment is read here, once per command; the process group is torch's own state.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rnncast.errors import ConfigError, RnncastError

if TYPE_CHECKING:
    import numpy
    import torch
    from torch import nn


@dataclass(frozen=True)
class World:
    """This process's place among those training together (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        """The process that writes files and reports progress."""
        return self.rank == 0

    @property
    def many(self) -> bool:
        return self.size > 1


def world(environ: dict[str, str] | None = None) -> World:
    """Who this process is, from the variables torchrun sets (none set: one process).
    Reads only the environment: cheap, and no torch import."""
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env or "RANK" not in env:
        return World()
    try:
        size, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
        local_rank = int(env.get("LOCAL_RANK", "0"))
        local_size = int(env.get("LOCAL_WORLD_SIZE", str(size)))
    except ValueError:
        raise ConfigError(
            f"torchrun's environment is not understood (RANK={env.get('RANK')!r}, "
            f"WORLD_SIZE={env.get('WORLD_SIZE')!r}): start rnncast with torchrun, or unset them"
        ) from None
    if not (size >= 1 and 0 <= rank < size and 0 <= local_rank < local_size):
        raise ConfigError(
            f"torchrun's environment is inconsistent (RANK={rank}, WORLD_SIZE={size}, "
            f"LOCAL_RANK={local_rank}, LOCAL_WORLD_SIZE={local_size}): start rnncast with "
            "torchrun, or unset them"
        )
    return World(rank, size, local_rank, local_size)


def current() -> World:
    """The world of the process group this process has joined (see `session`), or one
    process when it has joined none."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return World()
    w = world()
    return World(dist.get_rank(), dist.get_world_size(), w.local_rank, w.local_size)


def device_for(device: torch.device, w: World) -> torch.device:
    """With several processes, each trains on its own GPU: 'cuda' means cuda:LOCAL_RANK
    (an explicit cuda:N is kept)."""
    import torch

    if w.many and device.type == "cuda" and device.index is None:
        return torch.device("cuda", w.local_rank)
    return device


@contextlib.contextmanager
def session(device: str) -> Iterator[World]:
    """Join the processes torchrun started, for the block; leave the group afterwards.

    A process that fails in the block tells the others as it leaves, and a process whose
    block went well but whose peer failed raises an `RnncastError`, so that every process
    exits with code 1 (the failing one says why). One process: does nothing."""
    w = world()
    if not w.many:
        yield w
        return
    import torch
    import torch.distributed as dist

    from rnncast.engine.devices import resolve_device

    if not dist.is_available():
        raise ConfigError(
            f"torchrun started {w.size} processes, but this torch ({torch.__version__}) has no "
            "torch.distributed: run one process, or install a torch with it"
        )
    target = device_for(resolve_device(device), w)
    if target.type == "mps":
        raise ConfigError(
            "--device mps cannot train in several processes (torch.distributed has no MPS "
            "backend): pass --device cpu, or run one process"
        )
    if target.type == "cuda":
        if target.index >= torch.cuda.device_count():
            raise ConfigError(
                f"torchrun started {w.local_size} processes on this machine, but it has "
                f"{torch.cuda.device_count()} CUDA device(s) (one per process): pass "
                f"--nproc_per_node={torch.cuda.device_count()} or less, or --device cpu"
            )
        torch.cuda.set_device(target)
    dist.init_process_group("nccl" if target.type == "cuda" else "gloo")
    try:
        try:
            yield w
        except BaseException:
            _failed_anywhere(True, target)
            raise
        if _failed_anywhere(False, target):
            raise RnncastError(
                "another process of this torchrun job failed (its message says why): "
                "fix that and run the job again"
            )
    finally:
        dist.destroy_process_group()


def _failed_anywhere(failed: bool, device: torch.device) -> bool:
    """Whether any process failed; a peer that has gone away counts as failed."""
    import torch
    import torch.distributed as dist

    flag = torch.tensor([1.0 if failed else 0.0], device=device)
    try:
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    except Exception:  # the peer's connection is gone: it failed
        return True
    return bool(flag.item())


# ---- the training loop's helpers ---------------------------------------------------------


def wrap(network: nn.Module, device: torch.device, w: World) -> nn.Module:
    """The module to train through: DDP over `network` with several processes (which also
    copies rank 0's initial weights to every process), `network` itself with one."""
    if not w.many:
        return network
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        network, device_ids=[device.index] if device.type == "cuda" else None
    )


def shard(positions: torch.Tensor, w: World) -> torch.Tensor:
    """This process's contiguous slice of `positions` (as even as can be: sizes differ by
    at most one); all of them with one process."""
    if not w.many:
        return positions
    return positions.tensor_split(w.size)[w.rank]


def split_rows(count: int, w: World) -> slice:
    """This process's contiguous share of `count` rows (sizes differ by at most one, lower
    ranks first), as `shard` splits a batch; all of them with one process."""
    if not w.many:
        return slice(0, count)
    base, extra = divmod(count, w.size)
    start = w.rank * base + min(w.rank, extra)
    return slice(start, start + base + (w.rank < extra))


def gather_rows(part: numpy.ndarray, w: World) -> numpy.ndarray:
    """Every process's `part` (its `split_rows` share of a result), joined in rank order,
    on every process; `part` itself with one process."""
    if not w.many:
        return part
    import numpy as np
    import torch.distributed as dist

    parts: list[np.ndarray | None] = [None] * w.size
    dist.all_gather_object(parts, part)
    return np.concatenate(parts)


def all_sum(values: list[float], w: World, device: torch.device) -> list[float]:
    """`values` summed over the processes (float64, so sums of losses keep their digits);
    every process gets the same numbers."""
    if not w.many:
        return values
    import torch
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    dist.broadcast(tensor, src=0)  # bit-identical on every process, whatever the algorithm
    return tensor.tolist()


def any_rank(flag: bool, w: World, device: torch.device) -> bool:
    """Whether `flag` is true on any process (so that all stop at the same batch)."""
    if not w.many:
        return flag
    return all_sum([1.0 if flag else 0.0], w, device)[0] > 0
