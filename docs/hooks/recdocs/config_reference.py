"""Config reference pages generated from rec-core's compiled protobuf descriptors.

Every message and enum reachable from the pipeline config root (`EasyRecConfig`) is
documented on the page of the .proto file that defines it. Comments are read from the .proto
sources through protoc's source info, so the reference follows the schema on every build.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

ROOT_MESSAGE = "rec.protos.EasyRecConfig"
OUT_DIR = "config"

# FieldDescriptorProto path tags: message_type=4 (file), field=2, nested_type=3, enum_type=4
# (message), enum_type=5 (file), value=2 (enum).
_FILE_MESSAGE, _FILE_ENUM, _MSG_FIELD, _MSG_NESTED, _MSG_ENUM, _ENUM_VALUE = 4, 5, 2, 3, 4, 2

_SCALAR_NAMES = {
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_FLOAT: "float",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT64: "uint64",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_FIXED64: "fixed64",
    FieldDescriptor.TYPE_FIXED32: "fixed32",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_SFIXED32: "sfixed32",
    FieldDescriptor.TYPE_SFIXED64: "sfixed64",
    FieldDescriptor.TYPE_SINT32: "sint32",
    FieldDescriptor.TYPE_SINT64: "sint64",
}


@dataclass
class ProtoPage:
    """One generated page: the .proto file and the reachable types it defines, in schema order."""

    proto_file: str
    types: list[Descriptor | EnumDescriptor] = field(default_factory=list)

    @property
    def src_uri(self) -> str:
        return f"{OUT_DIR}/{Path(self.proto_file).stem}.md"


def root_descriptor() -> Descriptor:
    """The pipeline config root message (`EasyRecConfig`)."""
    from rec_core.protos import pipeline_pb2

    return pipeline_pb2.EasyRecConfig.DESCRIPTOR


def reachable_types(root: Descriptor) -> list[Descriptor | EnumDescriptor]:
    """Messages and enums reachable from `root` through its fields, breadth first; map entries are skipped."""
    seen: dict[str, Descriptor | EnumDescriptor] = {}
    queue: list[Descriptor | EnumDescriptor] = [root]
    while queue:
        desc = queue.pop(0)
        if desc.full_name in seen or desc.full_name.startswith("google.protobuf."):
            continue
        if isinstance(desc, Descriptor) and desc.GetOptions().map_entry:
            queue.extend(_field_types(desc))
            continue
        seen[desc.full_name] = desc
        if isinstance(desc, Descriptor):
            queue.extend(_field_types(desc))
    return list(seen.values())


def _field_types(desc: Descriptor) -> Iterator[Descriptor | EnumDescriptor]:
    for f in desc.fields:
        if f.message_type is not None:
            yield f.message_type
        if f.enum_type is not None:
            yield f.enum_type


def group_by_file(types: list[Descriptor | EnumDescriptor]) -> list[ProtoPage]:
    """Pages in the order their first type is reached from the root."""
    pages: dict[str, ProtoPage] = {}
    for desc in types:
        pages.setdefault(desc.file.name, ProtoPage(desc.file.name)).types.append(desc)
    return list(pages.values())


def proto_comments(proto_root: Path, proto_files: list[str]) -> dict[str, str]:
    """Leading (else trailing) comment of every message, enum, field and enum value, by full name."""
    from grpc_tools import protoc

    wkt_include = str(resources.files("grpc_tools") / "_proto")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "set.pb"
        code = protoc.main(
            ["protoc", f"-I{proto_root}", f"-I{wkt_include}", "--include_source_info",
             f"--descriptor_set_out={out}", *proto_files]
        )
        if code != 0:
            raise RuntimeError(f"protoc failed ({code}) on {proto_files}")
        fds = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    comments: dict[str, str] = {}
    for fd in fds.file:
        names = _names_by_path(fd)
        for loc in fd.source_code_info.location:
            text = (loc.leading_comments or loc.trailing_comments).strip()
            name = names.get(tuple(loc.path))
            if text and name:
                comments[name] = " ".join(line.strip() for line in text.splitlines())
    return comments


def _names_by_path(fd: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    names: dict[tuple[int, ...], str] = {}

    def enum(e: descriptor_pb2.EnumDescriptorProto, path: tuple[int, ...], scope: str) -> None:
        full = f"{scope}.{e.name}"
        names[path] = full
        for i, v in enumerate(e.value):
            # enum values live in the scope enclosing the enum, as in protobuf
            names[(*path, _ENUM_VALUE, i)] = f"{full}.{v.name}"

    def message(m: descriptor_pb2.DescriptorProto, path: tuple[int, ...], scope: str) -> None:
        full = f"{scope}.{m.name}"
        names[path] = full
        for i, f in enumerate(m.field):
            names[(*path, _MSG_FIELD, i)] = f"{full}.{f.name}"
        for i, n in enumerate(m.nested_type):
            message(n, (*path, _MSG_NESTED, i), full)
        for i, e in enumerate(m.enum_type):
            enum(e, (*path, _MSG_ENUM, i), full)

    for i, m in enumerate(fd.message_type):
        message(m, (_FILE_MESSAGE, i), fd.package)
    for i, e in enumerate(fd.enum_type):
        enum(e, (_FILE_ENUM, i), fd.package)
    return names


def anchor(desc: Descriptor | EnumDescriptor) -> str:
    """HTML id of a type's section: its full name, dots as dashes, lower case."""
    return desc.full_name.replace(".", "-").lower()


def _short_name(desc: Descriptor | EnumDescriptor) -> str:
    package = desc.file.package
    return desc.full_name[len(package) + 1 :] if package else desc.full_name


