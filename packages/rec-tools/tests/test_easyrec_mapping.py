"""How convert-easyrec maps each part of an EasyRec config (in-process, on small configs)."""

from __future__ import annotations

import pytest

from rec_core.errors import ConfigError
from rec_tools.easyrec.convert import EasyRecConverter

HEAD = """
train_input_path: "t" eval_input_path: "e" model_dir: "m"
data_config { label_fields: "clk" batch_size: 256 input_type: CSVInput separator: "\\t" }
"""
FEATURES = """
feature_config {
  features { input_names: "uid" feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 100 }
  features { input_names: "iid" feature_type: IdFeature embedding_dim: 8 num_buckets: 50 combiner: "sum" }
}
"""
GROUPS = 'feature_groups { group_name: "deep" feature_names: ["uid", "iid"] wide_deep: DEEP }'
DEEPFM = f"""
model_config {{
  model_class: "DeepFM"
  {GROUPS}
  feature_groups {{ group_name: "wide" feature_names: ["uid", "iid"] wide_deep: WIDE }}
  deepfm {{ dnn {{ hidden_units: [32, 16] dropout_ratio: [0.1] activation: "tf.nn.leaky_relu" }} final_dnn {{ hidden_units: [8] use_bn: false }} }}
}}
"""


def convert(text: str, fg_json: dict | None = None):  # noqa: ANN201
    converter = EasyRecConverter(text, "easyrec.config", fg_json)
    return converter.convert(), converter.report


def feature(config, name: str):  # noqa: ANN001, ANN201
    for fc in config.feature_configs:
        inner = getattr(fc, fc.WhichOneof("feature"))
        if getattr(inner, "feature_name", None) == name:
            return fc.WhichOneof("feature"), inner
    raise KeyError(name)


def test_feature_types() -> None:
    features = """
    feature_config {
      features { input_names: "uid" feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 100 }
      features { input_names: "tags" feature_type: TagFeature kv_separator: ":" separator: "," embedding_dim: 4 hash_bucket_size: 10 }
      features { input_names: "price" feature_type: RawFeature min_val: 0 max_val: 200 }
      features { input_names: "emb" feature_type: RawFeature raw_input_dim: 3 separator: "," }
      features { feature_name: "age_b" input_names: "age" feature_type: RawFeature boundaries: [10, 20] embedding_dim: 4 }
      features { feature_name: "uc" input_names: ["uid", "cate"] feature_type: ComboFeature hash_bucket_size: 1000 embedding_dim: 4 }
      features { feature_name: "lk" input_names: ["kv", "cate"] feature_type: LookupFeature boundaries: [0.5] embedding_dim: 4 }
      features { feature_name: "ratio" input_names: ["clk", "pv"] feature_type: ExprFeature expression: "clk/(pv+1)" }
      features { input_names: "seq" feature_type: SequenceFeature separator: ";" seq_multi_sep: "|" sequence_length: 7 embedding_dim: 4 hash_bucket_size: 10 }
      features { input_names: "vocab" feature_type: IdFeature embedding_dim: 4 vocab_list: ["a", "b"] }
    }
    """
    model = 'model_config { model_class: "DeepFM" feature_groups { group_name: "deep" feature_names: ["uid", "tags"] } feature_groups { group_name: "wide" feature_names: ["uid"] wide_deep: WIDE } deepfm { dnn { hidden_units: [4] } } }'
    config, report = convert(HEAD + features + model)
    kind, uid = feature(config, "uid")
    assert kind == "id_feature" and (uid.expression, uid.embedding_dim, uid.hash_bucket_size) == ("user:uid", 8, 100)
    assert (uid.pooling, uid.separator) == ("mean", "|")  # EasyRec's combiner and separator defaults
    _, tags = feature(config, "tags")
    assert tags.weighted and tags.separator == ","
    kind, price = feature(config, "price")
    assert kind == "raw_feature" and price.normalizer == "method=minmax,min=0,max=200" and not price.boundaries
    _, emb = feature(config, "emb")
    assert (emb.value_dim, emb.separator) == (3, ",")
    _, age = feature(config, "age_b")
    assert (age.expression, list(age.boundaries), age.embedding_dim) == ("user:age", [10.0, 20.0], 4)
    kind, uc = feature(config, "uc")
    assert kind == "combo_feature" and list(uc.expression) == ["user:uid", "user:cate"]
    kind, lk = feature(config, "lk")
    assert kind == "lookup_feature" and (lk.map, lk.key, list(lk.boundaries)) == ("user:kv", "user:cate", [0.5])
    kind, ratio = feature(config, "ratio")
    assert kind == "expr_feature" and ratio.expression == "clk/(pv+1)" and list(ratio.variables) == ["user:clk", "user:pv"]
    kind, seq = feature(config, "seq")
    assert kind == "sequence_id_feature" and (seq.sequence_length, seq.sequence_delim, seq.separator) == (7, ";", "|")
    _, vocab = feature(config, "vocab")
    assert list(vocab.vocab_list) == ["a", "b"]
    assert config.data_config.delimiter == "\t" and config.data_config.dataset_type == 3  # CsvDataset
    assert report.dropped == []


