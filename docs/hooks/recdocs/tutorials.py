"""One tutorial page per example config under examples/, found anew on every build.

A page shows what the config trains (model, feature groups, features, data, schedule), the
commands that prepare its data and train, evaluate and export it, and the config itself. The
text of a page comes from the config's own header comment, after an optional hand-written
intro in docs/tutorials/intros/<dir>/<stem>.md (and <dir>.md for the directory's page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

OUT_DIR = "tutorials"
EASYREC_DIR = "easyrec"  # configs in EasyRec's own format: converted before training
# The order of the directories in the navigation; others follow alphabetically.
DIR_ORDER = ["quickstart", "frappe", "ml1m", "ml100k", "aliccp", "taobao", "zoo", "easyrec"]
_COMMAND_START = re.compile(r"^(rec-[a-z-]+|python|torchrun)\b")


@dataclass(frozen=True)
class Example:
    """One example config: its path relative to the repository root."""

    path: Path

    @property
    def group(self) -> str:
        return self.path.parent.relative_to("examples").as_posix()

    @property
    def src_uri(self) -> str:
        return f"{OUT_DIR}/{self.group}/{self.path.stem}.md"

    @property
    def is_easyrec(self) -> bool:
        return self.path.parts[1] == EASYREC_DIR


def find_examples(repo: Path) -> list[Example]:
    """Every *.config under repo/examples, grouped by directory in navigation order."""
    paths = sorted(p.relative_to(repo) for p in (repo / "examples").rglob("*.config"))
    examples = [Example(p) for p in paths if "data" not in p.parts[2:-1]]

    def key(e: Example) -> tuple[int, str, str]:
        top = e.path.parts[1]
        rank = DIR_ORDER.index(top) if top in DIR_ORDER else len(DIR_ORDER)
        return rank, e.group, e.path.stem

    return sorted(examples, key=key)


def header(text: str) -> list[str]:
    """The leading comment block of a config, without the `#` marks."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].removeprefix(" "))
    return lines


def header_markdown(lines: list[str]) -> str:
    """Header comment as Markdown: prose as paragraphs, indented commands (and their `\\`
    continuation lines) as a bash block."""
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            out.extend(["", "```bash", *block, "```", ""])
            block.clear()

    for line in lines:
        stripped = line.strip()
        indented = line.startswith("  ") and stripped
        if indented and block and block[-1].endswith("\\"):
            block.append(f"    {stripped}")
            continue
        if indented and (stripped.startswith("uv ") or _COMMAND_START.match(stripped)):
            # a command in the header runs from the repository root; uv runs it in the workspace
            block.append(stripped if stripped.startswith("uv ") else f"uv run {stripped}")
            continue
        flush()
        out.append(stripped)
    flush()
    return "\n".join(out).strip()


def _summary_line(lines: list[str]) -> str:
    return lines[0].strip() if lines else ""


def _feature_rows(config) -> list[str]:  # noqa: ANN001 - EasyRecConfig
    from rec_core.config import which_msg

    rows = ["| feature | type | inputs | embedding dim |", "| --- | --- | --- | --- |"]
    for fc in config.feature_configs:
        kind = which_msg(fc, "feature")
        inner = getattr(fc, kind)
        inputs = _inputs(inner)
        dim = getattr(inner, "embedding_dim", 0) or ""
        name = getattr(inner, "feature_name", "") or getattr(inner, "sequence_name", "")
        rows.append(f"| `{name}` | `{kind}` | {inputs} | {dim} |")
    return rows


def _inputs(inner) -> str:  # noqa: ANN001 - a feature message
    names = [f.name for f in inner.DESCRIPTOR.fields]
    for field_name in ("expression", "expressions"):
        if field_name in names:
            value = getattr(inner, field_name)
            values = [value] if isinstance(value, str) else list(value)
            return ", ".join(f"`{v}`" for v in values if v)
    return ""


def _group_rows(config) -> list[str]:  # noqa: ANN001 - EasyRecConfig
    from rec_core.protos import model_pb2

    rows = ["| group | type | features |", "| --- | --- | --- |"]
    for g in config.model_config.feature_groups:
        kind = model_pb2.FeatureGroupType.Name(g.group_type)
        names = list(g.feature_names)
        for seq in g.sequence_groups:
            names.append(f"{seq.group_name}: " + " ".join(seq.feature_names))
        rows.append(f"| `{g.group_name}` | `{kind}` | {', '.join(names)} |")
    return rows


def _schedule(config) -> str:  # noqa: ANN001 - EasyRecConfig
    tc = config.train_config
    if tc.HasField("num_steps"):
        return f"{tc.num_steps} steps"
    return f"{tc.num_epochs} epoch{'s' if tc.num_epochs != 1 else ''}"


