"""Optimizers and learning-rate schedules from SparseOptimizer / DenseOptimizer configs."""

from __future__ import annotations

import math

import pytest
import torch
import torchrec.optim as trec_optim
from google.protobuf import text_format

from rec_core.errors import ConfigError
from rec_core.protos import optimizer_pb2
from fbgemm_gpu.tbe.config.optimizer_config import WeightDecayMode

from rec_models import sparse_optim
from rec_models.optim import (
    CPU_FUSED_SPARSE,
    LRScheduler,
    SparseSpec,
    base_lr,
    create_dense_optimizer,
    create_unfused_sparse_optimizer,
    lr_function,
    needs_dense_kernel,
    sparse_optimizer_spec,
)


def dense(text: str) -> optimizer_pb2.DenseOptimizer:
    return text_format.Parse(text, optimizer_pb2.DenseOptimizer())


def sparse(text: str) -> optimizer_pb2.SparseOptimizer:
    return text_format.Parse(text, optimizer_pb2.SparseOptimizer())


def schedule(text: str, lr: float = 0.1) -> list[float]:
    """lr at steps 0..19 of `adam_optimizer { lr } <text>`."""
    cfg = dense(f"adam_optimizer {{ lr: {lr} }} {text}")
    fn, _ = lr_function(cfg, base_lr(cfg), "train_config.dense_optimizer")
    return [fn(t) for t in range(20)]


