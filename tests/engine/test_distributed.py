"""Training under torchrun: two real CPU processes (gloo) against one process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import rnncast
from rnncast.cli.app import app
from rnncast.engine import distributed
from rnncast.errors import ConfigError
from tests.conftest import make_long

TINY = ["--horizon", "6", "--lookback", "24", "--hidden-size", "8", "--dropout", "0",
        "--ensemble", "1", "--max-epochs", "3", "--epoch-size", "128", "--batch-size", "32",
        "--device", "cpu", "--threads", "1"]  # fmt: skip


def test_world_from_torchrun_environment():
    assert distributed.world({}) == distributed.World(0, 1, 0, 1)
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    w = distributed.world(env)
    assert (w.rank, w.size, w.local_rank, w.local_size) == (3, 4, 1, 2)
    assert w.many and not w.main
    assert distributed.world({**env, "RANK": "0"}).main
    with pytest.raises(ConfigError) as e:
        distributed.world({**env, "RANK": "4"})
    assert str(e.value) == (
        "torchrun's environment is inconsistent (RANK=4, WORLD_SIZE=4, LOCAL_RANK=1, "
        "LOCAL_WORLD_SIZE=2): start rnncast with torchrun, or unset them"
    )
    with pytest.raises(ConfigError) as e:
        distributed.world({**env, "WORLD_SIZE": "four"})
    assert str(e.value) == (
        "torchrun's environment is not understood (RANK='3', WORLD_SIZE='four'): start "
        "rnncast with torchrun, or unset them"
    )


def test_shards_cover_every_batch_once():
    batch = torch.tensor([7, 3, 9, 1, 4, 0, 8])
    parts = [distributed.shard(batch, distributed.World(r, 3)) for r in range(3)]
    assert [p.tolist() for p in parts] == [[7, 3, 9], [1, 4], [0, 8]]
    assert distributed.shard(batch, distributed.World()) is batch


def test_rows_split_as_batches_do():
    for count, size in ((5, 2), (7, 3), (2, 4), (0, 2)):
        parts = [distributed.split_rows(count, distributed.World(r, size)) for r in range(size)]
        shards = [distributed.shard(torch.arange(count), distributed.World(r, size)) for r in
                  range(size)]  # fmt: skip
        assert [list(range(count))[p] for p in parts] == [s.tolist() for s in shards]
    assert distributed.split_rows(4, distributed.World()) == slice(0, 4)


def test_one_process_is_left_alone():
    w = distributed.World()
    assert distributed.all_sum([1.5, 2], w, torch.device("cpu")) == [1.5, 2]
    assert distributed.any_rank(True, w, torch.device("cpu")) is True
    net = torch.nn.Linear(2, 2)
    assert distributed.wrap(net, torch.device("cpu"), w) is net
    assert distributed.current() == w  # no process group joined
    assert distributed.device_for(torch.device("cuda"), w) == torch.device("cuda")
    two = distributed.World(1, 2, 1, 2)
    assert distributed.device_for(torch.device("cuda"), two) == torch.device("cuda", 1)
    assert distributed.device_for(torch.device("cuda", 0), two) == torch.device("cuda", 0)


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch has no torch.distributed with gloo",
)
def test_torchrun_two_processes_match_one(tmp_path, monkeypatch):
    """2 processes x 1 thread train the model one process trains, up to float rounding:
    each process's loss is weighted by its share of the batch, so the averaged gradient is
    the one-process gradient, but summed in another order (float32), so the weights differ
    in the last bits (about 1e-7 here) and that grows a little over the steps; 1e-4 is far
    below what a wrong shard or a missing all-reduce gives (1e-2 and more)."""
    monkeypatch.chdir(tmp_path)
    make_long(n_series=4, length=200).to_csv("s.csv", index=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "rnncast", "train", "s.csv", *TINY,
               "--out", "two.rnncast"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "two.rnncast"]
    said = done.stderr.splitlines()
    assert said.count("saved two.rnncast") == 1  # rank 0 alone reports
    assert sum(line.startswith("epoch 1/3 ") for line in said) == 1

    assert CliRunner().invoke(app, ["train", "s.csv", *TINY, "--out", "one.rnncast"]).exit_code == 0
    two, one = rnncast.load("two.rnncast"), rnncast.load("one.rnncast")
    assert (two.summary["processes"], one.summary["processes"]) == (2, 1)
    assert two.summary["steps"] == one.summary["steps"]  # the same optimisation, split in two
    for k in ("best_val_loss", "epochs"):
        np.testing.assert_allclose(two.summary[k], one.summary[k], rtol=1e-4)
    np.testing.assert_allclose(
        [h["train_loss"] for h in two.history], [h["train_loss"] for h in one.history], rtol=1e-4
    )
    a, b = rnncast.predict(two, "s.csv"), rnncast.predict(one, "s.csv")
    np.testing.assert_allclose(a.y_hat, b.y_hat, rtol=1e-4)
    described = json.loads(CliRunner().invoke(app, ["info", "two.rnncast", "--json"]).stdout)
    assert described["training"]["processes"] == 2


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch has no torch.distributed with gloo",
)
def test_torchrun_predict_writes_what_one_process_writes(tmp_path, monkeypatch):
    """Under torchrun rank 0 gathers every process's forecasts and alone writes them: the
    same forecasts as one process, row for row (`test_each_process_forecasts_its_share`
    shows the work is split)."""
    monkeypatch.chdir(tmp_path)
    make_long(n_series=5, length=120).to_csv("s.csv", index=False)
    assert CliRunner().invoke(app, ["train", "s.csv", *TINY, "--out", "m.rnncast"]).exit_code == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", "-m", "rnncast", "predict", "s.csv", "--model", "m.rnncast",
               "--device", "cpu", "--out", "two.csv"]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.rnncast", "s.csv", "two.csv"]
    assert done.stderr.count("forecast 6 steps for 5 series: wrote two.csv") == 1
    one = CliRunner().invoke(app, ["predict", "s.csv", "--model", "m.rnncast", "--out", "-"])
    assert one.exit_code == 0
    two = pd.read_csv("two.csv")
    expected = pd.read_csv(io.StringIO(one.stdout))
    assert two[["unique_id", "ds"]].equals(expected[["unique_id", "ds"]])
    np.testing.assert_allclose(two.y_hat, expected.y_hat, rtol=1e-6)


SHARES = """
import os
import sys

