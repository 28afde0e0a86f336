"""`rec-config`: validate, show and edit pipeline configs, and list installed plugins.

Imports stay light (protobuf and fsspec only, never torch) so the tool starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from google.protobuf import json_format, text_format

from rec_core.config import edit_config, load_pipeline_config, save_message
from rec_core.config_check import check_pipeline_config
from rec_core.errors import ConfigError, RecError
from rec_core.registry import GROUPS, registry

EXIT_OK = 0
EXIT_USER_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rec-config", description="Validate, show and edit rec pipeline configs.")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser("validate", help="parse and check a pipeline config")
    validate.add_argument("--pipeline_config_path", required=True, help="text-format .config or .json, path or URL")
    validate.add_argument("--for_training", action="store_true", help="also require what training needs")

    show = sub.add_parser("show", help="print a pipeline config")
    show.add_argument("--pipeline_config_path", required=True)
    show.add_argument("--format", choices=("text", "json"), default="text")

    edit = sub.add_parser("edit", help="apply --edit_config_json edits and print or save the result")
    edit.add_argument("--pipeline_config_path", required=True)
    edit.add_argument("--edit_config_json", required=True, help='JSON object, e.g. \'{"data_config.batch_size": 256}\'')
    edit.add_argument("--output", help="write the edited config here (atomically) instead of stdout")

    plugins = sub.add_parser("plugins", help="list installed plugins by entry-point group (imports none of them)")
    plugins.add_argument("--group", choices=GROUPS, action="append", help="only this group (repeatable)")
    plugins.add_argument("--format", choices=("text", "json"), default="text")
    return parser


def _list_plugins(groups: list[str], fmt: str) -> None:
    """Print each group's plugins with the distribution and version providing them."""
    found = {g: [registry(g).describe(name) for name in registry(g).names()] for g in groups}
    if fmt == "json":
        rows = {g: [{"name": i.name, "distribution": i.distribution, "version": i.version, "object": i.object_path}
                    for i in infos] for g, infos in found.items()}
        print(json.dumps(rows, indent=2))
        return
    for group, infos in found.items():
        print(f"{group}:")
        width = max((len(i.name) for i in infos), default=0)
        for i in infos:
            print(f"  {i.name:<{width}}  {i.distribution} {i.version}  ({i.object_path})")
        if not infos:
            print("  (none)")


def _run(args: argparse.Namespace) -> int:
    if args.command == "plugins":
        _list_plugins(args.group or list(GROUPS), args.format)
        return EXIT_OK
    path = args.pipeline_config_path
    config = load_pipeline_config(path)
    if args.command == "validate":
        check_pipeline_config(config, source=path, for_training=args.for_training)
        print(f"OK: {path}")
    elif args.command == "show":
        if args.format == "json":
            print(json_format.MessageToJson(config, preserving_proto_field_name=True, indent=2))
        else:
            sys.stdout.write(text_format.MessageToString(config, as_utf8=True))
    else:
        try:
            edits = json.loads(args.edit_config_json)
        except json.JSONDecodeError as e:
            raise ConfigError("", f"--edit_config_json is not valid JSON: {e}") from e
        edit_config(config, edits)
        if args.output:
            save_message(config, args.output)
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text_format.MessageToString(config, as_utf8=True))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of `rec-config`; returns the exit code (0 ok, 2 bad config or usage)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except RecError as e:
        if os.environ.get("LOG_LEVEL", "").upper() == "DEBUG":
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
