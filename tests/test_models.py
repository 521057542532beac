from __future__ import annotations

import pytest
import torch

from rnncast import models
from rnncast.config import ModelConfig


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("segment", [1, 4])
def test_output_shape(cell, segment):
    net = models.RecurrentForecaster(
        ModelConfig(cell=cell, hidden_size=8, num_layers=2, segment=segment), 12, 5
    )
    assert net(torch.randn(3, 12, 1)).shape == (3, 5)


def test_segments_are_the_recurrent_steps():
    config = ModelConfig(cell="gru", hidden_size=8, num_layers=1, segment=4)
    net = models.RecurrentForecaster(config, 12, 3)
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = inputs[0].shape

    net.encoder.register_forward_hook(record)
    x = torch.arange(2 * 12, dtype=torch.float32).reshape(2, 12, 1)
    net(x)
    assert seen["shape"] == (2, 3, 4)
    assert net.encoder.input_size == 4


def test_lookback_must_be_whole_segments():
    with pytest.raises(ValueError, match="lookback 10 is not a multiple of segment 4"):
        models.RecurrentForecaster(ModelConfig(segment=4), 10, 3)


def test_parameter_count_matches_torch_formula():
    config = ModelConfig(cell="lstm", hidden_size=8, num_layers=1, segment=2)
    net = models.RecurrentForecaster(config, 4, 3)
    lstm = 4 * (8 * 2 + 8 * 8 + 8 + 8)
    head = 8 * 3 + 3
    assert models.count_parameters(net) == lstm + head
