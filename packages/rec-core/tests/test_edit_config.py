"""TorchEasyRec --edit_config_json semantics: dotted paths, selectors, type conversion, errors."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rec_core.config import EditSegment, edit_config, format_edit_path, load_pipeline_config, parse_edit_path
from rec_core.errors import ConfigError
from rec_core.protos import data_pb2, model_pb2, pipeline_pb2

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def config() -> pipeline_pb2.EasyRecConfig:
    return load_pipeline_config(str(DATA / "deepfm_criteo.config"))


def test_scalar_paths(config: pipeline_pb2.EasyRecConfig) -> None:
    edit_config(
        config,
        {
            "train_config.sparse_optimizer.adagrad_optimizer.lr": "0.5",
            "data_config.batch_size": 256,
            "data_config.shuffle": "true",
            "data_config.fg_mode": "FG_DAG",
            "model_dir": "elsewhere",
        },
    )
    assert config.train_config.sparse_optimizer.adagrad_optimizer.lr == pytest.approx(0.5)
    assert config.data_config.batch_size == 256
    assert config.data_config.shuffle is True
    assert config.data_config.fg_mode == data_pb2.FG_DAG
    assert config.model_dir == "elsewhere"


def test_index_and_selector_paths(config: pipeline_pb2.EasyRecConfig) -> None:
    edit_config(
        config,
        {
            "feature_configs[2].id_feature.embedding_dim": "32",
            "feature_configs[feature_name=cat_1].id_feature.hash_bucket_size": "7",
            "model_config.feature_groups[2].feature_names[1]": "cat_9",
            "model_config.feature_groups[-1].feature_names[0]": "int_9",
        },
    )
    assert config.feature_configs[2].id_feature.embedding_dim == 32
    assert config.feature_configs[3].id_feature.hash_bucket_size == 7
    assert list(config.model_config.feature_groups[2].feature_names) == ["int_9", "cat_9", "cat_0", "cat_1"]


def test_slices_apply_to_every_selected_element(config: pipeline_pb2.EasyRecConfig) -> None:
    edit_config(config, {"feature_configs[2:].id_feature.embedding_dim": 8})
    assert [fc.id_feature.embedding_dim for fc in config.feature_configs[2:]] == [8, 8]
    assert config.feature_configs[0].raw_feature.embedding_dim == 16
    edit_config(config, {"model_config.feature_groups[:].group_type": "DEEP"})
    assert {g.group_type for g in config.model_config.feature_groups} == {model_pb2.DEEP}
    edit_config(config, {"model_config.deepfm.deep.hidden_units[:2]": 7})
    assert list(config.model_config.deepfm.deep.hidden_units) == [7, 7, 128]


def test_numeric_condition_selectors(config: pipeline_pb2.EasyRecConfig) -> None:
    # matches int_0 (a raw_feature) too; elements holding another oneof member are skipped, not switched
    edit_config(config, {"feature_configs[embedding_dim>=16].id_feature.pooling": "mean"})
    assert [fc.id_feature.pooling for fc in config.feature_configs[2:]] == ["mean", "mean"]
    assert config.feature_configs[0].WhichOneof("feature") == "raw_feature"
    edit_config(config, {"feature_configs[num_buckets>=1000].id_feature.embedding_dim": 4})
    assert [fc.id_feature.embedding_dim for fc in config.feature_configs[2:]] == [4, 16]
    edit_config(config, {"feature_configs[hash_bucket_size>0][0].id_feature.embedding_dim": 5})
    assert config.feature_configs[3].id_feature.embedding_dim == 5
    edit_config(config, {"model_config.feature_groups[group_name='deep'].group_type": "WIDE"})
    assert config.model_config.feature_groups[2].group_type == model_pb2.WIDE
    edit_config(config, {"model_config.feature_groups[group_type=WIDE].group_name": "w"})
    assert [g.group_name for g in config.model_config.feature_groups] == ["w", "fm", "w"]
    edit_config(config, {"model_config.feature_groups[group_name<g].group_name": "a"})
    assert [g.group_name for g in config.model_config.feature_groups] == ["w", "a", "w"]


def test_selection_never_switches_a_oneof_by_accident(config: pipeline_pb2.EasyRecConfig) -> None:
    with pytest.raises(ConfigError, match="FeatureConfig has raw_feature set in oneof feature, not id_feature"):
        edit_config(config, {"feature_configs[0].id_feature.embedding_dim": 3})
    with pytest.raises(ConfigError, match="matched no field"):
        edit_config(config, {"feature_configs[:2].id_feature.embedding_dim": 3})
    with pytest.raises(ConfigError, match="has adagrad_optimizer set"):
        edit_config(config, {"train_config.sparse_optimizer.adam_optimizer.lr": 3})
    assert config.feature_configs[0].raw_feature.feature_name == "int_0"


def test_repeated_scalar_replacement_forms(config: pipeline_pb2.EasyRecConfig) -> None:
    edit_config(config, {"model_config.deepfm.deep.hidden_units": "[8, 4]"})
    assert list(config.model_config.deepfm.deep.hidden_units) == [8, 4]
    edit_config(config, {"model_config.deepfm.deep.hidden_units": "16, 2 ,1"})
    assert list(config.model_config.deepfm.deep.hidden_units) == [16, 2, 1]
    edit_config(config, {"data_config.label_fields": ["clk", "buy"]})
    assert list(config.data_config.label_fields) == ["clk", "buy"]
    edit_config(config, {"data_config.label_fields": ""})
    assert list(config.data_config.label_fields) == []


def test_message_values(config: pipeline_pb2.EasyRecConfig) -> None:
    edit_config(config, {"train_config.sparse_optimizer.adam_optimizer": {"lr": 0.2, "beta1": 0.8}})
    sparse = config.train_config.sparse_optimizer
    assert sparse.WhichOneof("optimizer") == "adam_optimizer" and sparse.adam_optimizer.beta1 == pytest.approx(0.8)
    edit_config(config, {"train_config.dense_optimizer.exponential_decay_learning_rate": "decay_size: 100 staircase: false"})
    lr = config.train_config.dense_optimizer.exponential_decay_learning_rate
    assert lr.decay_size == 100 and lr.staircase is False
    edit_config(config, {"train_config.dense_optimizer.constant_learning_rate": "{}"})
    assert config.train_config.dense_optimizer.WhichOneof("learning_rate") == "constant_learning_rate"
    edit_config(config, {"model_config.metrics[0]": '{"grouped_auc": {"grouping_key": "user"}}'})
    assert config.model_config.metrics[0].grouped_auc.grouping_key == "user"
    edit_config(config, {"model_config.losses": [{"binary_focal_loss": {"gamma": 1.0}}, {"l2_loss": {}}]})
    assert [loss.WhichOneof("loss") for loss in config.model_config.losses] == ["binary_focal_loss", "l2_loss"]
    edit_config(config, {"data_config": "batch_size: 3 dataset_type: CsvDataset"})
    assert config.data_config.batch_size == 3 and not config.data_config.label_fields  # replaced, not merged


def test_selector_matches_inside_sequence_and_other_feature_types() -> None:
    config = load_pipeline_config(str(DATA / "multi_tower_din.config"))
    edit_config(config, {"feature_configs[sequence_name=click_50_seq].sequence_feature.sequence_length": 10})
    assert config.feature_configs[4].sequence_feature.sequence_length == 10
    edit_config(config, {"feature_configs[feature_name=price].raw_feature.boundaries": "[1.5, 2.5]"})
    assert list(config.feature_configs[3].raw_feature.boundaries) == [1.5, 2.5]
    edit_config(config, {"feature_configs[feature_name=click_items].sequence_id_feature.sequence_length": 5})
    assert config.feature_configs[5].sequence_id_feature.sequence_length == 5


def test_returns_same_message(config: pipeline_pb2.EasyRecConfig) -> None:
    assert edit_config(config, {}) is config


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("train_config.sparse_optimizer.adagrad_optimizer.lrr", 1, "no field 'lrr' in FusedAdagradOptimizer; did you mean lr? fields are: lr, gradient_clipping"),
        ("data_config.batch_size", "big", "expected uint32"),
        ("data_config.batch_size", -1, "expected uint32 in [0, 4294967295]"),
        ("data_config.batch_size", 1.5, "expected uint32"),
        ("data_config.shuffle", "yes", "expected bool"),
        ("data_config.fg_mode", "FG_X", "expected one of FG_NONE, FG_NORMAL, FG_DAG, FG_BUCKETIZE"),
        ("train_config.sparse_optimizer.adagrad_optimizer.lr", "fast", "expected float"),
        ("feature_configs[9].id_feature.embedding_dim", 1, "index [9] out of range: feature_configs has 4 element(s)"),
        ("feature_configs[feature_name=nope].id_feature.embedding_dim", 1, "no element of feature_configs matches [feature_name=nope]"),
        ("feature_configs.id_feature.embedding_dim", 1, "feature_configs is a repeated field; select elements"),
        ("data_config[0].batch_size", 1, "data_config is not a repeated field"),
        ("data_config.batch_size.x", 1, "batch_size is a uint32, it has no field 'x'"),
        ("model_config.feature_groups[0].feature_names[0].x", 1, "feature_names holds string values"),
        ("model_config.deepfm.deep", 5, "expected a MLP"),
        ("model_config.deepfm.deep", "hidden_unitz: 3", "bad MLP"),
        ("data_config.label_fields[label_fields=x]", "y", "needs a repeated message field"),
        ("feature_configs[feature_name>a]", "y", "bad FeatureConfig"),
        ("feature_configs[x", 1, "never closed"),
        ("a..b", 1, "expected a field name"),
        ("feature_configs[feature_name~x].id_feature", 1, "bad selector"),
    ],
)
def test_errors_name_path_and_expectation(config: pipeline_pb2.EasyRecConfig, path: str, value, fragment: str) -> None:
    with pytest.raises(ConfigError) as e:
        edit_config(config, {path: value})
    assert e.value.path == path
    assert fragment in str(e.value)


def test_unencodable_and_overflowing_values_are_config_errors(config: pipeline_pb2.EasyRecConfig) -> None:
    with pytest.raises(ConfigError, match="cannot set delimiter"):
        edit_config(config, {"data_config.delimiter": "\ud800"})
    with pytest.raises(ConfigError, match="value too large"):
        edit_config(config, {"train_config.sparse_optimizer.adagrad_optimizer.lr": 10**400})
    with pytest.raises(ConfigError, match="cannot set label_fields"):
        edit_config(config, {"data_config.label_fields": ["ok", "\ud800"]})


def test_failed_edit_type_check_for_edits_argument(config: pipeline_pb2.EasyRecConfig) -> None:
    with pytest.raises(ConfigError, match="JSON object"):
        edit_config(config, ["data_config.batch_size"])  # type: ignore[arg-type]


def test_parse_edit_path_structure() -> None:
    assert parse_edit_path("a.b[0].c[:].d[1:3].e[x>=2][-1]") == [
        EditSegment("a"),
        EditSegment("b", (("index", 0),)),
        EditSegment("c", (("slice", (None, None)),)),
        EditSegment("d", (("slice", (1, 3)),)),
        EditSegment("e", (("cond", ("x", ">=", "2")), ("index", -1))),
    ]
    assert parse_edit_path("f[k = 'a.b']")[0].selectors == (("cond", ("k", "=", "a.b")),)


# ---- property tests -----------------------------------------------------------------

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_ints = st.integers(min_value=-50, max_value=50)
_values = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=6)
_selector = st.one_of(
    _ints.map(lambda i: ("index", i)),
    st.tuples(st.none() | _ints, st.none() | _ints).map(lambda t: ("slice", t)),
    st.tuples(_names, st.sampled_from([">=", "<=", "=", ">", "<"]), _values).map(lambda t: ("cond", t)),
)
_segment = st.builds(EditSegment, _names, st.lists(_selector, max_size=3).map(tuple))


@settings(max_examples=300, deadline=None)
@given(st.lists(_segment, min_size=1, max_size=5))
def test_generated_paths_round_trip(segments: list[EditSegment]) -> None:
    text = format_edit_path(segments)
    assert parse_edit_path(text) == segments
    assert format_edit_path(parse_edit_path(text)) == text


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "._[]:=<>!-' \"", max_size=30), st.text(max_size=8))
def test_garbage_paths_only_raise_config_error(path: str, value: str) -> None:
    config = load_pipeline_config(str(DATA / "deepfm_criteo.config"))
    try:
        edit_config(config, {path: value})
    except ConfigError as e:
        assert e.path == path


_known = st.sampled_from(
    [
        "feature_configs", "id_feature", "raw_feature", "feature_name", "embedding_dim", "model_config",
        "feature_groups", "feature_names", "group_type", "deepfm", "deep", "hidden_units", "data_config",
        "batch_size", "train_config", "sparse_optimizer", "adagrad_optimizer", "lr", "boundaries",
    ]
)  # fmt: skip
_json_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=6),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(_known, st.lists(_selector, max_size=2).map(tuple)), min_size=1, max_size=5), _json_values)
def test_plausible_paths_and_values_only_raise_config_error(parts, value) -> None:
    config = load_pipeline_config(str(DATA / "deepfm_criteo.config"))
    path = format_edit_path([EditSegment(name, sel) for name, sel in parts])
    try:
        edit_config(config, {path: value})
    except ConfigError as e:
        assert e.path == path
