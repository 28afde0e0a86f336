"""Sequence encoders against small cases computed by hand, in every graph form."""

import math
from typing import Dict

import pytest
import torch
from google.protobuf import text_format
from torch import nn

from rec_core.errors import ConfigError
from rec_core.protos import module_pb2, seq_encoder_pb2
from rec_models.modules.sequence import (
    DINEncoder,
    MultiWindowDINEncoder,
    PoolingEncoder,
    SelfAttentionEncoder,
    SimpleAttention,
    create_sequence_encoder,
)
from rec_models.testing import TRACE_FORMS, GraphType, aot_inductor_compile, create_test_module, tolerance


def mlp(text: str) -> module_pb2.MLP:
    return text_format.Parse(text, module_pb2.MLP())


def groups(query: list[list[float]], sequence: list[list[list[float]]], lengths: list[int]) -> Dict[str, torch.Tensor]:
    """`s.*` inputs; padded positions hold garbage (9s) that a correct encoder never reads."""
    seq = torch.tensor(sequence)
    steps = torch.arange(seq.size(1)).unsqueeze(0)
    seq = torch.where((steps < torch.tensor(lengths).unsqueeze(1)).unsqueeze(-1), seq, torch.full_like(seq, 9.0))
    return {"s.query": torch.tensor(query), "s.sequence": seq, "s.sequence_length": torch.tensor(lengths)}


# row 0: two valid steps; row 1: empty; row 2: three valid steps
QUERY = [[1.0, 0.0], [0.5, 0.5], [0.0, 2.0]]
SEQUENCE = [
    [[1.0, 2.0], [3.0, 0.0], [0.0, 0.0]],
    [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]],
    [[1.0, 1.0], [0.0, 1.0], [2.0, 0.0]],
]
LENGTHS = [2, 0, 3]


def softmax(xs: list[float]) -> list[float]:
    e = [math.exp(x - max(xs)) for x in xs]
    return [v / sum(e) for v in e]


def weighted(weights: list[float], rows: list[list[float]]) -> list[float]:
    return [sum(w * r[d] for w, r in zip(weights, rows)) for d in range(len(rows[0]))]


