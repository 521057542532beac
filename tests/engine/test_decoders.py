"""Decoders: direct, parallel (SegRNN), seq2seq with attention, recursive."""

from __future__ import annotations

import pytest
import torch

from rnncast.engine import decoders, models
from rnncast.settings import ModelConfig


def _net(**kw):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, dropout=0.0, **kw)
    return models.build(config, 12, 10)


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


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_bidirectional_direct_head_reads_both_final_states(cell):
    net = _net(cell=cell, bidirectional=True, num_layers=2).eval()
    assert net.encoder.bidirectional and net.head.in_features == 16
    x = torch.randn(3, 12, 1)
    out, _ = net.encoder(x.reshape(3, 3, 4))  # (B, steps, 2 x hidden)
    forward_end, backward_end = out[:, -1, :8], out[:, 0, 8:]  # backward ends at step 0
    both = torch.cat([forward_end, backward_end], dim=1)
    torch.testing.assert_close(
        net(x), torch.nn.functional.linear(both, net.head.weight, net.head.bias)
    )


def test_merge_directions_puts_each_layers_directions_side_by_side():
    h = torch.arange(4 * 2 * 3, dtype=torch.float32).reshape(4, 2, 3)  # (layers x 2, B, H)
    merged = decoders._merge_directions((h, -h), 2)
    assert merged[0].shape == (2, 2, 6)
    torch.testing.assert_close(merged[0][1], torch.cat([h[2], h[3]], dim=-1))  # layer 1
    torch.testing.assert_close(merged[1], -merged[0])


FEEDBACK = [
    {"decoder": "seq2seq"},
    {"decoder": "seq2seq", "attention": True},
    {"decoder": "seq2seq", "attention": True, "bidirectional": True, "cell": "lstm"},
    {"decoder": "seq2seq", "cell": "rnn", "num_layers": 2},
    {"decoder": "recursive"},
    {"decoder": "recursive", "cell": "lstm", "num_layers": 2},
]


@pytest.mark.parametrize("kw", FEEDBACK)
def test_training_feeds_the_true_values_prediction_its_own(kw):
    net = _net(**kw)  # horizon 10 in segments of 4: 3 decoder steps
    x, y = torch.randn(3, 12, 1), torch.randn(3, 10)
    net.train()
    forced = net(x, target=y)
    changed = y.clone()
    changed[:, 4:8] += 1.0  # the second segment: the input of the third step only
    again = net(x, target=changed)
    torch.testing.assert_close(again[:, :8], forced[:, :8])
    assert not torch.allclose(again[:, 8:], forced[:, 8:])
    last = y.clone()
    last[:, 8:] += 1.0  # the last segment is never an input
    torch.testing.assert_close(net(x, target=last), forced)
    net.eval()
    own = net(x)
    torch.testing.assert_close(net(x, target=y), own)  # prediction reads no target
    assert not torch.allclose(own, forced)
    net.train()  # teacher forcing with the model's own forecasts is the free run
    torch.testing.assert_close(net(x, target=own), own)


def test_seq2seq_prediction_is_the_decoder_unrolled_by_hand():
    net = _net(decoder="seq2seq").eval()
    x = torch.randn(2, 12, 1)
    steps = x.reshape(2, 3, 4)
    _, h = net.encoder(steps)
    previous, pieces = steps[:, -1:], []
    for _ in range(3):
        y, h = net.head.rnn(previous, h)
        previous = net.head.proj(y)
        pieces.append(previous)
    torch.testing.assert_close(net(x), torch.cat(pieces, dim=1).reshape(2, 12)[:, :10])


def test_seq2seq_attention_weighs_the_encoder_outputs():
    net = _net(decoder="seq2seq", attention=True).eval()
    x = torch.randn(2, 12, 1)
    out, h = net.encoder(x.reshape(2, 3, 4))
    y, _ = net.head.rnn(x.reshape(2, 3, 4)[:, -1:], h)
    weights = torch.softmax(y @ net.head.attention.score(out).transpose(1, 2), dim=-1)
    assert weights.shape == (2, 1, 3)
    context = weights @ out
    first = net.head.proj(torch.tanh(net.head.attention.combine(torch.cat([context, y], -1))))
    torch.testing.assert_close(net(x)[:, :4], first[:, 0])


def test_recursive_prediction_continues_the_encoder_on_its_own_forecasts():
    net = _net(decoder="recursive", cell="gru").eval()
    x = torch.randn(2, 12, 1)
    out, h = net.encoder(x.reshape(2, 3, 4))
    pieces = [net.head.proj(out[:, -1:])]
    for _ in range(2):
        y, h = net.encoder(pieces[-1], h)
        pieces.append(net.head.proj(y))
    torch.testing.assert_close(net(x), torch.cat(pieces, dim=1).reshape(2, 12)[:, :10])
    # the same as re-reading the lookback with each forecast appended (segment 1 or not)
    grown = torch.cat([x, pieces[0].reshape(2, 4, 1)], dim=1)
    again, _ = net.encoder(grown.reshape(2, 4, 4))
    torch.testing.assert_close(net.head.proj(again[:, -1]), pieces[1][:, 0])


@pytest.mark.parametrize("decoder", list(decoders.DECODERS))
def test_every_decoder_is_a_decoder_of_the_horizon(decoder):
    net = _net(decoder=decoder)
    assert isinstance(net.head, decoders.Decoder)
    assert (net.head.horizon, net.head.outputs) == (10, 1)
    assert net(torch.randn(3, 12, 1)).shape == (3, 10)


@pytest.mark.parametrize("decoder", ["direct", "parallel"])
def test_each_horizon_segment_reads_its_own_future_covariates(decoder):
    """A future covariate of a step in the horizon moves the forecast; the parallel decoder's
    segment j reads only segment j's (the horizon, 10 steps, in segments of 4: the last
    segment's two steps past the horizon are zeros)."""
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, dropout=0.0, decoder=decoder,
                         future_covariate_count=2)  # fmt: skip
    net = models.RecurrentForecaster(config, 12, 10).eval()
    x, future = torch.randn(3, 12, 1 + 2), torch.randn(3, 10, 2)
    before = net(x, future)
    assert before.shape == (3, 10)
    moved = future.clone()
    moved[:, 5, 1] += 1.0  # a step of the second segment
    after = net(x, moved)
    assert not torch.allclose(before[:, 4:8], after[:, 4:8])
    if decoder == "parallel":
        assert torch.equal(before[:, :4], after[:, :4]) and torch.equal(before[:, 8:], after[:, 8:])
        assert net.head.known.in_features == 4 * 2 and net.head.known.out_features == 4 * 3


def test_a_network_without_future_covariates_has_the_weights_it_had():
    """Future covariates add weights only to the networks that read them, so that model
    files written before load and forecast as they did."""
    for decoder in ("direct", "parallel"):
        plain = models.RecurrentForecaster(ModelConfig(hidden_size=8, segment=4,
                                                       decoder=decoder), 12, 8)  # fmt: skip
        assert not any("known" in k for k in plain.state_dict())
        config = ModelConfig(hidden_size=8, segment=4, decoder=decoder, future_covariate_count=1)
        future = models.RecurrentForecaster(config, 12, 8)
        assert models.count_parameters(future) > models.count_parameters(plain)