class TestSchedules:
    def test_constant(self) -> None:
        assert schedule("constant_learning_rate {}") == pytest.approx([0.1] * 20)
        assert schedule("") == pytest.approx([0.1] * 20)

    def test_exponential_staircase(self) -> None:
        lrs = schedule("exponential_decay_learning_rate { decay_size: 5 decay_factor: 0.5 }")
        assert lrs[0] == pytest.approx(0.1)
        assert lrs[4] == pytest.approx(0.1)  # still the first stair
        assert lrs[5] == pytest.approx(0.05)
        assert lrs[9] == pytest.approx(0.05)
        assert lrs[10] == pytest.approx(0.025)
        assert lrs[19] == pytest.approx(0.1 * 0.5**3)

    def test_exponential_smooth(self) -> None:
        lrs = schedule("exponential_decay_learning_rate { decay_size: 5 decay_factor: 0.5 staircase: false }")
        assert lrs[3] == pytest.approx(0.1 * 0.5 ** (3 / 5))
        assert lrs[12] == pytest.approx(0.1 * 0.5 ** (12 / 5))

    def test_exponential_warmup_then_decay_from_warmup_end(self) -> None:
        lrs = schedule(
            "exponential_decay_learning_rate { decay_size: 4 decay_factor: 0.5 warmup_learning_rate: 0.02 warmup_size: 4 }"
        )
        # linear from 0.02 to 0.1 over 4 steps, then decay counts from the end of warmup
        assert lrs[:4] == pytest.approx([0.02, 0.04, 0.06, 0.08])
        assert lrs[4] == pytest.approx(0.1)
        assert lrs[7] == pytest.approx(0.1)
        assert lrs[8] == pytest.approx(0.05)

    def test_exponential_min_learning_rate(self) -> None:
        lrs = schedule("exponential_decay_learning_rate { decay_size: 1 decay_factor: 0.1 min_learning_rate: 0.0005 }")
        assert lrs[1] == pytest.approx(0.01)
        assert lrs[2] == pytest.approx(0.001)
        assert lrs[3] == pytest.approx(0.0005)
        assert lrs[19] == pytest.approx(0.0005)

    def test_manual_steps(self) -> None:
        lrs = schedule("manual_step_learning_rate { schedule_sizes: [5, 10] learning_rates: [0.05, 0.01] }")
        # TorchEasyRec switches once the step passes a size: base lr up to and including step 5
        assert lrs[:6] == pytest.approx([0.1] * 6)
        assert lrs[6:11] == pytest.approx([0.05] * 5)
        assert lrs[11:] == pytest.approx([0.01] * 9)

    def test_manual_steps_with_warmup(self) -> None:
        lrs = schedule("manual_step_learning_rate { schedule_sizes: [4, 8] learning_rates: [0.5, 0.01] warmup: true }")
        # linear from the optimizer lr (0.1) to learning_rates[0] (0.5) over the first 4 steps
        assert lrs[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
        assert lrs[5:9] == pytest.approx([0.5] * 4)
        assert lrs[9] == pytest.approx(0.01)

    def test_manual_steps_must_pair_and_increase(self) -> None:
        with pytest.raises(ConfigError, match="train_config.dense_optimizer.manual_step_learning_rate"):
            schedule("manual_step_learning_rate { schedule_sizes: [5] learning_rates: [0.1, 0.2] }")
        with pytest.raises(ConfigError, match="increasing"):
            schedule("manual_step_learning_rate { schedule_sizes: [5, 2] learning_rates: [0.1, 0.2] }")

    def test_cosine(self) -> None:
        lrs = schedule("cosine_annealing_learning_rate { T_max: 10 min_learning_rate: 0.01 }")
        assert lrs[0] == pytest.approx(0.1)
        assert lrs[5] == pytest.approx(0.01 + 0.09 * 0.5)
        assert lrs[10] == pytest.approx(0.01)
        assert lrs[19] == pytest.approx(0.01)  # stays at the minimum after T_max

    def test_cosine_warmup(self) -> None:
        lrs = schedule("cosine_annealing_learning_rate { T_max: 10 warmup_size: 2 warmup_learning_rate: 0.0 }")
        assert lrs[:3] == pytest.approx([0.0, 0.05, 0.1])
        assert lrs[7] == pytest.approx(0.1 * (1 + math.cos(math.pi * 5 / 10)) / 2)

    def test_cosine_warm_restarts(self) -> None:
        lrs = schedule("cosine_annealing_warm_restarts_learning_rate { T_0: 4 T_mult: 2 }")
        assert lrs[0] == pytest.approx(0.1)
        assert lrs[2] == pytest.approx(0.05)
        assert lrs[4] == pytest.approx(0.1)  # restart after 4 steps
        assert lrs[8] == pytest.approx(0.05)  # second period is 8 steps long
        assert lrs[12] == pytest.approx(0.1)

    def test_period_must_be_positive(self) -> None:
        with pytest.raises(ConfigError, match="T_0/T_max"):
            schedule("cosine_annealing_learning_rate { }")
        with pytest.raises(ConfigError, match="decay_size"):
            schedule("exponential_decay_learning_rate { }")

    def test_by_epoch_is_reported(self) -> None:
        cfg = dense("sgd_optimizer { lr: 0.1 } exponential_decay_learning_rate { decay_size: 1 by_epoch: true }")
        assert lr_function(cfg, 0.1, "x")[1] is True


class TestLRScheduler:
    def test_drives_the_optimizer(self) -> None:
        cfg = dense("sgd_optimizer { lr: 0.1 } exponential_decay_learning_rate { decay_size: 2 decay_factor: 0.5 }")
        opt = create_dense_optimizer(cfg, [torch.nn.Parameter(torch.zeros(2))])
        sched = LRScheduler(opt, cfg, "train_config.dense_optimizer")
        seen = []
        for _ in range(5):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        assert seen == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
        assert sched.by_epoch is False

    def test_zero_base_lr_stays_zero(self) -> None:
        cfg = dense("sgd_optimizer { lr: 0 } manual_step_learning_rate { schedule_sizes: [1] learning_rates: [0.5] }")
        opt = create_dense_optimizer(cfg, [torch.nn.Parameter(torch.zeros(2))])
        sched = LRScheduler(opt, cfg, "x")
        for _ in range(3):
            opt.step()
            sched.step()
        assert opt.param_groups[0]["lr"] == 0.0


class TestDenseOptimizers:
    @pytest.mark.parametrize(
        ("text", "cls", "expect"),
        [
            ("sgd_optimizer { lr: 0.1 momentum: 0.5 nesterov: true }", torch.optim.SGD, {"momentum": 0.5, "nesterov": True}),
            ("adagrad_optimizer { lr: 0.1 initial_accumulator_value: 0.2 }", torch.optim.Adagrad, {"initial_accumulator_value": 0.2}),
            ("adam_optimizer { lr: 0.1 beta1: 0.8 amsgrad: true }", torch.optim.Adam, {"betas": (0.8, 0.999), "amsgrad": True}),
            ("adamw_optimizer { lr: 0.1 weight_decay: 0.01 }", torch.optim.AdamW, {"weight_decay": 0.01}),
            ("adadelta_optimizer { lr: 0.1 rho: 0.8 }", torch.optim.Adadelta, {"rho": 0.8}),
            ("rmsprop_optimizer { lr: 0.1 alpha: 0.9 centered: true }", torch.optim.RMSprop, {"alpha": 0.9, "centered": True}),
        ],
    )
    def test_each_oneof(self, text: str, cls: type, expect: dict) -> None:
        opt = create_dense_optimizer(dense(text), [torch.nn.Parameter(torch.zeros(1))])
        assert type(opt) is cls
        group = opt.param_groups[0]
        assert group["lr"] == pytest.approx(0.1)
        for k, v in expect.items():
            assert group[k] == (pytest.approx(v) if not isinstance(v, bool) else v), k

    def test_unset_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="train_config.dense_optimizer"):
            create_dense_optimizer(optimizer_pb2.DenseOptimizer(), [])