def run(encoder: nn.Module, inputs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The encoder's output, checked to be identical in eager, FX and TorchScript form (the
    AOTInductor form is checked once for every encoder kind, in one build)."""
    encoder.eval()
    with torch.no_grad():
        outs = [create_test_module(encoder, g)(inputs) for g in TRACE_FORMS]
    for out in outs[1:]:
        torch.testing.assert_close(out, outs[0], rtol=0, atol=0)
    return outs[0]


class TestPooling:
    def test_sum_and_mean_skip_padding(self) -> None:
        inputs = groups(QUERY, SEQUENCE, LENGTHS)
        total = run(PoolingEncoder("s", 2, "sum"), inputs)
        torch.testing.assert_close(total, torch.tensor([[4.0, 2.0], [0.0, 0.0], [3.0, 2.0]]))
        mean = run(PoolingEncoder("s", 2, "mean"), inputs)
        torch.testing.assert_close(mean, torch.tensor([[2.0, 1.0], [0.0, 0.0], [1.0, 2.0 / 3]]))

    def test_max_seq_length_keeps_the_first_steps(self) -> None:
        out = run(PoolingEncoder("s", 2, "mean", max_seq_length=1), groups(QUERY, SEQUENCE, LENGTHS))
        torch.testing.assert_close(out, torch.tensor([[1.0, 2.0], [0.0, 0.0], [1.0, 1.0]]))

    def test_unknown_pooling(self) -> None:
        with pytest.raises(ConfigError, match="pooling_type.*'max'"):
            PoolingEncoder("s", 2, "max")


class TestSimpleAttention:
    def test_dot_product_weights(self) -> None:
        out = run(SimpleAttention("s", 2, 2), groups(QUERY, SEQUENCE, LENGTHS))
        row0 = weighted(softmax([1.0, 3.0]), SEQUENCE[0][:2])
        row2 = weighted(softmax([2.0, 2.0, 0.0]), SEQUENCE[2])
        torch.testing.assert_close(out, torch.tensor([row0, [0.0, 0.0], row2]))


class TestDIN:
    def build(self, query_dim: int = 2) -> DINEncoder:
        # score = relu(sum(q * s)) (+0 bias): the MLP reads only the q * s block of [q, s, q - s, q * s]
        din = DINEncoder("s", query_dim, 2, mlp("hidden_units: [1]"))
        with torch.no_grad():
            din.mlp.layers[0].weight.copy_(torch.tensor([[0, 0, 0, 0, 0, 0, 1, 1]], dtype=torch.float32))
            din.mlp.layers[0].bias.zero_()
            din.linear.weight.fill_(1.0)
            din.linear.bias.zero_()
        return din

    def test_softmax_of_scores_over_valid_steps(self) -> None:
        out = run(self.build(), groups(QUERY, SEQUENCE, LENGTHS))
        row0 = weighted(softmax([1.0, 3.0]), SEQUENCE[0][:2])
        row2 = weighted(softmax([2.0, 2.0, 0.0]), SEQUENCE[2])
        # an empty history attends to nothing: zeros
        torch.testing.assert_close(out, torch.tensor([row0, [0.0, 0.0], row2]))

    def test_narrower_query_is_zero_extended(self) -> None:
        out = run(self.build(query_dim=1), groups([[2.0], [1.0], [1.0]], SEQUENCE, LENGTHS))
        row0 = weighted(softmax([2.0, 6.0]), SEQUENCE[0][:2])
        row2 = weighted(softmax([1.0, 0.0, 2.0]), SEQUENCE[2])
        torch.testing.assert_close(out, torch.tensor([row0, [0.0, 0.0], row2]))

    def test_query_wider_than_sequence(self) -> None:
        with pytest.raises(ConfigError, match="din: query width 3 is larger than the sequence width 2"):
            DINEncoder("s", 3, 2, mlp("hidden_units: [4]"), where="din")

    def test_batch_norm_and_dice_inside_the_attention_mlp(self) -> None:
        din = DINEncoder("s", 2, 2, mlp('hidden_units: [4, 4] use_bn: true activation: "Dice"'))
        out = run(din, groups(QUERY, SEQUENCE, LENGTHS))
        assert out.shape == (3, 2) and not out[1].any()


class TestMultiWindowDIN:
    def test_windows_average_their_valid_steps(self) -> None:
        encoder = MultiWindowDINEncoder("s", 2, 2, mlp("hidden_units: [1]"), [1, 2])
        with torch.no_grad():
            # every step weighs exactly 1: the MLP outputs relu(1), the linear passes it, PReLU(1) = 1
            encoder.mlp.layers[0].weight.zero_()
            encoder.mlp.layers[0].bias.fill_(1.0)
            encoder.linear.weight.fill_(1.0)
            encoder.linear.bias.zero_()
        seq = [row + [[5.0, 5.0]] for row in SEQUENCE]  # a 4th step past the windows is ignored
        out = run(encoder, groups(QUERY, seq, [2, 0, 4]))
        expected = [
            [1.0, 2.0, 3.0, 0.0, *QUERY[0]],  # window 2 holds one valid step of two
            [0.0, 0.0, 0.0, 0.0, *QUERY[1]],
            [1.0, 1.0, 1.0, 0.5, *QUERY[2]],
        ]
        assert encoder.output_dim == 6
        torch.testing.assert_close(out, torch.tensor(expected))

    def test_windows_must_be_positive(self) -> None:
        with pytest.raises(ConfigError, match=r"mw.windows_len: .*\[2, 0\]"):
            MultiWindowDINEncoder("s", 2, 2, mlp("hidden_units: [1]"), [2, 0], where="mw")


class TestSelfAttention:
    def test_matches_torch_multihead_attention_then_mean(self) -> None:
        torch.manual_seed(0)
        encoder = SelfAttentionEncoder("s", 4, multihead_attn_dim=4, num_heads=2)
        reference = nn.MultiheadAttention(4, 2, batch_first=True)
        with torch.no_grad():
            reference.in_proj_weight.copy_(torch.cat([encoder.query.weight, encoder.key.weight, encoder.value.weight]))
            reference.in_proj_bias.copy_(torch.cat([encoder.query.bias, encoder.key.bias, encoder.value.bias]))
            reference.out_proj.weight.copy_(encoder.out.weight)
            reference.out_proj.bias.copy_(encoder.out.bias)
        seq = torch.randn(3, 4, 4)
        lengths = torch.tensor([2, 0, 4])
        out = run(encoder, {"s.sequence": seq, "s.sequence_length": lengths})
        for b, n in enumerate(lengths.tolist()):
            if n == 0:
                torch.testing.assert_close(out[b], torch.zeros(4))
                continue
            valid = seq[b : b + 1, :n]
            with torch.no_grad():
                mixed = reference(valid, valid, valid, need_weights=False)[0]
            torch.testing.assert_close(out[b], mixed[0].mean(dim=0))

    def test_heads_must_divide_the_width(self) -> None:
        with pytest.raises(ConfigError, match="multihead_attn_dim 10 is not divisible by num_heads 4"):
            SelfAttentionEncoder("s", 4, multihead_attn_dim=10, num_heads=4)


# one config per encoder kind: (config text, class, output width)
ENCODERS = [
    ('din_encoder { input: "s" attn_mlp { hidden_units: [4] } max_seq_length: 2 }', DINEncoder, 2),
    ('simple_attention { input: "s" }', SimpleAttention, 2),
    ('pooling_encoder { input: "s" pooling_type: "sum" }', PoolingEncoder, 2),
    ('multi_window_din_encoder { input: "s" attn_mlp { hidden_units: [4] } windows_len: [1, 1] }', MultiWindowDINEncoder, 6),
    ('self_attention_encoder { input: "s" multihead_attn_dim: 8 num_heads: 2 }', SelfAttentionEncoder, 8),
]


def from_config(text: str) -> nn.Module:
    return create_sequence_encoder(text_format.Parse(text, seq_encoder_pb2.SeqEncoderConfig()), "s", 2, 2, "enc")


@pytest.mark.parametrize(("text", "kind", "width"), ENCODERS)
def test_built_from_config(text: str, kind: type, width: int) -> None:
    encoder = from_config(text)
    assert isinstance(encoder, kind) and encoder.output_dim == width
    assert run(encoder, groups(QUERY, SEQUENCE, LENGTHS)).shape == (3, width)


@pytest.mark.slow
def test_every_encoder_kind_in_aot_inductor_form() -> None:
    torch.manual_seed(0)
    inputs = groups(QUERY, SEQUENCE, LENGTHS)
    encoders = {kind.__name__: from_config(text).eval() for text, kind, _ in ENCODERS}
    compiled = aot_inductor_compile({name: (encoder, (inputs,)) for name, encoder in encoders.items()})
    tol = tolerance(GraphType.AOT_INDUCTOR)
    with torch.no_grad():
        for name, encoder in encoders.items():
            torch.testing.assert_close(compiled[name](inputs), encoder(inputs), rtol=tol, atol=tol, msg=name)


def test_empty_config_names_the_choices() -> None:
    with pytest.raises(ConfigError, match="enc: no sequence encoder is set.*din_encoder"):
        create_sequence_encoder(seq_encoder_pb2.SeqEncoderConfig(), "s", 2, 2, "enc")