def test_mlp_follows_easyrec_defaults() -> None:
    config, _ = convert(HEAD + FEATURES + DEEPFM)
    deep, final = config.model_config.deepfm.deep, config.model_config.deepfm.final
    assert list(deep.hidden_units) == [32, 16] and list(deep.dropout_ratio) == pytest.approx([0.1, 0.1])
    assert deep.activation == "nn.LeakyReLU" and deep.use_bn  # EasyRec's DNN uses batch norm by default
    assert list(final.hidden_units) == [8] and not final.use_bn
    assert config.model_config.deepfm.wide_embedding_dim == 1  # EasyRec's wide_output_dim default
    assert [g.group_type for g in config.model_config.feature_groups] == [0, 1]
    assert [m.WhichOneof("loss") for m in config.model_config.losses] == ["binary_cross_entropy"]


def test_metrics_and_losses() -> None:
    text = HEAD + FEATURES + DEEPFM.replace('model_class: "DeepFM"', 'model_class: "DeepFM" losses { loss_type: BINARY_FOCAL_LOSS binary_focal_loss { gamma: 3 alpha: 0.25 } } losses { loss_type: L2_LOSS weight: 0.5 }')
    text += 'eval_config { metrics_set { auc { num_thresholds: 1000 } } metrics_set { gauc { uid_field: "uid" } } metrics_set { gauc { uid_field: "missing" } } metrics_set { max_f1 {} } }'
    config, report = convert(text)
    losses = config.model_config.losses
    assert [loss.WhichOneof("loss") for loss in losses] == ["binary_focal_loss", "l2_loss"]
    assert (losses[0].binary_focal_loss.gamma, losses[0].binary_focal_loss.alpha) == (3.0, 0.25)
    metrics = config.model_config.metrics
    assert [m.WhichOneof("metric") for m in metrics] == ["auc", "grouped_auc"] and metrics[1].grouped_auc.grouping_key == "uid"
    dropped = {path: reason for path, _, reason in report.dropped}
    assert "weight per loss" in dropped["model_config.losses[1].weight"]
    assert "uid_field 'missing'" in dropped["eval_config.metrics_set[2]"]
    assert "'max_f1' has no rec equivalent" in dropped["eval_config.metrics_set[3]"]


def test_multi_task_towers() -> None:
    text = HEAD.replace('label_fields: "clk"', 'label_fields: ["clk", "buy"]') + FEATURES + f"""
    model_config {{
      model_class: "DBMTL" {GROUPS}
      dbmtl {{
        bottom_dnn {{ hidden_units: [16] }} expert_dnn {{ hidden_units: [8] }} num_expert: 2
        task_towers {{ tower_name: "ctr" label_name: "clk" dnn {{ hidden_units: [4] }} metrics_set {{ auc {{}} }} }}
        task_towers {{ tower_name: "cvr" label_name: "buy" relation_tower_names: ["ctr"] relation_dnn {{ hidden_units: [4] }} weight: 2 in_task_space_weight: 0.5 task_space_indicator_label: "clk" }}
      }}
    }}
    """
    config, _ = convert(text)
    dbmtl = config.model_config.dbmtl
    assert list(dbmtl.bottom_mlp.hidden_units) == [16] and dbmtl.num_expert == 2
    ctr, cvr = dbmtl.task_towers
    assert (ctr.tower_name, ctr.label_name, [m.WhichOneof("metric") for m in ctr.metrics]) == ("ctr", "clk", ["auc"])
    assert [loss.WhichOneof("loss") for loss in cvr.losses] == ["binary_cross_entropy"]
    assert list(cvr.relation_tower_names) == ["ctr"] and list(cvr.relation_mlp.hidden_units) == [4]
    assert (cvr.weight, cvr.in_task_space_weight, cvr.task_space_indicator_label) == (2.0, 0.5, "clk")


