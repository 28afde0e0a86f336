"""Regenerate the committed `_pb2.py` / `.pyi` modules from rec-core's `.proto` sources.

Usage: python packages/rec-core/scripts/gen_protos.py [--out DIR]

DIR is the import root the `rec_core/protos/...` tree is written under; it defaults to
rec-core's `src/`, i.e. regenerating in place.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

SRC_ROOT = Path(__file__).resolve().parent.parent / "src"
PROTO_DIR = SRC_ROOT / "rec_core" / "protos"


def proto_files() -> list[Path]:
    """Every .proto under rec_core/protos, relative to the src root, in a stable order."""
    return sorted(p.relative_to(SRC_ROOT) for p in PROTO_DIR.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc over every .proto into out_dir; return the generated file paths."""
    from grpc_tools import protoc

    out_dir.mkdir(parents=True, exist_ok=True)
    # grpc_tools bundles the well-known types (google/protobuf/struct.proto).
    wkt_include = str(resources.files("grpc_tools") / "_proto")
    files = [str(p) for p in proto_files()]
    args = [
        "protoc",
        f"-I{SRC_ROOT}",
        f"-I{wkt_include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        *[str(SRC_ROOT / f) for f in files],
    ]
    code = protoc.main(args)
    if code != 0:
        raise RuntimeError(f"protoc failed with exit code {code}")
    generated = []
    for rel in proto_files():
        stem = rel.with_suffix("")
        for suffix in ("_pb2.py", "_pb2.pyi"):
            path = out_dir / stem.parent / (stem.name + suffix)
            if not path.exists():
                raise RuntimeError(f"protoc did not produce {path}")
            generated.append(path)
    return generated


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SRC_ROOT, help="import root to write into")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
