"""`rec-tools convert-easyrec`: an EasyRec (TensorFlow) pipeline config to a rec pipeline config.

EasyRec is not needed: its text format is read schema-free (`textproto`), and each part is
mapped by hand (features, feature groups, DNN -> MLP, towers, losses, metrics, data, train).
Whatever the converter does not map is listed in a report written beside the output, and
`--strict` turns a non-empty list into an error. The result is validated by building its
features and checking it as rec-train would.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from rec_core.config import save_message
from rec_core.config_check import check_pipeline_config
from rec_core.errors import ConfigError
from rec_core.fs import atomic_write, url_to_fs
from rec_core.logging_utils import get_logger
from rec_core.protos import data_pb2, pipeline_pb2
from rec_tools.easyrec.features import FeatureConverter
from rec_tools.easyrec.model import ModelConverter
from rec_tools.easyrec.report import Report, copy_fields
from rec_tools.easyrec.textproto import Node, parse

logger = get_logger(__name__)

_DATASETS = {
    "CSVInput": data_pb2.CsvDataset, "CSVInputV2": data_pb2.CsvDataset, "CSVInputEx": data_pb2.CsvDataset,
    "ParquetInput": data_pb2.ParquetDataset, "ParquetInputV2": data_pb2.ParquetDataset,
    "OdpsInput": data_pb2.OdpsDataset, "OdpsInputV2": data_pb2.OdpsDataset, "OdpsInputV3": data_pb2.OdpsDataset,
}
_FIELD_TYPES = {"INT32": data_pb2.INT32, "INT64": data_pb2.INT64, "STRING": data_pb2.STRING, "FLOAT": data_pb2.FLOAT, "DOUBLE": data_pb2.DOUBLE}
_SAMPLERS = ("negative_sampler", "negative_sampler_v2", "hard_negative_sampler", "hard_negative_sampler_v2")
_TF_ONLY = "TensorFlow input/runtime option with no meaning in rec"
_DATA_TF_ONLY = ("prefetch_size", "num_parallel_calls", "chief_redundant", "auto_expand_input_fields", "selected_cols", "ignore_error")
_TRAIN_TF_ONLY = ("sync_replicas", "save_checkpoints_secs", "train_distribute", "num_gpus_per_worker", "startup_delay_steps", "save_summary_steps")
# EasyRec optimizer -> (rec sparse optimizer, rec dense optimizer, {EasyRec field: rec field})
_OPTIMIZERS = {
    "adam_optimizer": ("adam_optimizer", "adam_optimizer", {"beta1": "beta1", "beta2": "beta2"}),
    "lazy_adam_optimizer": ("adam_optimizer", "adam_optimizer", {"beta1": "beta1", "beta2": "beta2"}),
    "adamw_optimizer": ("adam_optimizer", "adamw_optimizer", {"beta1": "beta1", "beta2": "beta2", "weight_decay": "weight_decay"}),
    "adagrad_optimizer": ("adagrad_optimizer", "adagrad_optimizer", {"initial_accumulator_value": "initial_accumulator_value"}),
    "momentum_optimizer": ("sgd_optimizer", "sgd_optimizer", {"momentum_optimizer_value": "momentum"}),
    "sgd_optimizer": ("sgd_optimizer", "sgd_optimizer", {}),
}


class EasyRecConverter:
    """One conversion: `convert()` returns the rec EasyRecConfig; `report` lists what was dropped."""

    def __init__(self, text: str, source: str, fg_json: dict[str, Any] | None = None) -> None:
        self.root = parse(text, source)
        self.source = source
        self.fg_json = fg_json
        self.report = Report(source)

    def convert(self) -> Any:
        """The converted config (features, model, data, train); raises ConfigError on what cannot map."""
        root = self.root
        out = pipeline_pb2.EasyRecConfig()
        for key in ("train_input_path", "eval_input_path", "model_dir"):
            setattr(out, key, root.str(key, ""))
        data = root.node("data_config", "") or Node()
        model = root.node("model_config", "")
        if model is None:
            raise ConfigError("model_config", "the EasyRec config has no model_config", source=self.source)
        labels = data.strs("label_fields", "data_config")
        item_side = self._item_side(model, data)
        features = FeatureConverter(self.report, lambda n: "item" if n in item_side else "user", self.fg_json)
        out.feature_configs.extend(features.convert(self._feature_nodes()))
        names = _feature_names(out.feature_configs)
        eval_config = root.node("eval_config", "")
        out.model_config.CopyFrom(ModelConverter(self.report, names, labels).convert(model, eval_config))
        self._data(data, out.data_config, labels)
        self._train(root.node("train_config", "") or Node(), out.train_config, data)
        out.eval_config.SetInParent()
        if root.has("export_config"):
            root.mark_used("export_config")
            self.report.drop("export_config", root.fields["export_config"][0].line, "rec's export_config differs; set it in the converted config if needed")
        self.report.add_unread(root)
        return out

    def _feature_nodes(self) -> list[tuple[Node, str]]:
        """EasyRec features: `feature_config { features {...} }` or the older repeated `feature_configs`."""
        out = [(n, f"feature_configs[{i}]") for i, n in enumerate(self.root.nodes("feature_configs", ""))]
        block = self.root.node("feature_config", "")
        if block is not None:
            out += [(n, f"feature_config.features[{i}]") for i, n in enumerate(block.nodes("features", "feature_config"))]
        if not out and self.fg_json is None:
            raise ConfigError("feature_config", "the EasyRec config has no features", source=self.source)
        return out

    @staticmethod
    def _item_side(model: Node, data: Node) -> set[str]:
        """Feature names read on the item side: DSSM's item group and a sampler's attr_fields."""
        names: set[str] = set()
        for g in model.fields.get("feature_groups", []):
            if isinstance(g, Node) and g.fields.get("group_name") and g.fields["group_name"][-1].text == "item":  # type: ignore[union-attr]
                names |= {v.text for v in g.fields.get("feature_names", []) if not isinstance(v, Node)}
        for key in _SAMPLERS:
            for s in data.fields.get(key, []):
                if isinstance(s, Node):
                    names |= {v.text for v in s.fields.get("attr_fields", []) if not isinstance(v, Node)}
        return names

    # -- data -----------------------------------------------------------------------------
    def _data(self, data: Node, out: Any, labels: list[str]) -> None:
        where = "data_config"
        out.label_fields.extend(labels)
        out.batch_size = data.int("batch_size", where, 32)
        out.fg_mode = data_pb2.FG_NORMAL
        self.report.note("data_config.fg_mode: FG_NORMAL (rec computes each feature from its input columns, as EasyRec does)")
        kind = data.str("input_type", where, "CSVInput")
        if kind not in _DATASETS:
            self.report.drop(f"{where}.input_type", data.line, f"input type {kind} has no rec reader; ParquetDataset is used")
        out.dataset_type = _DATASETS.get(kind, data_pb2.ParquetDataset)
        if data.has("separator"):
            out.delimiter = data.str("separator", where)
        for i, field in enumerate(data.nodes("input_fields", where)):
            fwhere = f"{where}.input_fields[{i}]"
            f = out.input_fields.add()
            f.input_name = field.str("input_name", fwhere)
            kind = field.str("input_type", fwhere, "STRING")
            if kind not in _FIELD_TYPES:
                self.report.drop(f"{fwhere}.input_type", field.line, f"column type {kind} has no rec equivalent; read as STRING")
            f.input_type = _FIELD_TYPES.get(kind, data_pb2.STRING)
            if field.has("default_val"):
                field.mark_used("default_val")
                self.report.drop(f"{fwhere}.default_val", field.line, "rec fills missing values per feature (default_value), not per column")
        out.shuffle = data.bool("shuffle", where, True)
        if data.has("shuffle_buffer_size"):
            rows = data.int("shuffle_buffer_size", where)
            out.shuffle_buffer_size = max(1, math.ceil(rows / out.batch_size))
            self.report.note(f"{where}.shuffle_buffer_size: {rows} rows became {out.shuffle_buffer_size} batch(es) (rec counts batches)")
        if data.has("eval_batch_size"):
            out.eval_batch_size = data.int("eval_batch_size", where)
        if data.has("sample_weight"):
            out.sample_weight_fields.append(data.str("sample_weight", where))
        for key in _SAMPLERS:
            node = data.node(key, where)
            if node is not None:
                copy_fields(node, getattr(out, key), f"{where}.{key}")
        for key in _DATA_TF_ONLY:
            if data.has(key):
                data.mark_used(key)
                self.report.drop(f"{where}.{key}", data.line, _TF_ONLY)

    # -- train ----------------------------------------------------------------------------
    def _train(self, train: Node, out: Any, data: Node) -> None:
        where = "train_config"
        optimizers = train.nodes("optimizer_config", where)
        if optimizers:
            self._optimizer(optimizers[0], f"{where}.optimizer_config[0]" if len(optimizers) > 1 else f"{where}.optimizer_config", out)
            for i in range(1, len(optimizers)):
                self.report.drop(f"{where}.optimizer_config[{i}]", optimizers[i].line, "rec uses one sparse and one dense optimizer; only the first EasyRec optimizer is converted")
        else:
            out.sparse_optimizer.adagrad_optimizer.lr = 0.01
            out.sparse_optimizer.constant_learning_rate.SetInParent()
            out.dense_optimizer.adam_optimizer.lr = 0.001
            out.dense_optimizer.constant_learning_rate.SetInParent()
            self.report.note("train_config: no optimizer_config; Adagrad (sparse) and Adam (dense) with constant rates are used")
        copy_fields(train, out, where)
        out.ClearField("num_epochs")
        if not train.has("num_steps"):
            epochs = data.int("num_epochs", "data_config", 1)
            out.num_epochs = epochs
        else:
            data.mark_used("num_epochs")
        clip = train.float("gradient_clipping_by_norm", where, 0.0)
        if clip > 0:
            out.grad_clipping.clipping_type = "norm"
            out.grad_clipping.max_gradient = clip
        for key in _TRAIN_TF_ONLY:
            if train.has(key):
                train.mark_used(key)
                self.report.drop(f"{where}.{key}", train.line, _TF_ONLY)

    def _optimizer(self, node: Node, where: str, out: Any) -> None:
        kinds = [k for k in node.fields if k in _OPTIMIZERS]
        kind = kinds[0] if kinds else ""
        if not kind:
            self.report.drop(where, node.line, f"optimizer {[k for k in node.fields]} has no rec equivalent; Adam is used")
            body = Node(node.line)
            sparse_kind, dense_kind, params = _OPTIMIZERS["adam_optimizer"]
        else:
            body = node.node(kind, where) or Node(node.line)
            sparse_kind, dense_kind, params = _OPTIMIZERS[kind]
        owhere = f"{where}.{kind}"
        sparse = getattr(out.sparse_optimizer, sparse_kind)
        dense = getattr(out.dense_optimizer, dense_kind)
        for target in (sparse, dense):
            fields = target.DESCRIPTOR.fields_by_name
            for easy, rec in params.items():
                if body.has(easy) and rec in fields:
                    setattr(target, rec, body.float(easy, owhere))
        if body.has("epsilon"):
            body.mark_used("epsilon")
            if "eps" in dense.DESCRIPTOR.fields_by_name:
                dense.eps = body.float("epsilon", owhere)
        lr = self._learning_rate(body.node("learning_rate", owhere), f"{owhere}.learning_rate", out)
        multiplier = node.float("embedding_learning_rate_multiplier", where, 1.0)
        sparse.lr, dense.lr = lr * multiplier, lr
        if node.bool("use_moving_average", where, False):
            out.dense_optimizer.ema.decay = node.float("moving_average_decay", where, 0.9999)

    def _learning_rate(self, node: Node | None, where: str, out: Any) -> float:
        """Sets both optimizers' schedules; returns the base learning rate."""
        schedules = [out.sparse_optimizer, out.dense_optimizer]
        if node is None:
            for s in schedules:
                s.constant_learning_rate.SetInParent()
            self.report.note(f"{where}: not set; a constant 0.001 is used")
            return 0.001
        kind = next(iter(node.fields), "")
        body = node.node(kind, where) or Node(node.line)
        swhere = f"{where}.{kind}"
        if kind == "constant_learning_rate":
            for s in schedules:
                s.constant_learning_rate.SetInParent()
            return body.float("learning_rate", swhere, 0.002)
        if kind == "exponential_decay_learning_rate":
            for s in schedules:
                e = s.exponential_decay_learning_rate
                e.decay_size = body.int("decay_steps", swhere, 0)
                e.decay_factor = body.float("decay_factor", swhere, 0.95)
                e.staircase = body.bool("staircase", swhere, True)
                e.min_learning_rate = body.float("min_learning_rate", swhere, 0.0)
                if body.has("burnin_steps"):
                    e.warmup_size = body.int("burnin_steps", swhere)
                    e.warmup_learning_rate = body.float("burnin_learning_rate", swhere, 0.0)
            return body.float("initial_learning_rate", swhere, 0.002)
        if kind == "manual_step_learning_rate":
            steps = body.nodes("schedule", swhere)
            for s in schedules:
                m = s.manual_step_learning_rate
                m.schedule_sizes.extend(st.int("step", swhere) for st in steps)
                m.learning_rates.extend(st.float("learning_rate", swhere) for st in steps)
                m.warmup = body.bool("warmup", swhere, False)
            return body.float("initial_learning_rate", swhere, 0.002)
        if kind == "cosine_decay_learning_rate":
            for s in schedules:
                c = s.cosine_annealing_learning_rate
                c.T_max = body.int("total_steps", swhere, 0)
                c.warmup_learning_rate = body.float("warmup_learning_rate", swhere, 0.0)
                c.warmup_size = body.int("warmup_steps", swhere, 0)
            return body.float("learning_rate_base", swhere, 0.002)
        self.report.drop(swhere, node.line, f"learning rate schedule {kind!r} has no rec equivalent; constant 0.001 is used")
        for s in schedules:
            s.constant_learning_rate.SetInParent()
        return 0.001


