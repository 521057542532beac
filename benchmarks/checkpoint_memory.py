"""Memory and time of one training step with and without ``--checkpoint-activations``.

One forward and backward pass of a 1 x 256 GRU reading a 2,048-step lookback value by value
(``--segment 1``), batch 32, horizon 48, one CPU thread, each setting in a fresh process so
that the peak resident memory (``ru_maxrss``) is its own::

    python benchmarks/checkpoint_memory.py
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time


def step(checkpointed: bool) -> None:
    import torch

    from rnncast.engine import models
    from rnncast.settings import ModelConfig

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=256, segment=1, checkpoint_activations=checkpointed)
    net = models.build(config, 2048, 48).train()
    x, y = torch.randn(32, 2048, 1), torch.randn(32, 48)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    (net(x, y) - y).abs().mean().backward()
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"--checkpoint-activations {str(checkpointed).lower()}: step {seconds:.1f} s, peak "
        f"resident memory {peak / 1024:.0f} MiB ({(peak - before) / 1024:.0f} MiB above the "
        "model and data)"
    )


def main() -> int:
    if len(sys.argv) > 1:
        step(sys.argv[1] == "1")
        return 0
    for flag in ("0", "1"):
        subprocess.run([sys.executable, __file__, flag], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
