"""EasyRec model_config (feature groups, model, DNNs, towers, losses, metrics) to rec's ModelConfig."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rec_core.errors import ConfigError
from rec_core.protos import loss_pb2, model_pb2, simi_pb2
from rec_tools.easyrec.report import Report
from rec_tools.easyrec.textproto import Node

# EasyRec's DNN defaults (rec's MLP differs: no batch norm by default)
EASYREC_USE_BN = True
EASYREC_WIDE_OUTPUT_DIM = 1
_ACTIVATIONS = {
    "relu": "nn.ReLU", "sigmoid": "nn.Sigmoid", "tanh": "nn.Tanh", "leaky_relu": "nn.LeakyReLU",
    "gelu": "nn.GELU", "swish": "nn.SiLU", "elu": "nn.ELU", "selu": "nn.SELU", "prelu": "nn.PReLU", "dice": "Dice",
}
_REGULARIZATION = "rec adds no L2 penalty to the loss; use the optimizer's weight_decay instead"
_GROUP_TYPES = {"DEEP": model_pb2.DEEP, "WIDE": model_pb2.WIDE}


def activation(name: str, where: str) -> str:
    """rec's torch module path for an EasyRec (TF) activation such as `tf.nn.relu` or `dice`."""
    short = name.rsplit(".", 1)[-1].lower()
    if short not in _ACTIVATIONS:
        raise ConfigError(where, f"activation {name!r} has no rec equivalent; known: {sorted(_ACTIVATIONS)}")
    return _ACTIVATIONS[short]


