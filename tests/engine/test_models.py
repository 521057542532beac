from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rnncast.engine import batches, models
from rnncast.settings import ModelConfig


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
    x, future = batches.step_inputs(config, torch.randn(2, 12),
                                    torch.tensor([[3.0, 50.0]] * 2), 5)  # fmt: skip
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
    assert not torch.allclose(y[0], y[1])
    torch.testing.assert_close(y[1], y[2])  # same id, same state (rows may round apart)
    h = net._initial_state(torch.tensor([1, 4]), 2)
    h = h[0] if cell == "lstm" else h
    assert h.shape == (2, 2, 8)  # (layers, B, hidden)
    fresh = models.RecurrentForecaster(config, 12, 5)
    assert torch.equal(fresh.id_table.weight, torch.zeros(6, 3))  # row 0: unknown series
    assert models.RecurrentForecaster(ModelConfig(segment=4), 12, 5)._initial_state(None, 2) is None


def _net(**kw):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, dropout=0.0, **kw)
    return models.build(config, 12, 10)


def test_relu_activation_reaches_the_rnn():
    x = torch.randn(3, 12, 1)
    relu, tanh = _net(cell="rnn", activation="relu"), _net(cell="rnn")
    assert relu.encoder.nonlinearity == "relu"
    assert (relu.encoder(x.reshape(3, 3, 4))[0] >= 0).all()  # relu states are never negative
    assert (tanh.encoder(x.reshape(3, 3, 4))[0] < 0).any()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("decoder", ["direct", "seq2seq"])
def test_checkpointed_activations_give_the_same_gradients(cell, decoder):
    config = ModelConfig(cell=cell, hidden_size=8, num_layers=2, dropout=0.0, segment=1,
                         decoder=decoder)  # fmt: skip
    torch.manual_seed(0)
    plain = models.build(config, 30, 5).train()
    checked = models.build(dataclasses.replace(config, checkpoint_activations=True), 30, 5)
    checked.load_state_dict(plain.state_dict())
    checked.train()
    calls = []
    checked.encoder.register_forward_pre_hook(lambda *a: calls.append(1))
    x, y = torch.randn(4, 30, 1), torch.randn(4, 5)
    a = plain(x, target=y)
    a.square().mean().backward()
    b = checked(x, target=y)
    assert len(calls) == 5  # 30 steps in 5 chunks of 6
    b.square().mean().backward()
    assert len(calls) == 10  # each chunk recomputed in the backward pass
    torch.testing.assert_close(b, a)
    for (name, p), q in zip(plain.named_parameters(), checked.parameters(), strict=True):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-6, msg=name)
    checked.eval()  # evaluation keeps nothing for a backward pass: no chunks
    checked(x)
    assert len(calls) == 11


def test_echo_state_reservoir_is_sparse_fixed_and_of_the_asked_radius():
    torch.manual_seed(0)
    config = ModelConfig(cell="esn", reservoir_size=200, spectral_radius=0.7, segment=4)
    net = models.build(config, 12, 5)
    assert isinstance(net, models.EchoStateForecaster)
    radius = torch.linalg.eigvals(net.w.double()).abs().max().item()
    assert radius == pytest.approx(0.7, rel=1e-5)
    assert 0.02 < (net.w != 0).float().mean().item() < 0.08  # about 10 of 200 per row
    assert {"w", "w_in", "b"} <= set(net.state_dict())  # saved with the model
    assert models.count_parameters(net) == (200 + 4) * 5 + 5  # only the readout learns


