"""rec-tools: fg.json, feature info, EasyRec conversion, FAISS indexes and hit rates, benchmarks, feature selection, TDM trees.

One console script with a subcommand per tool; a command's module (and its heavy imports) is
loaded only when it runs. Arguments follow TorchEasyRec's tools so their command lines carry over.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from rec_core.cli_utils import run_cli

Adder = Callable[[argparse.ArgumentParser], None]


def _create_fg_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline_config_path", required=True)
    p.add_argument("--fg_output_dir", required=True, help="directory for fg.json and the asset files it names")
    p.add_argument("--reserves", default="", help="comma list of input columns FG passes through unchanged")
    p.add_argument("--remove_bucketizer", action="store_true", help="leave bucketizing (hash/boundaries/vocab) to training")


def _add_feature_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("--template_model_config_path", required=True)
    p.add_argument("--model_config_path", required=True, help="where the updated config is written")
    p.add_argument("--config_table_path", required=True, help="table with columns feature, feature_info (JSON), message")
    p.add_argument("--reader_type", choices=["ParquetReader", "CsvReader", "ArrowReader"], help="default: from the file ending")


def _convert_easyrec(p: argparse.ArgumentParser) -> None:
    p.add_argument("--easyrec_config_path", required=True)
    p.add_argument("--output_tzrec_config_path", required=True, help="the rec pipeline config to write")
    p.add_argument("--fg_json_path", help="EasyRec fg.json: take features (expressions, types) from it")
    p.add_argument("--report_path", help="where the conversion report goes (default: <output>.report.txt)")
    p.add_argument("--strict", action="store_true", help="fail instead of dropping options rec cannot express")


def _create_faiss_index(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedding_input_path", required=True, help="item embedding table (Parquet/CSV)")
    p.add_argument("--index_output_dir", required=True)
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--index_type", default="IVFFlatIP", choices=["IVFFlatIP", "HNSWFlatIP", "IVFFlatL2", "HNSWFlatL2", "FlatIP", "FlatL2"])
    p.add_argument("--ivf_nlist", type=int, default=1000)
    p.add_argument("--hnsw_M", type=int, default=32)
    p.add_argument("--hnsw_efConstruction", type=int, default=200)
    p.add_argument("--id_field", default="item_id")
    p.add_argument("--embedding_field", default="item_tower_emb")
    p.add_argument("--embedding_dim", type=int, help="expected width; a table of another width is an error")
    p.add_argument("--reader_type", choices=["ParquetReader", "CsvReader", "ArrowReader"])


def _hitrate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--user_gt_input", required=True, help="table of request id, user embedding, ground-truth item ids")
    p.add_argument("--index_dir", help="directory written by create-faiss-index (faiss_index, id_mapping)")
    p.add_argument("--item_embedding_input", help="item embedding table: build an --index_type index of it in memory")
    p.add_argument("--total_hitrate_output", required=True, help="JSON file with the overall recall")
    p.add_argument("--hitrate_details_output", help="per-request results (Parquet/CSV by ending)")
    p.add_argument("--batch_size", type=int, default=1024)
    p.add_argument("--top_k", type=int, default=200)
    p.add_argument("--index_type", default="IVFFlatIP", choices=["IVFFlatIP", "HNSWFlatIP", "IVFFlatL2", "HNSWFlatL2", "FlatIP", "FlatL2"], help="with --item_embedding_input")
    p.add_argument("--ivf_nlist", type=int, default=1000, help="with --item_embedding_input")
    p.add_argument("--ivf_nprobe", type=int, default=800)
    p.add_argument("--hnsw_efSearch", type=int, default=400)
    p.add_argument("--item_id_field", default="item_id")
    p.add_argument("--item_embedding_field", default="item_tower_emb")
    p.add_argument("--request_id_field", default="request_id")
    p.add_argument("--gt_items_field", default="gt_items", help="list column, or a string of ids joined by ','")
    p.add_argument("--user_embedding_field", default="user_tower_emb")
    p.add_argument("--reader_type", choices=["ParquetReader", "CsvReader", "ArrowReader"])


def _benchmark(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline_config_path", required=True, help="a pipeline config, or a directory of them")
    p.add_argument("--experiment_path", required=True, help="model_dirs, logs and the report go here")
    p.add_argument("--base_metric_path", help="baseline JSON: {config name: {metric: {value, threshold}}}")
    p.add_argument("--run_cnt", type=int, default=1, help="runs per config; metrics are averaged")
    p.add_argument("--train_input_path")
    p.add_argument("--eval_input_path")
    p.add_argument("--edit_config_json", help="edits applied to every config (JSON of dotted paths)")
    p.add_argument("--nproc_per_node", type=int, default=1, help=">1 runs rec-train under torchrun")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per run")


def _feature_selection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline_config_path", required=True)
    p.add_argument("--model_dir", help="checkpoint or model_dir (default: model_dir of the config)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--topk", type=int, default=100, help="features kept per feature group")
    p.add_argument("--visualize", action="store_true", help="also draw a PNG per group (needs matplotlib)")
    p.add_argument("--clear_variational_dropout", action="store_true")


def _tdm_tree(p: argparse.ArgumentParser) -> None:
    p.add_argument("--item_input_path", required=True, help="item table (Parquet/CSV/Arrow); the first row of each item id counts")
    p.add_argument("--item_id_field", default="item_id")
    p.add_argument("--attr_fields", help="comma list of item attribute columns, in node features after tree_level and the id")
    p.add_argument("--raw_attr_fields", help="comma list of numeric item columns (internal nodes: mean of the items below)")
    p.add_argument("--attr_delimiter", default=":", help="joins a node's feature values (the tdm_sampler's attr_delimiter)")
    p.add_argument("--tree_output_dir", help="directory for serving_tree (and the tables without --node_edge_output_file)")
    p.add_argument("--node_edge_output_file", help="directory for node_table.txt, edge_table.txt, predict_edge_table.txt")
    p.add_argument("--n_cluster", type=int, default=2, help="children per internal node")
    p.add_argument("--reader_type", choices=["ParquetReader", "CsvReader", "ArrowReader"], help="default: from the file ending")


def _tdm_init_tree(p: argparse.ArgumentParser) -> None:
    _tdm_tree(p)
    p.add_argument("--cate_id_field", help="items are ordered by this column, then by id")


def _tdm_cluster_tree(p: argparse.ArgumentParser) -> None:
    _tdm_tree(p)
    p.add_argument("--embedding_field", default="item_emb", help="list<float> column (or ',' joined numbers) of learned item embeddings")
    p.add_argument("--parallel", type=int, default=16, help="processes clustering the subtrees of a level")


def _tdm_item_emb(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline_config_path", required=True, help="the TDM model's pipeline config (its model_dir holds the checkpoints)")
    p.add_argument("--checkpoint_path", help="checkpoint dir (default: latest in model_dir)")
    p.add_argument("--item_input_path", required=True, help="item table with the columns the node features read")
    p.add_argument("--item_id_field", default="item_id")
    p.add_argument("--attr_fields", help="comma list of further item columns copied to the output (e.g. for tdm-cluster-tree)")
    p.add_argument("--embedding_output_path", required=True, help="output directory (part-0 file)")
    p.add_argument("--embedding_field", default="item_emb")
    p.add_argument("--batch_size", type=int, default=4096)
    p.add_argument("--writer_type", default="parquet", choices=["parquet", "csv"])
    p.add_argument("--reader_type", choices=["ParquetReader", "CsvReader", "ArrowReader"], help="default: from the file ending")


def _tdm_retrieval(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scripted_model_path", required=True, help="TDM export directory (from rec-export)")
    p.add_argument("--predict_input_path", required=True, help="user rows (the model's user features; item id optional)")
    p.add_argument("--predict_output_path", required=True, help="output directory (part-0 file)")
    p.add_argument("--recall_num", type=int, default=200, help="items recalled per row")
    p.add_argument("--n_cluster", type=int, default=2, help="children per node of the tree (read from the tree; checked)")
    p.add_argument("--beam_size", type=int, help="nodes kept per level above the leaves (default 2 x recall_num)")
    p.add_argument("--reserved_columns", default="", help="comma list of input columns copied to the output")
    p.add_argument("--batch_size", type=int, help="user rows per search (default: data_config.batch_size)")
    p.add_argument("--max_score_rows", type=int, default=8192, help="(user, node) rows per model call")
    p.add_argument("--writer_type", default="parquet", choices=["parquet", "csv"])


# command -> (module under rec_tools, one-line help, argument adder)
COMMANDS: dict[str, tuple[str, str, Adder]] = {
    "create-fg-json": ("create_fg_json", "write fg.json and its assets for a pipeline config", _create_fg_json),
    "add-feature-info": ("feature_info", "apply a feature-info table to a config", _add_feature_info),
    "convert-easyrec": ("easyrec.convert", "convert an EasyRec pipeline config", _convert_easyrec),
    "create-faiss-index": ("faiss_index", "build a FAISS index from item embeddings", _create_faiss_index),
    "hitrate": ("hitrate", "recall@K of user embeddings against an index", _hitrate),
    "benchmark": ("benchmark", "train configs N times and compare metrics to a baseline", _benchmark),
    "feature-selection": ("feature_selection", "rank features by variational dropout, prune a config", _feature_selection),
    "tdm-init-tree": ("tdm.init_tree", "initial TDM tree over items in category order", _tdm_init_tree),
    "tdm-cluster-tree": ("tdm.cluster_tree", "TDM tree from balanced k-means of learned item embeddings", _tdm_cluster_tree),
    "tdm-item-emb": ("tdm.item_emb", "the item embeddings a trained TDM model learned (for tdm-cluster-tree)", _tdm_item_emb),
    "tdm-retrieval": ("tdm.retrieval", "top items per user by beam search with an exported TDM model", _tdm_retrieval),
}


def build_parser() -> argparse.ArgumentParser:
    """The `rec-tools` parser with one subparser per command."""
    parser = argparse.ArgumentParser(prog="rec-tools", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    for name, (_, help_text, adder) in COMMANDS.items():
        adder(sub.add_parser(name, help=help_text, description=help_text))
    return parser


@run_cli
def _run(argv: Sequence[str] | None) -> int | None:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"rec_tools.{COMMANDS[args.command][0]}")
    return module.run(args)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `rec-tools` console script."""
    sys.exit(_run(argv))


if __name__ == "__main__":
    main()
