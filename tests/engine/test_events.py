"""What training returns: a result that survives plain data (checkpoints keep finished
networks so)."""

from __future__ import annotations

import torch

from rnncast.engine import events, models
from rnncast.settings import ModelConfig


def test_a_result_round_trips_through_plain_data():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=4, segment=4)
    network = models.build(config, 12, 3)
    result = events.TrainResult(network, history=[{"epoch": 1, "val_loss": 0.5}], best_epoch=1,
                                best_val_loss=0.5, stopped="x", steps=7)  # fmt: skip
    plain = result.to_plain()
    assert "network" not in plain and all(v.device.type == "cpu" for v in plain["weights"].values())
    again = events.TrainResult.from_plain(plain, models.build(config, 12, 3))
    assert (again.best_epoch, again.best_val_loss, again.steps, again.history) == (
        1, 0.5, 7, [{"epoch": 1, "val_loss": 0.5}],
    )  # fmt: skip
    x = torch.randn(2, 12, 1)
    torch.testing.assert_close(again.network(x), network.eval()(x))
    assert not again.network.training


def test_cpu_state_copies():
    state = {"w": torch.ones(2)}
    copied = events.cpu_state(state)
    copied["w"] += 1
    assert state["w"].tolist() == [1.0, 1.0]