def test_echo_state_features_follow_the_leaky_update():
    torch.manual_seed(0)
    net = models.build(ModelConfig(cell="esn", reservoir_size=30, leak_rate=0.3, segment=4), 12, 5)
    x = torch.randn(2, 12, 1)
    u = x.reshape(2, 3, 4).numpy().astype(np.float64)
    w, w_in, b = (t.numpy().astype(np.float64) for t in (net.w, net.w_in, net.b))
    h = np.zeros((2, 30))
    for t in range(3):
        h = 0.7 * h + 0.3 * np.tanh(u[:, t] @ w_in.T + h @ w.T + b)
    expected = np.concatenate([h, u[:, -1]], axis=1)
    np.testing.assert_allclose(net.features(x).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_esn_is_built_by_build_only():
    with pytest.raises(ValueError, match=r"build it with models\.build"):
        models.RecurrentForecaster(ModelConfig(cell="esn"), 12, 3)


def test_training_bytes_counts_the_network_without_building_it():
    config = ModelConfig(hidden_size=16, segment=4)
    network = models.build(config, 24, 6)
    weights = sum(p.numel() for p in network.parameters())
    assert models.training_bytes(config, 24, 6) == 16 * weights  # weight, gradient, 2 moments
    assert models.training_bytes(config, 24, 6, ema=True) == 20 * weights
    huge = dataclasses.replace(config, hidden_size=10**9)  # would need exabytes: not built
    assert models.training_bytes(huge, 24, 6) == 2**63 - 1
    esn = ModelConfig(cell="esn", reservoir_size=100, segment=4)
    assert models.training_bytes(esn, 24, 6) == 8 * (4 * 100 * 100 + 105**2)


@pytest.mark.parametrize("quantiles", [(), (0.1, 0.5, 0.9)])
def test_last_value_anchor_adds_each_windows_last_value(quantiles):
    torch.manual_seed(0)
    plain = models.RecurrentForecaster(ModelConfig(hidden_size=8, quantiles=quantiles), 12, 5)
    anchored = models.RecurrentForecaster(
        ModelConfig(hidden_size=8, quantiles=quantiles, anchor="last"), 12, 5
    )
    anchored.load_state_dict(plain.state_dict())
    plain.eval(), anchored.eval()
    x = torch.randn(3, 12, 1)
    shift = x[:, -1, 0].reshape(3, 1, *([1] if quantiles else []))
    torch.testing.assert_close(anchored(x), plain(x) + shift)
    # a head that says 0 repeats the last value: naive, for the network to correct
    for p in anchored.head.parameters():
        torch.nn.init.zeros_(p)
    if not quantiles:
        torch.testing.assert_close(anchored(x), x[:, -1:, 0].expand(3, 5))


def test_linear_anchor_starts_at_zero_and_maps_the_lookback():
    torch.manual_seed(0)
    plain = models.RecurrentForecaster(ModelConfig(hidden_size=8), 12, 5).eval()
    linear = models.RecurrentForecaster(ModelConfig(hidden_size=8, anchor="linear"), 12, 5).eval()
    linear.load_state_dict(plain.state_dict() | dict(linear.skip.state_dict(prefix="skip.")))
    x = torch.randn(3, 12, 1)
    torch.testing.assert_close(linear(x), plain(x))  # learned from 0: the same network at first
    with torch.no_grad():
        linear.skip.weight.copy_(torch.randn(5, 12))
    torch.testing.assert_close(linear(x), plain(x) + x[:, :, 0] @ linear.skip.weight.T)


def test_blend_moves_the_median_toward_the_last_value_and_keeps_the_spread():
    y = torch.tensor([[2.0, 4.0]])
    last = torch.tensor([1.0])
    torch.testing.assert_close(
        models.blend(y, last, torch.tensor(0.25)), torch.tensor([[1.25, 1.75]])
    )
    q = torch.tensor([[[1.0, 2.0, 5.0], [3.0, 4.0, 4.5]]])  # levels 0.1, 0.5, 0.9
    out = models.blend(q, last, torch.tensor(0.0), median=1)
    torch.testing.assert_close(out, torch.tensor([[[0.0, 1.0, 4.0], [0.0, 1.0, 1.5]]]))


def test_blend_naive_has_a_weight_that_starts_at_one():
    torch.manual_seed(0)
    plain = models.RecurrentForecaster(ModelConfig(hidden_size=8), 12, 5).eval()
    blended = models.RecurrentForecaster(ModelConfig(hidden_size=8, blend="naive"), 12, 5).eval()
    blended.load_state_dict(plain.state_dict() | {"blend_weight": torch.tensor(1.0)})
    x = torch.randn(3, 12, 1)
    torch.testing.assert_close(blended(x), plain(x))
    blended.blend_weight.fill_(0.0)
    torch.testing.assert_close(blended(x), x[:, -1:, 0].expand(3, 5))
    # without it, no weight: the state of a model file as before
    assert "blend_weight" not in models.RecurrentForecaster(ModelConfig(), 12, 5).state_dict()