class TestSparseOptimizers:
    @pytest.mark.parametrize(
        ("kind", "cls", "extra", "unfused"),
        [
            ("sgd_optimizer", trec_optim.SGD, {}, sparse_optim.SGD),
            ("adagrad_optimizer", trec_optim.Adagrad, {"eps": 1e-8}, sparse_optim.Adagrad),
            ("rowwise_adagrad_optimizer", trec_optim.RowWiseAdagrad, {"weight_decay": 0.0}, sparse_optim.RowWiseAdagrad),
            ("adam_optimizer", trec_optim.Adam, {"beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0}, sparse_optim.Adam),
            ("partial_rowwise_adam_optimizer", trec_optim.PartialRowWiseAdam, {"beta2": 0.999}, sparse_optim.PartialRowWiseAdam),
            ("lamb_optimizer", trec_optim.LAMB, {"beta1": 0.9}, sparse_optim.LAMB),
            ("partial_rowwise_lamb_optimizer", trec_optim.PartialRowWiseLAMB, {"beta1": 0.9}, sparse_optim.PartialRowWiseLAMB),
            ("lars_sgd_optimizer", trec_optim.LarsSGD, {"momentum": 0.9}, sparse_optim.LarsSGD),
        ],
    )
    def test_each_oneof(self, kind: str, cls: type, extra: dict, unfused: type) -> None:
        config = sparse(f"{kind} {{ lr: 0.05 }}")
        spec = sparse_optimizer_spec(config)
        name, got_cls, kwargs = spec.kind, spec.fused, spec.kwargs
        assert name == kind and got_cls is cls and spec.embedding_l2 == 0
        # FBGEMM's argument names: TorchRec passes these kwargs straight to the fused kernel
        assert kwargs["lr"] == pytest.approx(0.05)
        for k, v in extra.items():
            assert kwargs[k] == pytest.approx(v), k
        assert "gradient_clipping" not in kwargs and "betas" not in kwargs
        table = torch.nn.Parameter(torch.zeros(3, 4))
        opt = create_unfused_sparse_optimizer(config, [table])
        assert type(opt) is unfused and opt.param_groups[0]["lr"] == pytest.approx(0.05)

    def test_gradient_clipping(self) -> None:
        config = sparse("adagrad_optimizer { lr: 0.1 gradient_clipping: true max_gradient: 2 }")
        kwargs = sparse_optimizer_spec(config).kwargs
        assert kwargs["gradient_clipping"] is True and kwargs["max_gradient"] == pytest.approx(2.0)
        opt = create_unfused_sparse_optimizer(config, [torch.nn.Parameter(torch.zeros(2, 4))])
        assert opt.param_groups[0]["max_gradient"] == pytest.approx(2.0)

    def test_rowwise_weight_decay_mode(self) -> None:
        text = "rowwise_adagrad_optimizer { lr: 0.1 weight_decay: 0.01 weight_decay_mode: DECOUPLE }"
        kwargs = sparse_optimizer_spec(sparse(text)).kwargs
        assert kwargs["weight_decay_mode"] == WeightDecayMode.DECOUPLE

    @pytest.mark.parametrize("kind", ["adadelta_optimizer", "rmsprop_optimizer"])
    def test_unsupported_oneof_is_a_config_error(self, kind: str) -> None:
        with pytest.raises(ConfigError, match=f"train_config.sparse_optimizer.{kind}.*expected one of"):
            sparse_optimizer_spec(sparse(f"{kind} {{ lr: 0.1 }}"))

    def test_unset_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="train_config.sparse_optimizer.<optimizer>"):
            sparse_optimizer_spec(optimizer_pb2.SparseOptimizer())

    def test_adagrad_initial_accumulator_is_refused(self) -> None:
        with pytest.raises(ConfigError, match="adagrad_optimizer.initial_accumulator_value"):
            sparse_optimizer_spec(sparse("adagrad_optimizer { lr: 0.1 initial_accumulator_value: 0.1 }"))

    def test_cpu_fused_set(self) -> None:
        assert CPU_FUSED_SPARSE == {"sgd_optimizer", "adagrad_optimizer", "rowwise_adagrad_optimizer"}


class TestDenseKernelChoice:
    def spec(self, text: str) -> SparseSpec:
        return sparse_optimizer_spec(sparse(text))

    def test_width_not_a_multiple_of_four(self) -> None:
        adagrad = self.spec("adagrad_optimizer { lr: 0.1 }")
        assert needs_dense_kernel(adagrad, "cuda", 6) and needs_dense_kernel(adagrad, "cpu", 6)
        assert not needs_dense_kernel(adagrad, "cpu", 8) and not needs_dense_kernel(adagrad, "cuda", 12)

    def test_optimizers_without_a_cpu_kernel(self) -> None:
        lamb = self.spec("lamb_optimizer { lr: 0.1 }")
        assert needs_dense_kernel(lamb, "cpu", 8) and not needs_dense_kernel(lamb, "cuda", 8)

    def test_cpu_rowwise_adagrad_with_weight_decay(self) -> None:
        decayed = self.spec("rowwise_adagrad_optimizer { lr: 0.1 weight_decay: 0.01 weight_decay_mode: L2 }")
        assert needs_dense_kernel(decayed, "cpu", 8) and not needs_dense_kernel(decayed, "cuda", 8)
        assert not needs_dense_kernel(self.spec("rowwise_adagrad_optimizer { lr: 0.1 }"), "cpu", 8)

    def test_embedding_l2_needs_the_dense_kernel_everywhere(self) -> None:
        # fused kernels see only the looked-up rows; the whole-table penalty needs every row
        l2 = self.spec("adagrad_optimizer { lr: 0.1 } embedding_l2_regularization: 0.05")
        assert l2.embedding_l2 == pytest.approx(0.05)
        assert needs_dense_kernel(l2, "cpu", 8) and needs_dense_kernel(l2, "cuda", 8)

    def test_negative_embedding_l2_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="sparse_optimizer.embedding_l2_regularization: must be >= 0"):
            self.spec("adam_optimizer { lr: 0.1 } embedding_l2_regularization: -1")