def _commands(example: Example, model_dir: str) -> list[str]:
    path = example.path.as_posix()
    export_dir = f"{model_dir.rstrip('/')}_export"
    return [
        "```bash",
        f"uv run rec-config validate --pipeline_config_path {path} --for_training",
        f"uv run rec-train --pipeline_config_path {path}",
        f"uv run rec-eval --pipeline_config_path {path}",
        f"uv run rec-export --pipeline_config_path {path} --export_dir {export_dir}",
        "```",
    ]


def _easyrec_commands(example: Example) -> list[str]:
    converted = f"experiments/easyrec/{example.path.name}"
    return [
        "This config is in EasyRec's (TensorFlow) format. Convert it into a rec config, then use "
        "the converted file like any other (`rec-data synth` makes data for it when you have none); "
        f"the conversion report goes beside it (`{converted}.report.txt`).",
        "",
        "```bash",
        f"uv run rec-tools convert-easyrec --easyrec_config_path {example.path.as_posix()} \\",
        f"    --output_tzrec_config_path {converted}",
        f"uv run rec-config validate --pipeline_config_path {converted}",
        f"uv run rec-train --pipeline_config_path {converted}",
        "```",
    ]


def render(example: Example, repo: Path, intro: str | None) -> str:
    """The tutorial page of one example config."""
    text = (repo / example.path).read_text()
    head = header(text)
    lines = [f"# {example.group}/{example.path.name}", ""]
    if intro:
        lines += [intro.strip(), ""]
    described = header_markdown(head)
    if described:
        lines += [described, ""]
    if example.is_easyrec:
        lines += ["## Convert and train", "", *_easyrec_commands(example), ""]
    else:
        lines += _rec_sections(example, repo)
    lines += ["## The config", "", f"`{example.path.as_posix()}`:", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


def _rec_sections(example: Example, repo: Path) -> list[str]:
    from rec_core.config import load_pipeline_config, which_msg_type
    from rec_core.protos import data_pb2

    config = load_pipeline_config(str(repo / example.path))
    dc = config.data_config
    labels = ", ".join(f"`{x}`" for x in dc.label_fields) or "none"
    return [
        "## What it trains", "",
        f"- Model: `{which_msg_type(config.model_config, 'model')}`",
        f"- Data: `{config.train_input_path}` (train), `{config.eval_input_path}` (eval); "
        f"`{data_pb2.DatasetType.Name(dc.dataset_type)}`",
        f"- Labels: {labels}; batch size {dc.batch_size}; {_schedule(config)}",
        f"- Checkpoints and eval results: `{config.model_dir}`", "",
        "### Feature groups", "", *_group_rows(config), "",
        "### Features", "", *_feature_rows(config), "",
        "## Train, evaluate, export", "",
        "From the repository root, once the data exists at the config's paths. To use other "
        "paths, `rec-train` takes `--train_input_path`, `--eval_input_path` and `--model_dir`, "
        "`rec-eval` takes `--eval_input_path` and `--checkpoint_path`, and `rec-export` takes "
        "`--checkpoint_path`.", "",
        *_commands(example, config.model_dir), "",
    ]


def read_intro(docs_dir: Path, name: str) -> str | None:
    """Hand-written intro docs/tutorials/intros/<name>.md, if there is one."""
    path = docs_dir / OUT_DIR / "intros" / f"{name}.md"
    return path.read_text() if path.is_file() else None


def group_page(group: str, examples: list[Example], repo: Path, intro: str | None) -> str:
    """The index page of one examples directory: intro and a table of its configs."""
    lines = [f"# examples/{group}", ""]
    if intro:
        lines += [intro.strip(), ""]
    lines += ["| config | what it is |", "| --- | --- |"]
    for e in examples:
        summary = _summary_line(header((repo / e.path).read_text()))
        lines.append(f"| [{e.path.name}]({e.path.stem}.md) | {summary} |")
    return "\n".join(lines) + "\n"


def generate(repo: Path, docs_dir: Path) -> dict[str, str]:
    """All tutorial pages: src_uri -> Markdown, each directory's index before its configs."""
    examples = find_examples(repo)
    out: dict[str, str] = {}
    groups: dict[str, list[Example]] = {}
    for e in examples:
        groups.setdefault(e.group, []).append(e)
    for group, members in groups.items():
        out[f"{OUT_DIR}/{group}/index.md"] = group_page(group, members, repo, read_intro(docs_dir, group))
        for e in members:
            out[e.src_uri] = render(e, repo, read_intro(docs_dir, f"{group}/{e.path.stem}"))
    return out


def nav(pages: dict[str, str]) -> list[dict[str, list[str]]]:
    """Navigation entries for the generated tutorial pages: one section per examples directory."""
    sections: dict[str, list[str]] = {}
    for uri in pages:
        group = uri[len(OUT_DIR) + 1 :].rsplit("/", 1)[0]
        sections.setdefault(f"examples/{group}", []).append(uri)
    return [{title: uris} for title, uris in sections.items()]