class ModelConverter:
    """Converts model_config; `metrics` are the eval_config metrics (EasyRec keeps them there)."""

    def __init__(self, report: Report, feature_names: set[str], label_fields: list[str]) -> None:
        self.report = report
        self.feature_names = feature_names
        self.label_fields = label_fields

    # -- building blocks -------------------------------------------------------------------
    def mlp(self, node: Node, where: str, target: Any) -> None:
        """EasyRec DNN -> rec MLP (batch norm on by EasyRec's default)."""
        target.hidden_units.extend(v.as_int(f"{where}.hidden_units") for v in node.scalars("hidden_units", where))
        if not target.hidden_units:
            raise ConfigError(f"{where}.hidden_units", f"line {node.line}: a DNN needs hidden_units")
        ratios = [v.as_float(f"{where}.dropout_ratio") for v in node.scalars("dropout_ratio", where)]
        if ratios:
            if len(ratios) == 1:
                ratios = ratios * len(target.hidden_units)
            target.dropout_ratio.extend(ratios)
        if node.has("activation"):
            target.activation = activation(node.str("activation", where), f"{where}.activation")
        target.use_bn = node.bool("use_bn", where, EASYREC_USE_BN)
        target.bias = node.bool("use_bias", where, True)
        for key, default in (("use_final_bn", True), ("final_activation", "relu"), ("use_final_bias", True)):
            if node.has(key):
                value = node.str(key, where)
                if value.rsplit(".", 1)[-1].lower() not in (str(default).lower(),):
                    self.report.drop(f"{where}.{key}", node.line, "rec's MLP treats its last layer like the others")

    def _regularization(self, node: Node, where: str, *keys: str) -> None:
        for key in keys:
            if node.has(key):
                node.mark_used(key)
                self.report.drop(f"{where}.{key}", node.line, _REGULARIZATION)

    def loss(self, loss_type: str, num_class: int, where: str, line: int, params: Node | None = None) -> Any | None:
        """A rec LossConfig for an EasyRec loss_type, or None (reported) when rec has none."""
        out = loss_pb2.LossConfig()
        if loss_type in ("CLASSIFICATION", "CROSS_ENTROPY_LOSS"):
            (out.binary_cross_entropy if num_class == 1 else out.softmax_cross_entropy).SetInParent()
        elif loss_type == "SOFTMAX_CROSS_ENTROPY":
            out.softmax_cross_entropy.SetInParent()
        elif loss_type == "L2_LOSS":
            out.l2_loss.SetInParent()
        elif loss_type == "BINARY_FOCAL_LOSS":
            out.binary_focal_loss.SetInParent()
            focal = params.node("binary_focal_loss", where) if params is not None else None
            if focal is not None:
                out.binary_focal_loss.gamma = focal.float("gamma", where, 2.0)
                out.binary_focal_loss.alpha = focal.float("alpha", where, 0.5)
        elif loss_type == "JRC_LOSS":
            jrc = params.node("jrc_loss", where) if params is not None else None
            if jrc is None or not jrc.str("session_name", where):
                raise ConfigError(where, f"line {line}: JRC_LOSS needs jrc_loss {{ session_name }}")
            out.jrc_loss.session_name = jrc.str("session_name", where)
            out.jrc_loss.alpha = jrc.float("alpha", where, 0.5)
        else:
            self.report.drop(where, line, f"loss_type {loss_type} has no rec equivalent")
            return None
        return out

    def losses(self, node: Node, where: str, num_class: int, target: Any, default: str = "CLASSIFICATION") -> None:
        """`losses {...}` entries, else `loss_type` (default CLASSIFICATION), into target.losses."""
        entries = node.nodes("losses", where)
        if entries:
            if node.has("loss_type"):
                node.mark_used("loss_type")
                self.report.note(f"{where}: losses is set, so loss_type is ignored (as EasyRec does)")
            for i, entry in enumerate(entries):
                ewhere = f"{where}.losses[{i}]"
                weight = entry.float("weight", ewhere, 1.0)
                if weight != 1.0:
                    self.report.drop(f"{ewhere}.weight", entry.line, "rec sums its losses unweighted; weight per loss is not supported")
                made = self.loss(entry.str("loss_type", ewhere, default), num_class, ewhere, entry.line, entry)
                if made is not None:
                    target.losses.add().CopyFrom(made)
        else:
            value = node.scalar("loss_type", where)
            made = self.loss(value.text if value else default, num_class, f"{where}.loss_type", value.line if value else node.line)
            if made is not None:
                target.losses.add().CopyFrom(made)
        if not target.losses:
            raise ConfigError(where, f"line {node.line}: none of the configured losses has a rec equivalent")

    def metrics(self, node: Node | None, where: str, target: Any, field: str = "metrics_set") -> None:
        """EasyRec metrics_set entries into target.metrics."""
        if node is None:
            return
        for i, entry in enumerate(node.nodes(field, where)):
            mwhere = f"{where}.{field}[{i}]"
            names = list(entry.fields)
            if len(names) != 1:
                raise ConfigError(mwhere, f"line {entry.line}: expected one metric, got {names}")
            kind = names[0]
            body = entry.node(kind, mwhere) or Node(entry.line)
            m = target.metrics.add()
            if kind == "auc":
                m.auc.SetInParent()
                body.mark_used("num_thresholds")
            elif kind == "gauc":
                key = body.str("uid_field", mwhere)
                if key not in self.feature_names:
                    del target.metrics[-1]
                    self.report.drop(mwhere, entry.line, f"gauc groups by uid_field {key!r}; rec groups by a sparse feature and none is named {key!r}")
                    continue
                m.grouped_auc.grouping_key = key
                if body.has("reduction") and body.str("reduction", mwhere) != "mean":
                    self.report.drop(f"{mwhere}.gauc.reduction", entry.line, "rec's grouped AUC averages groups by their size")
                body.mark_used("reduction")
            elif kind == "recall_at_topk":
                m.recall_at_k.top_k = body.int("topk", mwhere, 5)
            elif kind in ("mean_absolute_error", "mean_squared_error"):
                getattr(m, kind).SetInParent()
            elif kind == "accuracy":
                m.accuracy.SetInParent()
            else:
                del target.metrics[-1]
                self.report.drop(mwhere, entry.line, f"metric {kind!r} has no rec equivalent")

    # -- feature groups ----------------------------------------------------------------------
    def feature_groups(self, model: Node, target: Any) -> None:
        """feature_groups with their DEEP/WIDE type; DIN-style sequence_features as sequence groups + DIN encoders."""
        for i, g in enumerate(model.nodes("feature_groups", "model_config")):
            where = f"model_config.feature_groups[{i}]"
            out = target.feature_groups.add()
            out.group_name = g.str("group_name", where)
            names = g.strs("feature_names", where)
            self._check_names(names, f"{where}.feature_names")
            out.feature_names.extend(names)
            kind = g.str("wide_deep", where, "DEEP")
            if kind not in _GROUP_TYPES:
                raise ConfigError(f"{where}.wide_deep", f"line {g.line}: expected DEEP or WIDE, got {kind!r}")
            out.group_type = _GROUP_TYPES[kind]
            for j, seq in enumerate(g.nodes("sequence_features", where)):
                self._sequence_group(seq, f"{where}.sequence_features[{j}]", out)

    def _check_names(self, names: list[str], where: str) -> None:
        unknown = [n for n in names if n not in self.feature_names]
        if unknown:
            raise ConfigError(where, f"feature(s) {unknown} are not configured; features: {sorted(self.feature_names)}")

    def _sequence_group(self, seq: Node, where: str, group: Any) -> None:
        name = seq.str("group_name", where) or f"{group.group_name}_seq{len(group.sequence_groups)}"
        names: list[str] = []
        for k, att in enumerate(seq.nodes("seq_att_map", where)):
            awhere = f"{where}.seq_att_map[{k}]"
            keys, hist = att.strs("key", awhere), att.strs("hist_seq", awhere)
            self._check_names(keys + hist, awhere)
            names += [n for n in keys + hist if n not in names]
        sg = group.sequence_groups.add()
        sg.group_name = name
        sg.feature_names.extend(names)
        din = group.sequence_encoders.add().din_encoder
        din.input = name
        din.attn_mlp.hidden_units.extend([64, 32])
        self.report.note(f"{where}: DIN attention over sequence group {name!r} uses attn_mlp [64, 32] (EasyRec fixes its own)")
        for key in ("tf_summary", "allow_key_search", "need_key_feature", "allow_key_transform", "transform_dnn"):
            if seq.has(key):
                seq.mark_used(key)
                self.report.drop(f"{where}.{key}", seq.line, "not supported by rec's DIN encoder")

    # -- models --------------------------------------------------------------------------------
    def convert(self, model: Node, eval_metrics: Node | None) -> Any:
        """The rec ModelConfig."""
        out = model_pb2.ModelConfig()
        self.feature_groups(model, out)
        kind = model.str("model_class", "model_config")
        convert: dict[str, Callable[[Node, Node | None, Any], None]] = {
            "DeepFM": self._deepfm, "WideAndDeep": self._wide_and_deep, "MultiTower": self._multi_tower,
            "MMoE": self._mmoe, "DBMTL": self._dbmtl, "SimpleMultiTask": self._simple_multi_task, "DSSM": self._dssm,
        }
        if kind not in convert:
            raise ConfigError("model_config.model_class", f"EasyRec model {kind!r} has no converter; supported: {sorted(convert)}")
        self._regularization(model, "model_config", "embedding_regularization", "l2_regularization", "l1_reg")
        out.num_class = model.int("num_class", "model_config", 1)
        convert[kind](model, eval_metrics, out)
        return out

    def _body(self, model: Node, name: str) -> Node:
        body = model.node(name, "model_config")
        if body is None:
            raise ConfigError(f"model_config.{name}", f"line {model.line}: model_class needs a {name} {{...}} block")
        return body

    def _rank_head(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        self.losses(model, "model_config", out.num_class, out)
        self.metrics(eval_metrics, "eval_config", out)

    def _deep_final(self, body: Node, where: str, target: Any, deep: str = "dnn") -> None:
        dnn = body.node(deep, where)
        if dnn is None:
            raise ConfigError(f"{where}.{deep}", f"line {body.line}: {deep} is required")
        self.mlp(dnn, f"{where}.{deep}", target.deep)
        final = body.node("final_dnn", where)
        if final is not None:
            self.mlp(final, f"{where}.final_dnn", target.final)
        target.wide_embedding_dim = body.int("wide_output_dim", where, EASYREC_WIDE_OUTPUT_DIM)
        self._regularization(body, where, "wide_regularization", "dense_regularization", "l2_regularization")

    def _deepfm(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        self._deep_final(self._body(model, "deepfm"), "model_config.deepfm", out.deepfm)
        self._rank_head(model, eval_metrics, out)

    def _wide_and_deep(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        self._deep_final(self._body(model, "wide_and_deep"), "model_config.wide_and_deep", out.wide_and_deep)
        self._rank_head(model, eval_metrics, out)

    def _multi_tower(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        where = "model_config.multi_tower"
        body = self._body(model, "multi_tower")
        for i, tower in enumerate(body.nodes("towers", where)):
            t = out.multi_tower.towers.add()
            t.input = tower.str("input", f"{where}.towers[{i}]")
            dnn = tower.node("dnn", f"{where}.towers[{i}]")
            if dnn is not None:
                self.mlp(dnn, f"{where}.towers[{i}].dnn", t.mlp)
        final = body.node("final_dnn", where)
        if final is None:
            raise ConfigError(f"{where}.final_dnn", "rec's MultiTower needs final_dnn")
        self.mlp(final, f"{where}.final_dnn", out.multi_tower.final)
        self._regularization(body, where, "l2_regularization")
        self._rank_head(model, eval_metrics, out)

    def _task_towers(self, body: Node, where: str, target: Any, bayes: bool) -> None:
        towers = body.nodes("task_towers", where)
        if not towers:
            raise ConfigError(f"{where}.task_towers", f"line {body.line}: a multi-task model needs task_towers")
        for i, tower in enumerate(towers):
            twhere = f"{where}.task_towers[{i}]"
            t = target.task_towers.add()
            t.tower_name = tower.str("tower_name", twhere) or f"task{i}"
            label = tower.str("label_name", twhere) or (self.label_fields[i] if i < len(self.label_fields) else "")
            if not label:
                raise ConfigError(f"{twhere}.label_name", "no label_name and no label_fields entry for this tower")
            t.label_name = label
            t.num_class = tower.int("num_class", twhere, 1)
            t.weight = tower.float("weight", twhere, 1.0)
            dnn = tower.node("dnn", twhere)
            if dnn is not None:
                self.mlp(dnn, f"{twhere}.dnn", t.mlp)
            for key in ("task_space_indicator_label", "in_task_space_weight", "out_task_space_weight"):
                if tower.has(key):
                    setattr(t, key, tower.str(key, twhere) if key.endswith("label") else tower.float(key, twhere))
            if tower.has("sample_weight"):
                t.sample_weight_name = tower.str("sample_weight", twhere)
            self.losses(tower, twhere, t.num_class, t)
            self.metrics(tower, twhere, t)
            if bayes:
                t.relation_tower_names.extend(tower.strs("relation_tower_names", twhere))
                rel = tower.node("relation_dnn", twhere)
                if rel is not None:
                    self.mlp(rel, f"{twhere}.relation_dnn", t.relation_mlp)

    def _multi_task_rest(self, model: Node, body: Node, where: str, target: Any, eval_metrics: Node | None, bayes: bool) -> None:
        """Task towers, then the options multi-task models take elsewhere (model losses, eval metrics)."""
        self._task_towers(body, where, target, bayes)
        self._regularization(body, where, "l2_regularization")
        for key in ("loss_type", "losses"):
            if model.has(key):
                model.mark_used(key)
                self.report.drop(f"model_config.{key}", model.line, "multi-task models take their losses from task_towers")
        if eval_metrics is not None and eval_metrics.has("metrics_set"):
            eval_metrics.mark_used("metrics_set")
            self.report.drop("eval_config.metrics_set", eval_metrics.line, "multi-task models take their metrics from task_towers")

    def _mmoe(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        where = "model_config.mmoe"
        body = self._body(model, "mmoe")
        expert = body.node("expert_dnn", where)
        if expert is None:
            raise ConfigError(f"{where}.expert_dnn", "rec's MMoE needs expert_dnn (one DNN shared by all experts)")
        self.mlp(expert, f"{where}.expert_dnn", out.mmoe.expert_mlp)
        out.mmoe.num_expert = body.int("num_expert", where, 3)
        gate = body.node("gate_dnn", where)
        if gate is not None:
            self.mlp(gate, f"{where}.gate_dnn", out.mmoe.gate_mlp)
        self._multi_task_rest(model, body, where, out.mmoe, eval_metrics, bayes=False)

    def _dbmtl(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        where = "model_config.dbmtl"
        body = self._body(model, "dbmtl")
        for easy, rec in (("bottom_dnn", "bottom_mlp"), ("expert_dnn", "expert_mlp"), ("gate_dnn", "gate_mlp")):
            node = body.node(easy, where)
            if node is not None:
                self.mlp(node, f"{where}.{easy}", getattr(out.dbmtl, rec))
        out.dbmtl.num_expert = body.int("num_expert", where, 0)
        self._multi_task_rest(model, body, where, out.dbmtl, eval_metrics, bayes=True)

    def _simple_multi_task(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        where = "model_config.simple_multi_task"
        body = self._body(model, "simple_multi_task")
        self._multi_task_rest(model, body, where, out.simple_multi_task, eval_metrics, bayes=False)

    def _dssm(self, model: Node, eval_metrics: Node | None, out: Any) -> None:
        where = "model_config.dssm"
        body = self._body(model, "dssm")
        dims = []
        for side in ("user_tower", "item_tower"):
            swhere = f"{where}.{side}"
            tower = body.node(side, where)
            if tower is None:
                raise ConfigError(swhere, f"line {body.line}: DSSM needs {side}")
            target = getattr(out.dssm, side)
            target.input = side.split("_")[0]
            if tower.has("id"):
                tower.mark_used("id")
                self.report.note(f"{swhere}.id: the id field only names EasyRec's export output; dropped")
            dnn = tower.node("dnn", swhere)
            if dnn is None:
                raise ConfigError(f"{swhere}.dnn", "a DSSM tower needs a dnn")
            self.mlp(dnn, f"{swhere}.dnn", target.mlp)
            # EasyRec's last hidden layer is the tower's linear output: rec's output_dim
            dims.append(target.mlp.hidden_units.pop())
            if not target.mlp.hidden_units:
                target.ClearField("mlp")
        if dims[0] != dims[1]:
            raise ConfigError(f"{where}", f"the towers' last hidden units differ ({dims[0]} vs {dims[1]}); they are the embedding width")
        out.dssm.output_dim = dims[0]
        simi = body.str("simi_func", where, "COSINE")
        if simi not in ("COSINE", "INNER_PRODUCT"):
            raise ConfigError(f"{where}.simi_func", f"{simi!r} has no rec equivalent (COSINE, INNER_PRODUCT)")
        out.dssm.similarity = simi_pb2.Similarity.Value(simi)
        out.dssm.temperature = body.float("temperature", where, 1.0)
        if body.has("scale_simi"):
            body.mark_used("scale_simi")
            self.report.drop(f"{where}.scale_simi", body.line, "rec scales similarities by temperature only")
        self._regularization(body, where, "l2_regularization")
        loss = model.str("loss_type", "model_config", "CLASSIFICATION")
        if loss != "SOFTMAX_CROSS_ENTROPY":
            self.report.drop("model_config.loss_type", model.line, f"rec trains match models with sampled softmax; {loss} became SOFTMAX_CROSS_ENTROPY")
        out.losses.add().softmax_cross_entropy.SetInParent()
        self.metrics(eval_metrics, "eval_config", out)
        kept = [m for m in out.metrics if m.WhichOneof("metric") == "recall_at_k"]
        if len(kept) != len(out.metrics):
            self.report.drop("eval_config.metrics_set", eval_metrics.line if eval_metrics else 0, "match models report recall_at_k only; other metrics dropped")
            del out.metrics[:]
            out.metrics.extend(kept)
        if not out.metrics:
            out.metrics.add().recall_at_k.top_k = 5
            self.report.note("model_config.metrics: none converted for DSSM; recall@5 added")