class _Renderer:
    def __init__(self, pages: list[ProtoPage], comments: dict[str, str]):
        self.comments = comments
        self.page_of = {d.full_name: p for p in pages for d in p.types}

    def link(self, desc: Descriptor | EnumDescriptor, from_page: ProtoPage | None) -> str:
        page = self.page_of.get(desc.full_name)
        if page is None:
            return f"`{desc.full_name}`"
        target = "" if page is from_page else Path(page.src_uri).name
        return f"[`{_short_name(desc)}`]({target}#{anchor(desc)})"

    def type_of(self, f: FieldDescriptor, page: ProtoPage) -> str:
        msg = f.message_type
        if msg is not None and msg.GetOptions().map_entry:
            key, value = msg.fields_by_name["key"], msg.fields_by_name["value"]
            return f"map&lt;{self.type_of(key, page)}, {self.type_of(value, page)}&gt;"
        if msg is not None:
            return self.link(msg, page)
        if f.enum_type is not None:
            return self.link(f.enum_type, page)
        return f"`{_SCALAR_NAMES[f.type]}`"

    def message(self, desc: Descriptor, page: ProtoPage) -> list[str]:
        lines = [f"## {_short_name(desc)} {{ #{anchor(desc)} }}", ""]
        lines += self._comment(desc.full_name)
        if not desc.fields:
            return [*lines, "No fields: setting this message (`{}` in text format) selects it.", ""]
        lines += ["| field | number | type | label | default | oneof | description |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for f in desc.fields:
            oneof = f.containing_oneof.name if f.containing_oneof is not None else ""
            lines.append(
                f"| `{f.name}` | {f.number} | {self.type_of(f, page)} | {_label(f)} | {_default(f)} "
                f"| {f'`{oneof}`' if oneof else ''} | {_cell(self.comments.get(f.full_name, ''))} |"
            )
        lines.append("")
        oneofs = [o for o in desc.oneofs if not _synthetic(o)]
        for o in oneofs:
            choices = ", ".join(f"`{f.name}`" for f in o.fields)
            lines += [f"Oneof `{o.name}`: set at most one of {choices}.", ""]
        return lines

    def enum(self, desc: EnumDescriptor) -> list[str]:
        lines = [f"## {_short_name(desc)} {{ #{anchor(desc)} }}", "", "Enum."]
        lines += ["", *self._comment(desc.full_name)]
        lines += ["| value | number | description |", "| --- | --- | --- |"]
        scope = desc.full_name
        for v in desc.values:
            lines.append(f"| `{v.name}` | {v.number} | {_cell(self.comments.get(f'{scope}.{v.name}', ''))} |")
        return [*lines, ""]

    def _comment(self, name: str) -> list[str]:
        text = self.comments.get(name)
        return [text, ""] if text else []

    def page(self, page: ProtoPage) -> str:
        lines = [f"# {Path(page.proto_file).name}", "",
                 f"Messages and enums of `{page.proto_file}` that a pipeline config can reach from "
                 f"[`EasyRecConfig`](pipeline.md#{ROOT_MESSAGE.replace('.', '-').lower()}). "
                 "Generated from the protobuf schema when the site is built.", ""]
        for desc in page.types:
            lines += self.message(desc, page) if isinstance(desc, Descriptor) else self.enum(desc)
        return "\n".join(lines)


def _synthetic(oneof) -> bool:  # noqa: ANN001 - OneofDescriptor is not exported with a stable name
    return bool(getattr(oneof, "is_synthetic", False))


def _label(f: FieldDescriptor) -> str:
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        return "map"
    if f.is_repeated:
        return "repeated"
    return "required" if f.is_required else "optional"


def _default(f: FieldDescriptor) -> str:
    if not f.has_default_value:
        return ""
    value = f.default_value
    if f.enum_type is not None:
        value = f.enum_type.values_by_number[value].name
    elif isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return f"`{value!s}`" if value != "" else '`""`'


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def proto_root() -> Path:
    """The import root of the .proto sources (rec-core's src/)."""
    import rec_core.protos

    return Path(rec_core.protos.__file__).resolve().parent.parent.parent


def generate() -> dict[str, str]:
    """All config reference pages: src_uri -> Markdown, the index first."""
    root = root_descriptor()
    types = reachable_types(root)
    pages = group_by_file(types)
    comments = proto_comments(proto_root(), sorted({p.proto_file for p in pages}))
    renderer = _Renderer(pages, comments)
    out = {f"{OUT_DIR}/index.md": _index(pages, renderer)}
    for page in pages:
        out[page.src_uri] = renderer.page(page)
    return out


def _index(pages: list[ProtoPage], renderer: _Renderer) -> str:
    lines = ["# Config reference", "",
             "A pipeline config is a protobuf text-format (or JSON) file holding one "
             f"`{ROOT_MESSAGE}` message. The pages below list every message and enum it can reach, "
             "generated from the schema in `rec_core/protos/` when the site is built: for each field its "
             "number, type, label (`optional`, `required`, `repeated`, `map`), default, oneof group and the "
             "comment from the `.proto` source.", "",
             "Message, field and enum names are TorchEasyRec's, so its configs load unchanged. "
             "`rec-config validate` checks a config against this schema and the cross-field rules; "
             "`rec-config show --format json` prints it as JSON.", "",
             "| file | types |", "| --- | --- |"]
    for page in pages:
        links = ", ".join(renderer.link(d, None) for d in page.types)
        lines.append(f"| [{Path(page.proto_file).name}]({Path(page.src_uri).name}) | {links} |")
    return "\n".join(lines) + "\n"
