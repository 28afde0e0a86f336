"""`--help` text of rec's console scripts, captured from the argparse parsers the scripts build."""

from __future__ import annotations

import argparse
import contextlib
import os
from importlib.metadata import distribution
from unittest import mock

HELP_WIDTH = "100"


class _Captured(BaseException):
    # BaseException so that the CLIs' own error handling (run_cli) lets it through
    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__(parser.prog)
        self.parser = parser


def console_scripts(dist_name: str) -> dict[str, str]:
    """Console scripts a distribution installs: name -> "module:function"."""
    eps = distribution(dist_name).entry_points
    return {ep.name: ep.value for ep in eps if ep.group == "console_scripts"}


def capture_parser(target: str) -> argparse.ArgumentParser:
    """The top-level parser the script `target` ("module:function") builds, without running it."""
    module_name, func_name = target.split(":")
    module = __import__(module_name, fromlist=[func_name])

    def stop(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Captured(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", stop), mock.patch.object(
        argparse.ArgumentParser, "parse_known_args", stop
    ):
        try:
            getattr(module, func_name)([])
        except _Captured as captured:
            return captured.parser
    raise RuntimeError(f"{target} returned without parsing arguments")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps sub-commands only here
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def help_texts(target: str) -> list[tuple[str, str]]:
    """(command line, help text) for a script and each of its sub-commands."""
    with _columns(HELP_WIDTH):
        parser = capture_parser(target)
        texts = [(parser.prog, parser.format_help())]
        texts += [(sub.prog, sub.format_help()) for sub in _subparsers(parser).values()]
    return texts


@contextlib.contextmanager
def _columns(width: str):  # noqa: ANN202 - a context manager
    # argparse wraps help to $COLUMNS; a fixed width keeps the pages the same on every machine
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def render(dist_name: str) -> str:
    """Markdown: one `--help` block per console script (and sub-command) of the distribution."""
    scripts = console_scripts(dist_name)
    if not scripts:
        return f"`{dist_name}` installs no command-line tools."
    lines: list[str] = []
    for name, target in sorted(scripts.items()):
        for prog, text in help_texts(target):
            lines += [f"#### `{prog}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)
