"""Bad input across every command, as a table: exit 2, one line naming the file or option, nothing changed.

Each case runs the command line in this process (``fromzero.cli.main``, the function ``python -m fromzero``
calls), so that seventy cases cost one import of torch. Before and after each case every file in the
workspace is hashed: a refused command must leave its inputs and any earlier output exactly as they were.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import file_digests

from fromzero.cli import main

SENTENCE = "the cat sat on the mat while the dog ate the bone and the bird sang"


@dataclass(frozen=True)
class Case:
    """One bad invocation: ``{w}`` in an argument is the workspace folder; ``named`` must all appear in the line."""

    name: str
    argv: tuple[str, ...]
    named: tuple[str, ...]
    stdin: bytes | None = None


def case(name: str, command: str, *named: str, stdin: bytes | None = None) -> Case:
    return Case(name, tuple(command.split()), named, stdin)


CLASSIFY = "finetune classify --model small --train {w}/train.tsv --eval {w}/eval.tsv"
NER = "finetune ner --model small --train {w}/train.conll --eval {w}/eval.conll"
SGNS = "embed train --method sgns --corpus {w}/corpus.txt --out {w}/vectors.txt"
GPT = "pretrain gpt --corpus {w}/corpus.txt --out {w}/run"
BERT = "pretrain bert --corpus {w}/corpus.txt --out {w}/run"

CASES = [
    # the command line itself
    case("unknown command", "embedd", "invalid choice: 'embedd'"),
    case("unknown option", "data check {w}/corpus.txt --colour red", "--colour"),
    case("unknown device", "device --device tpu", "tpu"),
    case("missing CUDA", "device --device cuda", "cuda"),
    # data check
    case("check: missing file", "data check {w}/missing.txt", "missing.txt"),
    case("check: a folder", "data check {w}/folder", "folder"),
    case("check: empty file", "data check {w}/empty.txt", "empty.txt"),
    case("check: NUL bytes", "data check {w}/nul.txt", "nul.txt", "NUL"),
    case("check: not UTF-8", "data check {w}/latin1.txt", "latin1.txt", "UTF-8"),
    case("check: unknown format", "data check {w}/corpus.txt --format csv", "--format"),
    case("check: TSV without label", "data check {w}/no_label.tsv --format tsv", "no_label.tsv", "label"),
    case("check: TSV duplicated column", "data check {w}/twice.tsv --format tsv", "twice.tsv", "text"),
    case("check: TSV with CR line ends, no label", "data check {w}/cr.tsv --format tsv", "cr.tsv", "label"),
    case("check: CoNLL space in token", "data check {w}/spaced.conll --format conll", "spaced.conll", "space"),
    case("check: CoNLL bad tag", "data check {w}/badtag.conll --format conll", "badtag.conll", "X-PER"),
    # embed train: options
    case("embed: unknown method", "embed train --method bow --corpus {w}/corpus.txt --out {w}/v.txt", "--method"),
    case("embed: missing method", "embed train --corpus {w}/corpus.txt --out {w}/v.txt", "--method"),
    case("embed: dim 0", f"{SGNS} --dim 0", "--dim"),
    case("embed: dim not a number", f"{SGNS} --dim ten", "--dim", "'ten'"),
    case("embed: dim too large", f"{SGNS} --dim 100000000000", "dim 100,000,000,000", "memory"),
    case("embed: glove dim too large", f"{SGNS.replace('sgns', 'glove')} --dim 100000000000", "dim", "memory"),
    case("embed: fasttext dim too large", f"{SGNS.replace('sgns', 'fasttext')} --dim 100000000000", "dim",
         "memory"),
    case("embed: window 0", f"{SGNS} --window 0", "--window"),
    case("embed: negative -1", f"{SGNS} --negative -1", "--negative"),
    case("embed: sgns without negatives", f"{SGNS} --negative 0", "negative"),
    case("embed: min-count 0", f"{SGNS} --min-count 0", "--min-count"),
    case("embed: min-count above every count", f"{SGNS} --min-count 100000", "min_count"),
    case("embed: subsample -1", f"{SGNS} --subsample -1", "--subsample"),
    case("embed: lr 0", f"{SGNS} --lr 0", "--lr"),
    case("embed: lr nan", f"{SGNS} --lr nan", "--lr"),
    case("embed: lr negative", f"{SGNS} --lr -1e-5", "--lr", "positive"),
    case("embed: seed -1", f"{SGNS} --seed -1", "--seed"),
    case("embed: seed 1e23", f"{SGNS} --seed 1e23", "--seed"),
    case("embed: epochs 0", f"{SGNS} --epochs 0", "--epochs"),
    case("embed: workers 0", f"{SGNS} --workers 0", "--workers"),
    case("embed: batch-size 0", f"{SGNS} --batch-size 0", "--batch-size"),
    case("embed: device tpu", f"{SGNS} --device tpu", "tpu"),
    # embed train: files
    case("embed: missing corpus", "embed train --method sgns --corpus {w}/missing.txt --out {w}/v.txt",
         "missing.txt"),
    case("embed: empty corpus", "embed train --method sgns --corpus {w}/empty.txt --out {w}/v.txt", "empty.txt"),
    case("embed: NUL corpus", "embed train --method sgns --corpus {w}/nul.txt --out {w}/v.txt", "nul.txt"),
    case("embed: corpus a folder", "embed train --method sgns --corpus {w}/folder --out {w}/v.txt", "folder"),
    case("embed: out is the corpus", "embed train --method sgns --corpus {w}/corpus.txt --out {w}/corpus.txt",
         "--out", "--corpus"),
    case("embed: out is a folder", "embed train --method sgns --corpus {w}/corpus.txt --out {w}/folder",
         "--out", "folder"),
    case("embed: out in a missing folder", "embed train --method sgns --corpus {w}/corpus.txt --out {w}/no/v.txt",
         "--out", "does not exist"),
    # embed evaluate
    case("evaluate: missing file", "embed evaluate {w}/missing.txt", "missing.txt"),
    case("evaluate: empty file", "embed evaluate {w}/empty.txt", "empty.txt"),
    case("evaluate: NaN vector", "embed evaluate {w}/nan_vectors.txt", "nan_vectors.txt", "finite"),
    case("evaluate: word twice", "embed evaluate {w}/twice_vectors.txt", "twice_vectors.txt", "'cat'"),
    case("evaluate: short row", "embed evaluate {w}/short_vectors.txt", "short_vectors.txt"),
    case("evaluate: rows missing", "embed evaluate {w}/few_vectors.txt", "few_vectors.txt"),
    case("evaluate: not numbers", "embed evaluate {w}/word_vectors.txt", "word_vectors.txt"),
    case("evaluate: NUL bytes", "embed evaluate {w}/nul.txt", "nul.txt"),
    # pretrain
    case("pretrain: unknown kind", "pretrain t5 --corpus {w}/corpus.txt --out {w}/run", "t5"),
    case("pretrain: missing corpus", "pretrain gpt --corpus {w}/missing.txt --out {w}/run", "missing.txt"),
    case("pretrain: empty corpus", "pretrain gpt --corpus {w}/empty.txt --out {w}/run", "empty.txt"),
    case("pretrain: NUL corpus", "pretrain bert --corpus {w}/nul.txt --out {w}/run", "nul.txt"),
    case("pretrain: missing eval corpus", f"{GPT} --eval-corpus {{w}}/missing.txt", "missing.txt"),
    case("pretrain: out is the corpus", "pretrain gpt --corpus {w}/corpus.txt --out {w}/corpus.txt",
         "corpus.txt", "not a directory"),
    case("pretrain: context 0", f"{GPT} --context 0", "--context"),
    case("pretrain: context too large", f"{GPT} --context 1000000000", "context 1,000,000,000", "memory"),
    case("pretrain: dim too large", f"{BERT} --dim 10000000", "dim 10,000,000", "memory"),
    case("pretrain: heads do not divide dim", f"{GPT} --dim 64 --heads 3", "--dim", "--heads"),
    case("pretrain: odd head width with rotary", f"{GPT} --dim 12 --heads 4", "rotary", "even"),
    case("pretrain: dropout 1", f"{GPT} --dropout 1", "--dropout"),
    case("pretrain: max-minutes 0.001", f"{GPT} --max-minutes 0.001", "--max-minutes"),
    case("pretrain: seed -1", f"{BERT} --seed -1", "--seed"),
    case("pretrain: vocab-size 0", f"{GPT} --vocab-size 0", "--vocab-size"),
    case("pretrain: lr negative", f"{GPT} --lr -1e-5", "--lr", "positive"),
    case("pretrain: warm-up negative", f"{GPT} --warmup-steps -5", "--warmup-steps"),
    case("pretrain: eval stride above context", f"{GPT} --context 32 --eval-stride 64", "--eval-stride"),
    case("pretrain: mask probability 1", f"{BERT} --mask-probability 1", "--mask-probability"),
    case("pretrain: unknown optimizer", f"{GPT} --optimizer sgd", "--optimizer"),
    case("pretrain: corrupt run.json", "pretrain gpt --corpus {w}/corpus.txt --out {w}/corrupt_run", "run.json"),
    # finetune
    case("finetune: missing model folder", "finetune classify --model {w}/nowhere/ --train {w}/train.tsv "
         "--eval {w}/eval.tsv", "no such model folder"),
    case("finetune: missing train", "finetune classify --model small --train {w}/missing.tsv --eval {w}/eval.tsv",
         "missing.tsv"),
    case("finetune: train without label", "finetune classify --model small --train {w}/no_label.tsv "
         "--eval {w}/eval.tsv", "no_label.tsv", "label"),
    case("finetune: duplicated column", "finetune classify --model small --train {w}/twice.tsv --eval {w}/eval.tsv",
         "twice.tsv"),
    case("finetune: NUL train", "finetune classify --model small --train {w}/nul.txt --eval {w}/eval.tsv",
         "nul.txt"),
    case("finetune: unseen eval label", "finetune classify --model small --train {w}/train.tsv "
         "--eval {w}/unseen_label.tsv", "unseen_label.tsv", "'neutral'"),
    case("finetune: freeze bottom", f"{CLASSIFY} --freeze bottom", "--freeze", "top:N"),
    case("finetune: lora with freeze", f"{CLASSIFY} --lora --freeze top:2", "--lora"),
    case("finetune: epochs 0", f"{CLASSIFY} --epochs 0", "--epochs"),
    case("finetune: max-length 1000", f"{CLASSIFY} --max-length 1000", "max_length 1000"),
    case("finetune: lr 0", f"{CLASSIFY} --lr 0", "--lr"),
    case("finetune: output is the train file", f"{CLASSIFY} --output {{w}}/train.tsv", "--output", "--train"),
    case("finetune: output is a file", f"{CLASSIFY} --output {{w}}/corpus.txt", "--output", "is a file"),
    case("finetune: output is the model", "finetune classify --model {w}/fake_model --train {w}/train.tsv "
         "--eval {w}/eval.tsv --output {w}/fake_model", "--output", "--model"),
    case("ner: space in a token", "finetune ner --model small --train {w}/spaced.conll --eval {w}/eval.conll",
         "spaced.conll", "space"),
    case("ner: bad tag", "finetune ner --model small --train {w}/badtag.conll --eval {w}/eval.conll",
         "badtag.conll"),
    case("ner: unseen eval tag", "finetune ner --model small --train {w}/train.conll --eval {w}/unseen_tag.conll",
         "unseen_tag.conll", "'ORG'"),
    case("ner: epochs 0", f"{NER} --epochs 0", "--epochs"),
    # predict
    case("predict: missing folder", "predict --model {w}/nowhere hello", "nowhere"),
    case("predict: no config.json", "predict --model {w}/folder hello", "config.json"),
    case("predict: cut-short weights", "predict --model {w}/truncated_model hello", "truncated_model", "safetensors"),
    case("predict: pickled weights only", "predict --model {w}/pickled_model hello", "pickled_model",
         "no model.safetensors", ".bin"),
    case("predict: not UTF-8 on stdin", "predict --model {w}/fake_model", "standard input", "UTF-8",
         stdin=b"caf\xe9\n"),
    case("predict: batch-size 0", "predict --model {w}/fake_model --batch-size 0 hello", "--batch-size"),
]


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every file the cases read: good ones to pair with a bad option, and one bad file per problem."""
    w = tmp_path_factory.mktemp("bad-inputs")
    words = SENTENCE.split()
    sentences = [" ".join(words[i:] + words[:i]) for i in range(len(words))] * 20
    write(w / "corpus.txt", "\n".join(sentences) + "\n")
    write(w / "vectors.txt", "earlier output: must survive every refused run\n")
    write(w / "empty.txt", "")
    write(w / "nul.txt", b"\x00" * 64)
    write(w / "latin1.txt", "caf\xe9 au lait\n".encode("latin-1"))
    (w / "folder").mkdir()
    rows = "".join(f"{text}\t{label}\n" for text, label in
                   [("a great film", "positive"), ("a dull film", "negative")] * 4)
    write(w / "train.tsv", "text\tlabel\n" + rows)
    write(w / "eval.tsv", "text\tlabel\na fine film\tpositive\na bad film\tnegative\n")
    write(w / "unseen_label.tsv", "text\tlabel\na film\tneutral\n")
    write(w / "no_label.tsv", "text\tscore\na film\t3\n")
    write(w / "twice.tsv", "text\tlabel\ttext\na film\tpositive\tanother film\n")
    write(w / "cr.tsv", "text\tscore\r" + "a long film review\t3\r" * 200)
    write(w / "train.conll", "alice\tB-PER\nmet\tO\nbob\tB-PER\n\nparis\tB-LOC\nis\tO\nbig\tO\n")
    write(w / "eval.conll", "bob\tB-PER\nvisited\tO\nparis\tB-LOC\n")
    write(w / "unseen_tag.conll", "acme\tB-ORG\nsold\tO\n")
    write(w / "spaced.conll", "new york\tB-LOC\nis\tO\n")
    write(w / "badtag.conll", "alice\tX-PER\nmet\tO\n")
    write(w / "nan_vectors.txt", "2 3\ncat 0.1 0.2 0.3\ndog nan 0.2 0.3\n")
    write(w / "twice_vectors.txt", "2 3\ncat 0.1 0.2 0.3\ncat 0.3 0.2 0.1\n")
    write(w / "short_vectors.txt", "2 3\ncat 0.1 0.2 0.3\ndog 0.2 0.3\n")
    write(w / "few_vectors.txt", "5 3\ncat 0.1 0.2 0.3\ndog 0.3 0.2 0.1\n")
    write(w / "word_vectors.txt", "1 3\ncat a b c\n")
    write(w / "corrupt_run" / "run.json", '{"options": {"kind": "gp')
    write(w / "corrupt_run" / "tokenizer.json", "{}")
    classifier = json.dumps({"model_type": "bert", "architectures": ["BertForSequenceClassification"]})
    write(w / "fake_model" / "config.json", classifier)
    write(w / "truncated_model" / "config.json", classifier)
    write(w / "truncated_model" / "model.safetensors", b"\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":")
    write(w / "pickled_model" / "config.json", classifier)
    write(w / "pickled_model" / "pytorch_model.bin", b"\x80\x04not really a pickle")
    return w


def snapshot(folder: Path) -> dict[str, str]:
    """A hash of every file under ``folder``, by relative path (the run lock files left out)."""
    return file_digests(folder, ignore=frozenset({".lock"}))


def run_main(argv: list[str], stdin: bytes | None, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Exit status and standard error of ``python -m fromzero ARGV``, run in this process."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin or b""), encoding="utf-8"))
    error = io.StringIO()
    with contextlib.redirect_stderr(error), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    return code, error.getvalue()


@pytest.mark.parametrize("bad", CASES, ids=[bad.name for bad in CASES])
def test_bad_input_exits_2_with_one_line_and_changes_nothing(bad: Case, workspace: Path, monkeypatch) -> None:
    before = snapshot(workspace)
    argv = [argument.replace("{w}", str(workspace)) for argument in bad.argv]
    code, stderr = run_main(argv, bad.stdin, monkeypatch)
    lines = stderr.strip().splitlines()
    assert code == 2, stderr
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert len(lines[0]) < 400 + len(str(workspace)), "one short line, not the file's content"
    for fragment in bad.named:
        assert fragment in lines[0], lines[0]
    after = snapshot(workspace)
    assert after == before, f"changed: {sorted(set(after.items()) ^ set(before.items()))}"


def test_the_table_covers_every_command() -> None:
    commands = {bad.argv[0] if bad.argv[0] in ("device", "predict", "embedd") else " ".join(bad.argv[:2])
                for bad in CASES}
    assert {"data check", "embed train", "embed evaluate", "pretrain gpt", "pretrain bert", "finetune classify",
            "finetune ner", "predict", "device"} <= commands
    assert len(CASES) >= 60