def test_dssm_tower_output_and_sampler() -> None:
    text = HEAD.replace("input_type: CSVInput", 'negative_sampler { input_path: "items.txt" num_sample: 64 attr_fields: ["iid"] item_id_field: "iid" }') + FEATURES + """
    model_config {
      model_class: "DSSM"
      feature_groups { group_name: "user" feature_names: ["uid"] }
      feature_groups { group_name: "item" feature_names: ["iid"] }
      dssm { user_tower { id: "uid" dnn { hidden_units: [16, 8] } } item_tower { id: "iid" dnn { hidden_units: [16, 8] } } simi_func: COSINE temperature: 0.1 }
      loss_type: CLASSIFICATION
    }
    eval_config { metrics_set { recall_at_topk { topk: 10 } } metrics_set { auc {} } }
    """
    config, report = convert(text)
    dssm = config.model_config.dssm
    # EasyRec's last hidden layer is the tower's output layer: rec's output_dim
    assert list(dssm.user_tower.mlp.hidden_units) == [16] and dssm.output_dim == 8
    assert (dssm.user_tower.input, dssm.item_tower.input, dssm.similarity, dssm.temperature) == ("user", "item", 0, pytest.approx(0.1))
    assert feature(config, "iid")[1].expression == "item:iid" and feature(config, "uid")[1].expression == "user:uid"
    sampler = config.data_config.negative_sampler
    assert (sampler.input_path, sampler.num_sample, list(sampler.attr_fields)) == ("items.txt", 64, ["iid"])
    assert [m.recall_at_k.top_k for m in config.model_config.metrics] == [10]
    assert [loss.WhichOneof("loss") for loss in config.model_config.losses] == ["softmax_cross_entropy"]
    dropped = {path for path, _, _ in report.dropped}
    assert {"model_config.loss_type", "eval_config.metrics_set"} <= dropped


def test_optimizer_and_schedule() -> None:
    text = HEAD + FEATURES + DEEPFM + """
    train_config {
      optimizer_config {
        adagrad_optimizer { initial_accumulator_value: 0.1 learning_rate { exponential_decay_learning_rate { initial_learning_rate: 0.01 decay_steps: 100 decay_factor: 0.9 staircase: false } } }
        embedding_learning_rate_multiplier: 10
        use_moving_average: true moving_average_decay: 0.99
      }
      num_steps: 50 save_checkpoints_steps: 25 keep_checkpoint_max: 3 gradient_clipping_by_norm: 5
    }
    """
    config, _ = convert(text)
    train = config.train_config
    assert train.sparse_optimizer.adagrad_optimizer.lr == pytest.approx(0.1)  # x embedding multiplier
    assert train.dense_optimizer.adagrad_optimizer.lr == pytest.approx(0.01)
    assert train.dense_optimizer.adagrad_optimizer.initial_accumulator_value == pytest.approx(0.1)
    decay = train.dense_optimizer.exponential_decay_learning_rate
    assert (decay.decay_size, decay.decay_factor, decay.staircase) == (100, pytest.approx(0.9), False)
    assert train.dense_optimizer.ema.decay == pytest.approx(0.99)
    assert (train.num_steps, train.save_checkpoints_steps, train.keep_checkpoint_max) == (50, 25, 3)
    assert (train.grad_clipping.clipping_type, train.grad_clipping.max_gradient) == ("norm", 5.0)


def test_unknown_options_are_reported_not_lost() -> None:
    text = HEAD + FEATURES + DEEPFM.replace("deepfm {", "deepfm { fancy_option: 3") + "future_block { x: 1 }"
    _, report = convert(text)
    dropped = {path: (line, reason) for path, line, reason in report.dropped}
    assert dropped["model_config.deepfm.fancy_option"][1].startswith("not read by the converter")
    assert "future_block" in dropped
    assert "dropped: model_config.deepfm.fancy_option (line" in report.text()