import torch

sys.path.insert(0, sys.argv[1])
from rnncast.data.build import from_frame
from rnncast.engine import distributed, models
from rnncast.forecast.forecasting import outputs_at
from rnncast.settings import ModelConfig
from tests.conftest import make_long

with distributed.session("cpu") as w:
    torch.manual_seed(0)
    network = models.RecurrentForecaster(ModelConfig(hidden_size=4, segment=4), 24, 6).eval()
    seen = []
    forward = network.forward
    network.forward = lambda x, *a, **k: (seen.append(len(x)), forward(x, *a, **k))[1]
    series = from_frame(make_long(n_series=5, length=60))
    out = outputs_at(network, series, series.offsets[1:] - 24)
    os.write(1, f"rank {w.rank}: read {sum(seen)} windows, holds {len(out.point)}\\n".encode())
"""


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch has no torch.distributed with gloo",
)
def test_each_process_forecasts_its_share(tmp_path):
    """Of 5 series' windows, rank 0 runs the network on 3 and rank 1 on 2, and each ends up
    holding all 5 forecasts."""
    from tests.conftest import ROOT

    script = tmp_path / "shares.py"
    script.write_text(SHARES)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", str(script), str(ROOT)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    said = sorted(line for line in done.stdout.splitlines() if line.startswith("rank "))
    assert said == ["rank 0: read 3 windows, holds 5", "rank 1: read 2 windows, holds 5"]


PEER_FAILS = """
import os
import sys
from rnncast.engine import distributed
from rnncast.errors import DataError, RnncastError
try:
    with distributed.session("cpu") as w:
        if w.rank == 1:
            raise DataError("rank 1 cannot read its data")
except RnncastError as e:  # one write of one line: the two processes share the pipe
    os.write(1, f"rank {distributed.world().rank}: {e}\\n".encode())
    sys.exit(1)
"""


@pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch has no torch.distributed with gloo",
)
def test_a_failure_in_one_process_fails_every_process(tmp_path):
    script = tmp_path / "peer.py"
    script.write_text(PEER_FAILS)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node=2", str(script)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    said = sorted(line for line in done.stdout.splitlines() if line.startswith("rank "))
    assert said == [
        "rank 0: another process of this torchrun job failed (its message says why): fix that "
        "and run the job again",
        "rank 1: rank 1 cannot read its data",
    ]
