"""HSTU on CPU: STU layers against a position-by-position reference, causality, windows, the encoder."""

import math

import pytest
import torch
from google.protobuf import text_format
from torch import nn
from torch.nn import functional as F

from rec_core.errors import ConfigError
from rec_core.protos import module_pb2
from rec_models.modules import jagged
from rec_models.modules.hstu import HSTUEncoder, STULayer
from rec_models.testing import TRACE_FORMS, create_test_module

HEADS, HIDDEN, ATTN, DIM, MAX_LEN = 2, 3, 2, 4, 8


def layer(window: int = 0) -> STULayer:
    torch.manual_seed(0)
    return STULayer(DIM, HEADS, HIDDEN, ATTN, MAX_LEN, dropout=0.0, max_attn_len=window).eval()


def reference(stu: STULayer, x: torch.Tensor, window: int = 0) -> torch.Tensor:
    """One row [n, D] through the STU formula, one position and head at a time."""
    n = x.shape[0]
    uvqk = F.silu(stu.uvqk(stu.input_norm(x)))
    u, v, q, k = torch.split(uvqk, [HEADS * HIDDEN, HEADS * HIDDEN, HEADS * ATTN, HEADS * ATTN], dim=1)
    alpha = 1 / math.sqrt(ATTN)
    mixed = torch.zeros(n, HEADS * HIDDEN)
    for i in range(n):
        for h in range(HEADS):
            for j in range(i + 1):
                if window and i - j >= window:
                    continue
                a = F.silu(alpha * (q[i, h * ATTN : (h + 1) * ATTN] @ k[j, h * ATTN : (h + 1) * ATTN])) / MAX_LEN
                mixed[i, h * HIDDEN : (h + 1) * HIDDEN] += a * v[j, h * HIDDEN : (h + 1) * HIDDEN]
    return x + stu.output(stu.output_norm(mixed) * u)


LENGTHS = [3, 0, 5]


def rows() -> list[torch.Tensor]:
    torch.manual_seed(1)
    return [torch.randn(n, DIM) for n in LENGTHS]


class TestSTULayer:
    @pytest.mark.parametrize("window", [0, 2])
    def test_matches_the_reference_row_by_row(self, window: int) -> None:
        stu, xs = layer(window), rows()
        with torch.no_grad():
            out = stu(torch.cat(xs), torch.tensor(LENGTHS), max(LENGTHS))
            expected = torch.cat([reference(stu, x, window) for x in xs])
        torch.testing.assert_close(out, expected)

    def test_causal_and_rows_independent(self) -> None:
        stu, xs = layer(), rows()
        with torch.no_grad():
            base = stu(torch.cat(xs), torch.tensor(LENGTHS), max(LENGTHS))
            later = [xs[0], xs[1], xs[2].clone()]
            later[2][3:] += 5.0  # change row 2's last two positions
            changed = stu(torch.cat(later), torch.tensor(LENGTHS), max(LENGTHS))
            alone = stu(xs[0], torch.tensor([3]), 3)
        torch.testing.assert_close(changed[:6], base[:6])  # row 0 and row 2's first 3 positions
        assert not torch.allclose(changed[6:], base[6:])
        torch.testing.assert_close(alone, base[:3])

    def test_padding_past_the_longest_row_changes_nothing(self) -> None:
        # a compiled model pads to a bound it is given, not to the batch's longest row
        stu, xs = layer(), rows()
        with torch.no_grad():
            exact = stu(torch.cat(xs), torch.tensor(LENGTHS), max(LENGTHS))
            padded = stu(torch.cat(xs), torch.tensor(LENGTHS), max(LENGTHS) + 4)
        torch.testing.assert_close(padded, exact, rtol=0, atol=0)


def config(post: str = "l2norm_postprocessor {}", layers: int = 2) -> module_pb2.HSTU:
    text = f"""
        stu {{ embedding_dim: {DIM} num_heads: {HEADS} hidden_dim: {HIDDEN} attention_dim: {ATTN} output_dropout_ratio: 0 }}
        input_dropout_ratio: 0
        attn_num_layers: {layers}
        positional_encoder {{ num_position_buckets: 4 }}
        input_preprocessor {{ uih_preprocessor {{}} }}
        output_postprocessor {{ {post} }}
    """
    return text_format.Parse(text, module_pb2.HSTU())


class Flat(nn.Module):
    """(values, lengths) -> (encoded, last): the encoder as an exported model calls it."""

    def __init__(self, encoder: HSTUEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, values: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        steps = jagged.padded_length(lengths, 0)
        encoded = self.encoder(values, lengths, steps)
        return torch.cat([encoded, self.encoder.last(encoded, lengths, steps)], dim=0)


class TestEncoder:
    def test_l2_normalised_outputs_and_last_positions(self) -> None:
        torch.manual_seed(0)
        encoder = HSTUEncoder(config(), input_dim=6, max_seq_len=MAX_LEN).eval()
        values, lengths = torch.randn(8, 6), torch.tensor(LENGTHS)
        with torch.no_grad():
            out = encoder(values, lengths, max(LENGTHS))
            last = encoder.last(out, lengths, max(LENGTHS) + 2)
        assert out.shape == (8, DIM)
        torch.testing.assert_close(out.norm(dim=1), torch.ones(8))
        torch.testing.assert_close(last, torch.stack([out[2], torch.zeros(DIM), out[7]]))

    def test_positions_past_the_last_bucket_share_it(self) -> None:
        torch.manual_seed(0)
        encoder = HSTUEncoder(config(layers=0), input_dim=DIM, max_seq_len=MAX_LEN).eval()
        with torch.no_grad():
            # zero input: every output is its position's embedding, normalised
            out = encoder(torch.zeros(6, DIM), torch.tensor([6]), 6)
        expected = F.normalize(encoder.positions.weight[[0, 1, 2, 3, 3, 3]], dim=1)
        torch.testing.assert_close(out, expected)

    def test_every_graph_form_agrees_and_gradients_flow(self) -> None:
        torch.manual_seed(0)
        flat = Flat(HSTUEncoder(config("layernorm_postprocessor {}"), input_dim=DIM, max_seq_len=MAX_LEN))
        values, lengths = torch.randn(8, DIM), torch.tensor(LENGTHS)
        flat(values, lengths).sum().backward()
        assert all(p.grad is not None for p in flat.parameters())
        flat.eval()
        with torch.no_grad():
            # not AOT_INDUCTOR: here the longest row is read from the data inside the compiled
            # graph; models pass it in from their embedding lookups (`<g>.sequence_steps`)
            outs = [create_test_module(flat, g)(values, lengths) for g in TRACE_FORMS]
        for out in outs[1:]:
            torch.testing.assert_close(out, outs[0], rtol=0, atol=0)

    def test_unsupported_postprocessor(self) -> None:
        with pytest.raises(ConfigError, match="hstu.output_postprocessor"):
            HSTUEncoder(config("timestamp_layernorm_postprocessor {}"), input_dim=DIM, max_seq_len=MAX_LEN)