def test_fg_json_guides_features() -> None:
    fg = {"features": [
        {"feature_name": "uid", "feature_type": "id_feature", "expression": "user:user_id", "hash_bucket_size": 5000, "value_type": "String"},
        {"feature_name": "iid", "feature_type": "id_feature", "expression": "item:item_id", "num_buckets": 50},
        {"sequence_name": "clicks", "sequence_length": 10, "sequence_delim": ";", "features": [
            {"feature_name": "iid", "feature_type": "id_feature", "expression": "item:item_id", "hash_bucket_size": 100, "embedding_dim": 4}]},
    ]}
    config, report = convert(HEAD + FEATURES + DEEPFM, fg)
    _, uid = feature(config, "uid")
    # expression from fg.json, embedding settings from the EasyRec feature config
    assert (uid.expression, uid.embedding_dim, uid.hash_bucket_size) == ("user:user_id", 8, 100)
    (seq,) = [fc.sequence_feature for fc in config.feature_configs if fc.WhichOneof("feature") == "sequence_feature"]
    assert (seq.sequence_name, seq.sequence_length, seq.features[0].id_feature.embedding_dim) == ("clicks", 10, 4)
    assert any(path.endswith("value_type") for path, _, _ in report.dropped)


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        (('model_class: "DeepFM"', 'model_class: "DropoutNet"'), r"model_config.model_class: EasyRec model 'DropoutNet' has no converter"),
        (('activation: "tf.nn.leaky_relu"', 'activation: "tf.nn.softsign"'), r"deepfm.dnn.activation: activation 'tf.nn.softsign' has no rec equivalent"),
        (('feature_names: ["uid", "iid"] wide_deep: DEEP', 'feature_names: ["uid", "nope"]'), r"feature_groups\[0\].feature_names: feature\(s\) \['nope'\] are not configured"),
        (("hidden_units: [32, 16]", "hidden_units: [32, x]"), r"deepfm.dnn.hidden_units: line \d+: expected a number, got 'x'"),
        (('wide_deep: WIDE', 'wide_deep: SIDE'), r"feature_groups\[1\].wide_deep: line \d+: expected DEEP or WIDE"),
    ],
)
def test_options_without_equivalent_are_clear_errors(replace: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        convert(HEAD + FEATURES + DEEPFM.replace(*replace))


def test_unknown_feature_type_is_an_error() -> None:
    text = HEAD + FEATURES.replace("feature_type: IdFeature embedding_dim: 8 num_buckets", "feature_type: GeoFeature embedding_dim: 8 num_buckets") + DEEPFM
    with pytest.raises(ConfigError, match=r"feature_config.features\[1\].feature_type: line \d+: EasyRec feature type 'GeoFeature' has no rec equivalent"):
        convert(text)


def test_din_sequence_features_become_sequence_groups() -> None:
    features = """
    feature_config {
      features { input_names: "uid" feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 100 }
      features { input_names: "iid" feature_type: IdFeature embedding_dim: 8 hash_bucket_size: 100 }
      features { input_names: "clicks" feature_type: SequenceFeature sequence_length: 5 embedding_dim: 8 hash_bucket_size: 100 }
    }
    """
    model = """
    model_config {
      model_class: "MultiTower"
      feature_groups {
        group_name: "all" feature_names: ["uid", "iid"]
        sequence_features { group_name: "hist" seq_att_map { key: "iid" hist_seq: "clicks" } tf_summary: false }
      }
      multi_tower { towers { input: "all" dnn { hidden_units: [8] } } final_dnn { hidden_units: [4] } }
    }
    """
    config, report = convert(HEAD + features + model)
    group = config.model_config.feature_groups[0]
    assert [(sg.group_name, list(sg.feature_names)) for sg in group.sequence_groups] == [("hist", ["iid", "clicks"])]
    (encoder,) = group.sequence_encoders
    assert encoder.din_encoder.input == "hist" and list(encoder.din_encoder.attn_mlp.hidden_units) == [64, 32]
    assert any(path.endswith("sequence_features[0].tf_summary") for path, _, _ in report.dropped)


def test_bad_fg_json_value_names_the_entry() -> None:
    fg = {"features": [{"feature_name": "uid", "feature_type": "id_feature", "expression": "user:uid", "hash_bucket_size": "many"}]}
    with pytest.raises(ConfigError, match=r"fg.json features\[0\].hash_bucket_size: cannot use 'many' for IdFeature.hash_bucket_size"):
        convert(HEAD + FEATURES + DEEPFM, fg)
