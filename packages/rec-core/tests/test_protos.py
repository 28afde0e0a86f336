"""The committed generated protos match their sources, and TorchEasyRec-style configs load."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from google.protobuf import text_format

from rec_core.protos import (
    data_pb2,
    feature_pb2,
    model_pb2,
    optimizer_pb2,
    pipeline_pb2,
    train_pb2,
)

PKG_ROOT = Path(__file__).resolve().parent.parent
SRC = PKG_ROOT / "src"
DATA = Path(__file__).resolve().parent / "data"


def _load_gen_script():
    spec = importlib.util.spec_from_file_location("gen_protos", PKG_ROOT / "scripts" / "gen_protos.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _normalise(text: str) -> str:
    # The protoc version stamp changes with grpcio-tools releases, not with the schema.
    text = re.sub(r"# Protobuf Python Version: .*", "", text)
    return re.sub(r"_runtime_version\.ValidateProtobufRuntimeVersion\([^)]*\)", "", text, flags=re.S)


def test_generated_code_matches_committed(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    gen = _load_gen_script()
    generated = gen.generate(tmp_path)
    protos = gen.proto_files()
    assert len(generated) == 2 * len(protos) and protos, "every .proto yields a _pb2.py and a _pb2.pyi"
    stale = []
    for path in generated:
        committed = SRC / path.relative_to(tmp_path)
        if not committed.exists() or _normalise(committed.read_text()) != _normalise(path.read_text()):
            stale.append(str(committed.relative_to(PKG_ROOT)))
    assert not stale, f"regenerate with scripts/gen_protos.py; out of date: {stale}"


def test_every_generated_module_imports() -> None:
    for proto in sorted((SRC / "rec_core" / "protos").rglob("*.proto")):
        module = ".".join(proto.relative_to(SRC).with_suffix("").parts) + "_pb2"
        __import__(module)
        assert module in sys.modules


def _numbers(message, oneof: str | None = None) -> dict[str, int]:
    fields = message.DESCRIPTOR.oneofs_by_name[oneof].fields if oneof else message.DESCRIPTOR.fields
    return {f.name: f.number for f in fields}


def test_feature_config_oneof_numbers_follow_torcheasyrec() -> None:
    got = _numbers(feature_pb2.FeatureConfig, "feature")
    base = {
        "id_feature": 1, "raw_feature": 2, "combo_feature": 3, "lookup_feature": 4, "match_feature": 5,
        "expr_feature": 7, "overlap_feature": 8, "tokenize_feature": 9, "custom_feature": 10,
        "kv_dot_product": 11, "bool_mask_feature": 12, "combine_feature": 13,
    }  # fmt: skip
    expected = {"sequence_feature": 6, **base}
    expected.update({f"sequence_{name}": number + 100 for name, number in base.items()})
    assert got == expected
    assert _numbers(feature_pb2.SeqFeatureConfig, "feature") == base


def test_model_config_oneof_numbers_follow_torcheasyrec() -> None:
    expected = {
        "dlrm": 100, "deepfm": 101, "multi_tower": 102, "multi_tower_din": 103, "mask_net": 104,
        "wide_and_deep": 105, "dcn_v1": 106, "dcn_v2": 107, "xdeepfm": 108, "wukong": 109,
        "simple_multi_task": 200, "mmoe": 201, "dbmtl": 202, "ple": 203, "dc2vr": 204, "dlrm_hstu": 205,
        "pepnet": 206, "ultra_hstu": 207, "dssm": 301, "dssm_v2": 302, "dat": 303, "hstu_match": 304,
        "mind": 305, "tdm": 400, "rocket_launching": 500, "sid_rqvae": 600, "sid_rqkmeans": 601,
        "custom_model": 1000,  # rec's own: third-party models, far from TorchEasyRec's numbers
    }  # fmt: skip
    assert _numbers(model_pb2.ModelConfig, "model") == expected
    plain = _numbers(model_pb2.ModelConfig)
    assert {k: plain[k] for k in ("feature_groups", "num_class", "losses", "metrics", "train_metrics",
                                   "variational_dropout", "kernel", "use_pareto_loss_weight")} == {
        "feature_groups": 1, "num_class": 2, "losses": 3, "metrics": 4, "train_metrics": 5,
        "variational_dropout": 11, "kernel": 12, "use_pareto_loss_weight": 13,
    }  # fmt: skip


def test_pipeline_and_data_numbers_and_defaults() -> None:
    assert _numbers(pipeline_pb2.EasyRecConfig) == {
        "train_input_path": 1, "eval_input_path": 2, "model_dir": 3, "train_config": 4, "eval_config": 5,
        "export_config": 6, "data_config": 7, "feature_configs": 8, "model_config": 9,
    }  # fmt: skip
    data = _numbers(data_pb2.DataConfig)
    assert data["fg_mode"] == 20 and data["shuffle"] == 22 and data["in_order"] == 28
    assert _numbers(data_pb2.DataConfig, "sampler") == {
        "negative_sampler": 101, "negative_sampler_v2": 102, "hard_negative_sampler": 103,
        "hard_negative_sampler_v2": 104, "tdm_sampler": 105,
    }  # fmt: skip
    dc = data_pb2.DataConfig()
    assert (dc.batch_size, dc.dataset_type, dc.fg_encoded, dc.num_workers, dc.fg_mode) == (
        1024, data_pb2.OdpsDataset, True, 8, data_pb2.FG_NONE,
    )
    assert dc.fg_encoded_multival_sep == "\x03" and dc.shuffle_buffer_size == 32
    assert data_pb2.FgMode.Value("FG_BUCKETIZE") == 4 and data_pb2.DatasetType.Value("KafkaDataset") == 5
    idf = feature_pb2.IdFeature()
    assert (idf.pooling, idf.separator, idf.trainable, idf.data_type, idf.sequence_delim) == ("sum", "\x1d", True, "FP32", ";")
    assert _numbers(feature_pb2.IdFeature)["dynamicemb"] == 19
    assert _numbers(feature_pb2.RawFeature)["autodis"] == 40 and _numbers(feature_pb2.RawFeature)["mlp"] == 41
    required = {f.name for f in feature_pb2.IdFeature.DESCRIPTOR.fields if f.is_required}
    assert required == {"feature_name", "expression", "embedding_dim"}


def test_learning_rate_oneofs() -> None:
    names = {
        "constant_learning_rate": 101, "exponential_decay_learning_rate": 102, "manual_step_learning_rate": 103,
        "cosine_annealing_learning_rate": 104, "cosine_annealing_warm_restarts_learning_rate": 105,
    }  # fmt: skip
    for msg in (optimizer_pb2.SparseOptimizer, optimizer_pb2.DenseOptimizer, optimizer_pb2.PartOptimizer):
        assert _numbers(msg, "learning_rate") == names
    assert set(_numbers(optimizer_pb2.SparseOptimizer, "optimizer")) == {
        "sgd_optimizer", "adagrad_optimizer", "adam_optimizer", "lars_sgd_optimizer", "lamb_optimizer",
        "partial_rowwise_lamb_optimizer", "partial_rowwise_adam_optimizer", "rowwise_adagrad_optimizer",
        "adadelta_optimizer", "rmsprop_optimizer",
    }  # fmt: skip
    assert optimizer_pb2.FusedAdagradOptimizer().lr == pytest.approx(0.002)
    assert optimizer_pb2.EMAConfig().decay == pytest.approx(0.999)
    assert train_pb2.GradScaler().init_scale == 65536


def _parse(name: str) -> pipeline_pb2.EasyRecConfig:
    return text_format.Merge((DATA / name).read_text(), pipeline_pb2.EasyRecConfig())


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("deepfm_criteo.config", "deepfm"),
        ("wide_and_deep.config", "wide_and_deep"),
        ("dlrm.config", "dlrm"),
        ("multi_tower.config", "multi_tower"),
        ("multi_tower_din.config", "multi_tower_din"),
        ("mmoe_taobao.config", "mmoe"),
    ],
)
def test_torcheasyrec_style_configs_parse(name: str, model: str) -> None:
    config = _parse(name)
    assert config.IsInitialized(), config.FindInitializationErrors()
    assert config.model_config.WhichOneof("model") == model
    assert config.train_config.sparse_optimizer.WhichOneof("learning_rate") is not None
    assert len(config.feature_configs) >= 3


def test_parsed_values_land_in_the_right_fields() -> None:
    deepfm = _parse("deepfm_criteo.config")
    assert list(deepfm.model_config.deepfm.deep.hidden_units) == [512, 256, 128]
    assert deepfm.model_config.feature_groups[0].group_type == model_pb2.WIDE
    assert list(deepfm.feature_configs[0].raw_feature.boundaries) == [0.0, 1.0, 2.0, 3.0]
    assert deepfm.data_config.dataset_type == data_pb2.ParquetDataset

    dlrm = _parse("dlrm.config")
    sparse = dlrm.train_config.sparse_optimizer
    assert sparse.rowwise_adagrad_optimizer.weight_decay_mode == optimizer_pb2.DECOUPLE
    assert list(sparse.manual_step_learning_rate.schedule_sizes) == [100, 200]
    dense = dlrm.train_config.dense_optimizer
    assert dense.cosine_annealing_learning_rate.T_max == 1000
    assert dense.part_optimizers[0].regex_pattern == "(.*)final(.*)"
    assert dlrm.train_config.grad_clipping.clipping_type == "norm"

    mmoe = _parse("mmoe_taobao.config")
    towers = mmoe.model_config.mmoe.task_towers
    assert [t.tower_name for t in towers] == ["ctr", "cvr"]
    assert towers[1].weight == 2.0 and towers[1].train_metrics[0].WhichOneof("metric") == "auc"
    assert mmoe.data_config.negative_sampler.num_sample == 64

    din = _parse("multi_tower_din.config")
    seq = din.feature_configs[4].sequence_feature
    assert seq.sequence_name == "click_50_seq" and seq.features[1].id_feature.embedding_name == "brand"
    assert din.feature_configs[5].sequence_id_feature.sequence_length == 20
    assert din.model_config.multi_tower_din.din_towers[0].attn_mlp.activation == "Dice"


def test_brief_snippets_parse() -> None:
    text = """
    feature_configs { id_feature { feature_name: "cat_0" expression: "user:cat_0" embedding_dim: 16 hash_bucket_size: 100000 } }
    model_config { feature_groups { group_name: "deep" feature_names: "cat_0" group_type: DEEP }
      deepfm { deep { hidden_units: [64, 32] } final { hidden_units: [16] } } metrics { auc {} } losses { binary_cross_entropy {} } }
    train_config { sparse_optimizer { adagrad_optimizer { lr: 0.01 } constant_learning_rate {} }
      dense_optimizer { adam_optimizer { lr: 0.001 } constant_learning_rate {} } num_epochs: 1 }
    data_config { batch_size: 512 dataset_type: ParquetDataset label_fields: "label" fg_mode: FG_NORMAL }
    """
    config = text_format.Merge(text, pipeline_pb2.EasyRecConfig())
    assert config.feature_configs[0].id_feature.hash_bucket_size == 100000
    assert config.train_config.dense_optimizer.adam_optimizer.lr == pytest.approx(0.001)
    assert config.data_config.fg_mode == data_pb2.FG_NORMAL
