"""The command line: ``python -m fromzero <command> ...``.

Each command is a small function that parses nothing itself: argparse does the parsing, the
package does the work, and :func:`main` turns the package's own errors into one line on stderr and
exit code 2, so a typo in a path never ends in a traceback. Chapters add their commands by writing
an ``add_commands(subparsers)`` function and listing it in ``_COMMAND_GROUPS``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from fromzero import __version__
from fromzero.embeddings.cli import add_commands as add_embed_commands
from fromzero.errors import InputError, InputWarning, ScaleUnavailableError
from fromzero.finetune.cli import add_commands as add_finetune_commands
from fromzero.transformer.cli import add_commands as add_pretrain_commands

EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 1


EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line naming the problem, and exit with code 2.

    It reads ``-1e-5`` as a (negative) value, not as an unknown option, so that the option's own check
    answers: plain argparse only recognises ``-1`` and ``-0.5`` and says "expected one argument".
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _device_command(args: argparse.Namespace) -> int:
    from fromzero.device import describe_device, pick_device

    device = pick_device(args.device)
    print(describe_device(device))
    return 0


def _describe_corpus(path: str, file_format: str) -> dict[str, object]:
    from fromzero.data.readers import read_conll, read_sentences, read_tsv  # pandas: only when a file is checked

    if file_format == "text":
        sentences = read_sentences(path)
        tokens = [token for sentence in sentences for token in sentence]
        return {"format": "text", "sentences": len(sentences), "tokens": len(tokens), "types": len(set(tokens))}
    if file_format == "tsv":
        frame = read_tsv(path)
        labels = Counter(frame["label"])
        return {"format": "tsv", "rows": len(frame), "labels": dict(sorted(labels.items()))}
    sentences = read_conll(path)
    tags = Counter(tag for _, sentence_tags in sentences for tag in sentence_tags)
    return {
        "format": "conll",
        "sentences": len(sentences),
        "tokens": sum(len(tokens) for tokens, _ in sentences),
        "tags": dict(sorted(tags.items())),
    }


def _data_check_command(args: argparse.Namespace) -> int:
    summary = _describe_corpus(args.path, args.format)
    for key, value in summary.items():
        print(f"{key:>10}: {value}")
    print(json.dumps(summary))
    return 0


def _data_scale_command(args: argparse.Namespace) -> int:
    from fromzero.data.scale import get_scale

    print(get_scale())
    return 0


def _add_core_commands(subparsers: argparse._SubParsersAction) -> None:
    device = subparsers.add_parser("device", help="print the device the book's code would use")
    device.add_argument("--device", default="auto", help="auto (default), cpu, cuda or mps")
    device.set_defaults(handler=_device_command)

    data = subparsers.add_parser("data", help="inspect the book's data files and scale")
    data_commands = data.add_subparsers(dest="data_command", metavar="{check,scale}", required=True)
    check = data_commands.add_parser(
        "check",
        help="validate a corpus file and summarise it",
        description="Read PATH the way the training commands will, report its size, and exit 2 naming the "
        "problem if it is malformed.",
    )
    check.add_argument("path", help="the file to check")
    check.add_argument(
        "--format",
        choices=("text", "tsv", "conll"),
        default="text",
        help="text: one sentence per line; tsv: header with 'text' and 'label'; conll: token ... BIO-tag columns",
    )
    check.set_defaults(handler=_data_check_command)
    scale = data_commands.add_parser("scale", help="print the active scale (FROMZERO_SCALE: small or full)")
    scale.set_defaults(handler=_data_scale_command)


_COMMAND_GROUPS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_core_commands,
    add_embed_commands,
    add_finetune_commands,
    add_pretrain_commands,
]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="python -m fromzero",
        description="Command line of the book 'From Zero: Word Embeddings, Pretrained Models and Fine-Tuning'.",
    )
    parser.add_argument("--version", action="version", version=f"fromzero {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_commands in _COMMAND_GROUPS:
        add_commands(subparsers)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> str:
    """Warnings as one line each: about the input as the package's own, others with their category."""
    prefix = "fromzero: warning" if issubclass(category, InputWarning) else category.__name__
    return f"{prefix}: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    warnings.formatwarning = _one_line_warning  # a warning about the input is one line, like an error
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except InputError as error:
        print(f"fromzero: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ScaleUnavailableError as error:
        print(f"fromzero: error: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:
        outcome = getattr(args, "interrupted", "nothing was written")
        print(f"fromzero: interrupted: {outcome}", file=sys.stderr)
        return EXIT_INTERRUPTED