def _feature_names(feature_configs: Any) -> set[str]:
    out = set()
    for fc in feature_configs:
        kind = fc.WhichOneof("feature")
        inner = getattr(fc, kind)
        if kind == "sequence_feature":
            out |= {f"{inner.sequence_name}__{getattr(s, s.WhichOneof('feature')).feature_name}" for s in inner.features}
        else:
            out.add(inner.feature_name)
    return out


def _read(path: str) -> str:
    fs, p = url_to_fs(path)
    if not fs.exists(p):
        raise ConfigError("", "file not found", source=path)
    with fs.open(p, "r", encoding="utf-8") as f:
        return f.read()


def convert_easyrec(easyrec_config_path: str, output_path: str, fg_json_path: str | None = None, report_path: str | None = None, strict: bool = False) -> Report:
    """Convert, validate and write the rec config and its report; returns the report."""
    fg_json = None
    if fg_json_path:
        try:
            fg_json = json.loads(_read(fg_json_path))
        except json.JSONDecodeError as e:
            raise ConfigError("", f"fg.json is not JSON: {e}", source=fg_json_path) from e
    converter = EasyRecConverter(_read(easyrec_config_path), easyrec_config_path, fg_json)
    config = converter.convert()
    report = converter.report
    if strict and report.dropped:
        path, line, reason = min(report.dropped, key=lambda d: d[1])
        raise ConfigError(path, f"line {line}: {reason} (--strict; {len(report.dropped)} option(s) cannot be converted)", source=easyrec_config_path)
    _validate(config, output_path)
    save_message(config, output_path)
    with atomic_write(report_path or f"{output_path}.report.txt") as f:
        f.write(report.text())
    return report


def _validate(config: Any, output_path: str) -> None:
    """Build the features and check the config as rec-train does, so a bad conversion fails here."""
    from rec_features.features import create_features

    data = config.data_config
    create_features(config.feature_configs, data.fg_mode, data.fg_encoded_multival_sep)
    check_pipeline_config(config, source=f"{output_path} (converted)", for_training=True)


def run(args: argparse.Namespace) -> None:
    """`rec-tools convert-easyrec`."""
    report = convert_easyrec(args.easyrec_config_path, args.output_tzrec_config_path, args.fg_json_path, args.report_path, args.strict)
    for path, line, reason in report.dropped:
        logger.warning("dropped %s (line %d): %s", path, line, reason)
    print(f"{args.output_tzrec_config_path}: converted; {len(report.dropped)} option(s) dropped (see {args.report_path or args.output_tzrec_config_path + '.report.txt'})")
