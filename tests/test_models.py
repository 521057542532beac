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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(("horizon", "layers"), [(8, 1), (10, 2), (3, 1)])
def test_parallel_decoder_shape(cell, horizon, layers):
    config = ModelConfig(cell=cell, hidden_size=8, num_layers=layers, segment=4, decoder="parallel")
    net = models.RecurrentForecaster(config, 12, horizon)
    assert net.head.position.shape == (-(-horizon // 4), 4)
    assert net(torch.randn(3, 12, 1)).shape == (3, horizon)


def test_parallel_decoder_segments_come_from_their_positions():
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, decoder="parallel", dropout=0.0)
    net = models.RecurrentForecaster(config, 12, 8).eval()
    x = torch.randn(2, 12, 1)
    before = net(x)
    assert not torch.allclose(before[:, :4], before[:, 4:])  # two positions, two segments
    with torch.no_grad():
        net.head.position[1] += 1.0  # only the second segment reads position 1
    after = net(x)
    assert torch.equal(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])


def test_parallel_decoder_continues_the_encoder_state():
    config = ModelConfig(hidden_size=8, segment=4, decoder="parallel", dropout=0.0)
    net = models.RecurrentForecaster(config, 12, 4).eval()
    x = torch.randn(2, 12, 1)
    _, h = net.encoder(x.reshape(2, 3, 4))
    y, _ = net.encoder(net.head.position[:1].expand(2, 1, 4), h)  # one more step, by hand
    torch.testing.assert_close(net(x), net.head.proj(y[:, 0]))


def test_direct_head_keeps_the_old_weight_names():
    net = models.RecurrentForecaster(ModelConfig(hidden_size=8, segment=4), 12, 3)
    assert {k for k in net.state_dict() if not k.startswith("encoder.")} == {
        "head.weight",
        "head.bias",
    }


@pytest.mark.parametrize("decoder", ["direct", "parallel"])
def test_quantile_outputs_never_cross(decoder):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, decoder=decoder, quantiles=(0.05, 0.1, 0.9))
    net = models.RecurrentForecaster(config, 12, 6)
    for p in net.parameters():  # large weights: raw outputs far apart, in any order
        torch.nn.init.normal_(p, std=3.0)
    y = net(torch.randn(64, 12, 1))
    assert y.shape == (64, 6, 4)  # levels 0.05, 0.1, 0.5, 0.9
    assert (y.diff(dim=-1) >= 0).all()


def test_monotone_keeps_the_median_and_adds_softplus_gaps():
    raw = torch.tensor([[3.0, -1.0, 2.0, 0.5]])  # levels (q1, q2, median, q4), median at 2
    got = models.monotone(raw, 2)
    sp = torch.nn.functional.softplus
    want = torch.stack(
        [
            2.0 - sp(torch.tensor(-1.0)) - sp(torch.tensor(3.0)),
            2.0 - sp(torch.tensor(-1.0)),
            torch.tensor(2.0),
            2.0 + sp(torch.tensor(0.5)),
        ]
    )
    torch.testing.assert_close(got[0], want)


def test_point_model_keeps_its_head_shape():
    """A model without quantiles has the head of model files written before quantiles."""
    net = models.RecurrentForecaster(ModelConfig(hidden_size=8, segment=4), 12, 5)
    assert net.head.weight.shape == (5, 8)
    assert net(torch.randn(2, 12, 1)).shape == (2, 5)


def test_calendar_features_widen_the_encoder_and_reach_the_head():
    config = ModelConfig(hidden_size=8, segment=4, calendar=(24.0, 168.0))
    net = models.RecurrentForecaster(config, 12, 5)
    assert net.encoder.input_size == 4 * 5  # segment x (value + 2 x 2 calendar features)
    assert net.head.weight.shape == (5, 8 + 5 * 4)
    x, future = models.inputs(config, torch.randn(2, 12), torch.tensor([[3.0, 50.0]] * 2), 5)
    assert x.shape == (2, 12, 5) and future.shape == (2, 5, 4)
    torch.testing.assert_close(future[0, 0, 0], torch.sin(torch.tensor(2 * torch.pi * 15 / 24)))
    assert net(x, future).shape == (2, 5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_id_embedding_sets_the_initial_state(cell):
    torch.manual_seed(0)
    config = ModelConfig(cell=cell, hidden_size=8, num_layers=2, segment=4, id_embedding=3, ids=5)
    net = models.RecurrentForecaster(config, 12, 5).eval()
    torch.nn.init.normal_(net.id_table.weight)
    x = torch.randn(1, 12, 1).expand(3, -1, -1)
    y = net(x, ids=torch.tensor([0, 2, 2]))
    assert not torch.allclose(y[0], y[1]) and torch.equal(y[1], y[2])
    h = net._initial_state(torch.tensor([1, 4]), 2)
    h = h[0] if cell == "lstm" else h
    assert h.shape == (2, 2, 8)  # (layers, B, hidden)
    fresh = models.RecurrentForecaster(config, 12, 5)
    assert torch.equal(fresh.id_table.weight, torch.zeros(6, 3))  # row 0: unknown series
    assert models.RecurrentForecaster(ModelConfig(segment=4), 12, 5)._initial_state(None, 2) is None
