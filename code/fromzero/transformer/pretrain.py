"""Pretraining a tiny GPT or BERT from a plain text file: the recipe behind ``python -m fromzero pretrain``.

The steps, each a function that notebooks can call on their own:

1. read and check the corpus (:func:`~fromzero.transformer.corpus.read_corpus`), hold out its last
   5 % when no evaluation text is given (:func:`~fromzero.transformer.corpus.split_holdout`);
2. train a tokeniser on the training text and cut the token stream into training examples
   (:mod:`fromzero.transformer.examples`);
3. train with the book's loop, :func:`fromzero.train.fit`, for ``max_steps`` steps, or until a
   deadline that leaves time for the final score within ``max_minutes``: the learning rate then
   follows the clock, warming up for the first steps and decaying to zero at the deadline;
4. score the held-out text in bits per character (:mod:`fromzero.transformer.scoring`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from fromzero.batches import count_units
from fromzero.checkpoint import load_checkpoint, newest_checkpoint
from fromzero.device import autocast_dtype, describe_device, require_memory
from fromzero.distributed import from_main_process, is_main_process, setup_distributed
from fromzero.errors import InputError
from fromzero.files import lock_folder, read_json, write_atomically
from fromzero.history import History
from fromzero.train import TrainConfig, evaluate, fit
from fromzero.transformer.bert import BertConfig, TinyBERT, bert_pretraining_loss
from fromzero.transformer.corpus import read_corpus, split_holdout
from fromzero.transformer.examples import (
    BertTokens,
    MLMCollator,
    TokenWindows,
    bert_examples,
    encode_stream,
    encode_with_lengths,
    hf_tokenizers,
    train_byte_bpe,
    train_wordpiece,
)
from fromzero.transformer.gpt import GPTConfig, TinyGPT, causal_lm_loss, count_parameters
from fromzero.transformer.options import PretrainOptions
from fromzero.transformer.scoring import bert_scores, gpt_scores, predicted_characters

UNLIMITED_EPOCHS = 1_000_000
MAX_WARMUP_STEPS = 200  # warm-up: 10 % of the steps, at most this many (all of it in a time-limited run)
EVALUATIONS = 5  # in-training evaluations (for the curve), evenly spaced in steps or in time
MONITOR_BATCHES = 8  # evaluation batches used for the curve during training; the final score uses all


@dataclass
class Prepared:
    """The data of a run, ready for :func:`fit`."""

    tokenizer: Any
    model: nn.Module
    loss_fn: Callable[[nn.Module, Any], torch.Tensor]
    train_data: Any
    monitor_data: list[Any]
    score: Callable[[nn.Module], dict[str, float]]
    train_characters: int
    eval_characters: int
    train_tokens: int
    score_passes: float = 1.0  # how many times the final score reads each evaluation token


def prepare(options: PretrainOptions, train_text: str, eval_text: str, tokenizer: Any | None = None) -> Prepared:
    """Train (or reuse) the tokeniser, encode both texts, build the examples and the model (seeded)."""
    tokenizer = tokenizer or train_tokenizer(options, train_text)
    torch.manual_seed(options.seed)
    if options.kind == "gpt":
        return _prepare_gpt(options, train_text, eval_text, tokenizer)
    return _prepare_bert(options, train_text, eval_text, tokenizer)


def train_tokenizer(options: PretrainOptions, train_text: str) -> Any:
    """The model kind's tokeniser, trained on ``train_text``: byte-level BPE for a GPT, WordPiece for a BERT."""
    lines = train_text.splitlines(keepends=True)
    train = train_byte_bpe if options.kind == "gpt" else train_wordpiece
    return train(lines, options.vocab_size)


def _prepare_gpt(options: PretrainOptions, train_text: str, eval_text: str, tokenizer: Any) -> Prepared:
    train_ids, eval_ids = encode_stream(tokenizer, train_text), encode_stream(tokenizer, eval_text)
    config = GPTConfig(
        vocab_size=tokenizer.get_vocab_size(),
        context_length=options.context,
        d_model=options.dim,
        n_layers=options.layers,
        n_heads=options.heads,
        dropout=options.dropout,
        positions=options.positions,
        attention=options.attention,
    )
    stride = options.eval_stride or max(1, options.context // 2)
    eval_windows = TokenWindows(eval_ids, options.context)
    size = options.batch_size
    monitor = [
        _stack([eval_windows[i] for i in range(start, min(start + size, len(eval_windows)))])
        for start in range(0, min(len(eval_windows), MONITOR_BATCHES * size), size)
    ]
    return Prepared(
        tokenizer,
        TinyGPT(config),
        causal_lm_loss,
        TokenWindows(train_ids, options.context),
        monitor,
        lambda model: gpt_scores(
            model, eval_ids, predicted_characters(tokenizer, eval_ids, eval_text), batch_size=4 * size, stride=stride
        ),
        len(train_text),
        len(eval_text),
        len(train_ids),
        options.context / stride,
    )


def _prepare_bert(options: PretrainOptions, train_text: str, eval_text: str, tokenizer: Any) -> Prepared:
    from fromzero.batches import make_loader

    tokens = BertTokens.from_tokenizer(tokenizer)
    train_ids, train_lengths = encode_with_lengths(tokenizer, train_text)
    eval_ids, eval_lengths = encode_with_lengths(tokenizer, eval_text)
    config = BertConfig(
        vocab_size=tokens.vocab_size,
        max_len=options.context,
        d_model=options.dim,
        n_layers=options.layers,
        n_heads=options.heads,
        dropout=options.dropout,
        nsp=options.nsp,
        positions=options.positions,
        attention=options.attention,
    )
    model = TinyBERT(config)
    most_frequent = int(np.bincount(train_ids, minlength=tokens.vocab_size).argmax())
    examples = bert_examples(train_ids, train_lengths, tokens, options.context, nsp=options.nsp, seed=options.seed)
    held_out = bert_examples(eval_ids, eval_lengths, tokens, options.context, nsp=options.nsp, seed=options.seed + 1)
    fixed_masks = MLMCollator(tokens, generator=torch.Generator().manual_seed(options.seed + 1))
    size = options.batch_size
    eval_batches = [fixed_masks(held_out[start : start + size]) for start in range(0, len(held_out), size)]
    loader = make_loader(
        examples, size, seed=options.seed, collate_fn=MLMCollator(tokens, probability=options.mask_probability)
    )
    return Prepared(
        tokenizer,
        model,
        bert_pretraining_loss,
        loader,
        eval_batches[:MONITOR_BATCHES],
        lambda trained: bert_scores(trained, eval_batches, mask_id=tokens.mask, most_frequent=most_frequent),
        len(train_text),
        len(eval_text),
        len(train_ids),
    )


def _stack(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.stack([x for x, _ in pairs]), torch.stack([y for _, y in pairs])


def steps_per_epoch(train_data: Any, batch_size: int) -> int:
    """Optimizer steps in one pass over the data (a loader knows; a Dataset is batched by ``fit``)."""
    if isinstance(train_data, Dataset):
        return math.ceil(len(train_data) / batch_size)
    return len(train_data)


def time_scoring(model: nn.Module, prepared: Prepared, device: torch.device) -> float:
    """Seconds for one in-training evaluation (the monitor batches)."""
    started = time.perf_counter()
    evaluate(model.to(device), prepared.monitor_data, prepared.loss_fn, device, dtype=autocast_dtype("auto", device))
    return time.perf_counter() - started


def _final_score_seconds(monitor_seconds: float, prepared: Prepared) -> float:
    """The final evaluation's time, from one monitor evaluation scaled by the size of the text, plus half.

    The extra half covers what the scaling misses: measured on 8 CPU minutes of the benchmark, the
    final score took up to 1.4 times the scaled estimate (it runs after training, on a machine that
    may have slowed down), so that a run with a time limit ends inside it.
    """
    monitored = sum(count_units(batch, "tokens") for batch in prepared.monitor_data)
    eval_tokens = prepared.eval_characters * prepared.train_tokens / max(prepared.train_characters, 1)
    return 1.5 * monitor_seconds * max(1.0, prepared.score_passes * eval_tokens / max(monitored, 1))


@dataclass
class PretrainResult:
    """What a run produced: the model (trained in place), its tokenizer, the history and the scores."""

    model: nn.Module
    tokenizer: Any
    history: History
    scores: dict[str, float]
    summary: dict[str, Any]


def pretrain(
    options: PretrainOptions, log: Callable[[str], None] = print, *, started: float | None = None
) -> PretrainResult:
    """Run the whole recipe (see the module docstring); files go under ``options.out``.

    ``options.max_minutes`` counts from ``started`` (a ``time.perf_counter()`` value; default: now),
    so that the command line can count its own start-up, the import of torch included.

    ``out`` receives ``tokenizer.json``, ``model.json`` (kind and shape), ``run.json`` (the options
    and its limits) and ``checkpoints/``. Running the same command again with the same ``out`` resumes
    from the newest checkpoint, with the tokenizer read back instead of made again; a run limited by
    steps then ends with exactly the weights an uninterrupted run would have had (on the CPU).
    """
    started = time.perf_counter() if started is None else started
    device, rank, world = setup_distributed(options.device)  # under torchrun: one process per device, through DDP
    log = log if rank == 0 else _silent
    _check_memory(options, device)
    text = read_corpus(options.corpus)
    if options.eval_corpus is not None:
        train_text, eval_text = text, read_corpus(options.eval_corpus)
    else:
        train_text, eval_text = split_holdout(text)
    out = Path(options.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    with _lock_on_main(out):  # released however training ends
        return _pretrain_in(out, options, device, world, train_text, eval_text, started, log)


def _silent(_: str) -> None:
    """The log of every process but the first under ``torchrun``: one report per run."""


def _lock_on_main(out: Path) -> AbstractContextManager:
    """``out`` locked by process 0, which alone writes there; every process stops if the lock is refused."""
    lock, problem = nullcontext(), None
    if is_main_process():
        try:
            lock = lock_folder(out, "--out")
        except InputError as error:
            problem = str(error)
    problem = from_main_process(problem)
    if problem is not None:
        raise InputError(problem)
    return lock


def _pretrain_in(
    out: Path,
    options: PretrainOptions,
    device: torch.device,
    world: int,
    train_text: str,
    eval_text: str,
    started: float,
    log: Callable[[str], None],
) -> PretrainResult:
    """The run itself, in ``out``, which process 0 holds locked and alone writes to.

    Under ``torchrun`` process 0 decides what every process must share (the run being resumed, the
    tokeniser, the deadline) and passes it on: nothing is trusted to come out the same twice.
    """
    main = is_main_process()
    previous = from_main_process(_previous_run(out, options) if main else None)
    tokenizer = None
    if main:
        tokenizer = _read_tokenizer(out / "tokenizer.json") if previous else train_tokenizer(options, train_text)
    if world > 1:  # the others rebuild process 0's tokeniser from its JSON
        tokenizer = hf_tokenizers().Tokenizer.from_str(from_main_process(tokenizer.to_str() if main else None))
    prepared = prepare(options, train_text, eval_text, tokenizer)
    model = prepared.model
    log(
        f"corpus: {len(train_text):,} training and {len(eval_text):,} evaluation characters; "
        f"{prepared.train_tokens:,} training tokens ({len(train_text) / max(prepared.train_tokens, 1):.2f} characters "
        f"per token, vocabulary {prepared.tokenizer.get_vocab_size():,})"
    )
    log(f"model: {options.kind}, {count_parameters(model):,} parameters, on {describe_device(device)}")
    newest = newest_checkpoint(out / "checkpoints") if previous else None
    if newest is not None:
        log(f"resuming from step {newest[0]:,} ({newest[1].name})")
    if options.compile:
        model.compile()
    per_epoch = math.ceil(steps_per_epoch(prepared.train_data, options.batch_size) / world)  # a process reads 1/world
    config = TrainConfig(
        batch_size=options.batch_size,
        lr=options.lr,
        optimizer=options.optimizer,
        muon_lr=options.muon_lr,
        weight_decay=0.1,
        schedule="cosine",
        checkpoint_dir=str(out / "checkpoints"),
        keep_checkpoints=2,
        seed=options.seed,
        device=str(device),
        progress=options.progress,
        throughput="tokens",
    )
    max_steps, epochs = _step_limits(options, per_epoch)
    deadline = from_main_process(_deadline(options, prepared, torch.device(config.device), started))
    config = replace(config, epochs=epochs, max_steps=max_steps, **_cadence(options, max_steps, deadline))
    if main:
        out.mkdir(parents=True, exist_ok=True)
        write_atomically(out / "tokenizer.json", prepared.tokenizer.to_str())
        model_json = {"kind": options.kind, "config": model.config.to_dict()}
        write_atomically(out / "model.json", json.dumps(model_json, indent=2))
        run = {"options": _comparable(options), "max_steps": max_steps, "max_seconds": deadline, "epochs": epochs}
        write_atomically(out / "run.json", json.dumps(run, indent=2))
    limits = [f"{max_steps:,} steps ({max_steps / per_epoch:.2f} epochs)"] if max_steps is not None else []
    limits += [f"{deadline:.0f} seconds"] if deadline is not None else []
    log(
        f"training: {' or '.join(limits)} of {options.batch_size} x {options.context} tokens, "
        f"checkpoints in {out / 'checkpoints'}"
    )
    history = fit(model, prepared.train_data, prepared.loss_fn, config, eval_data=prepared.monitor_data)
    scores = prepared.score(model)
    summary = {
        "model": options.kind,
        "parameters": count_parameters(model),
        "vocab_size": prepared.tokenizer.get_vocab_size(),
        "steps": history.steps[-1] if history.steps else 0,
        "train_seconds": round(history.seconds, 2),
        "tokens_per_second": round(float(np.median(history.throughput)), 1) if history.throughput else 0.0,
        "total_seconds": round(time.perf_counter() - started, 2),
        "eval_loss": scores["loss"],
        "eval_perplexity": scores["perplexity"],
        "eval_bits_per_char": scores["bits_per_char"],
        "eval_tokens": scores["tokens"],
        "eval_characters": scores["characters"],
        **{f"eval_{name}": value for name, value in scores.items() if name.endswith("accuracy")},
        "out": str(out),
    }
    return PretrainResult(model, prepared.tokenizer, history, scores, summary)


def _check_memory(options: PretrainOptions, device: torch.device) -> None:
    """Refuse sizes that cannot fit before the corpus is read: a floor, from the blocks and one batch alone.

    Each block holds about 12 d_model² weights; training keeps four numbers per weight (the weight, its
    gradient and AdamW's two moments), and the forward pass keeps at least four activations of
    batch x context x d_model per block for the backward pass.
    """
    weights = options.layers * 12 * options.dim**2
    activations = 4 * options.layers * options.batch_size * options.context * options.dim
    require_memory(4 * (4 * weights + activations),
                   f"a {options.kind} of {options.layers} layers x dim {options.dim:,} with context "
                   f"{options.context:,} and batch size {options.batch_size:,}", device)


def _comparable(options: PretrainOptions) -> dict[str, Any]:
    """The options that must match for a run to resume another (not the limits, device or display)."""
    ignored = {"max_steps", "max_minutes", "epochs", "device", "progress", "compile", "out", "eval_stride"}
    return {key: value for key, value in asdict(options).items() if key not in ignored}


def _previous_run(out: Path, options: PretrainOptions) -> dict[str, Any] | None:
    """The run.json of an earlier run in ``out`` that this one resumes, or None for a fresh start."""
    run_file = out / "run.json"
    if not run_file.exists() or not (out / "tokenizer.json").exists():
        return None
    run = read_json(run_file, keys=("options",))
    if run["options"] != _comparable(options):
        changed = sorted(key for key, value in _comparable(options).items() if run["options"].get(key) != value)
        raise InputError(
            f"{out} holds a run with other options ({', '.join(changed)}): use another --out to start afresh"
        )
    return run


def _step_limits(options: PretrainOptions, per_epoch: int) -> tuple[int | None, int]:
    """``(max_steps, epochs)``: one epoch by default; as many as the steps or the clock allow when either is set."""
    epochs = options.epochs or (1 if options.max_steps is None and options.max_minutes is None else UNLIMITED_EPOCHS)
    if options.max_steps is None and options.max_minutes is not None:
        return None, epochs  # the deadline ends training
    steps = epochs * per_epoch if options.max_steps is None else min(options.max_steps, epochs * per_epoch)
    return steps, epochs


def _deadline(options: PretrainOptions, prepared: Prepared, device: torch.device, started: float) -> float | None:
    """Seconds that training may take so that the whole run, final score included, ends within ``max_minutes``.

    The final score's time is estimated from one timed in-training evaluation.
    """
    if options.max_minutes is None:
        return None
    final_seconds = _final_score_seconds(time_scoring(prepared.model, prepared, device), prepared)
    seconds_left = options.max_minutes * 60 - (time.perf_counter() - started)
    return max(1.0, seconds_left - final_seconds)


def _cadence(options: PretrainOptions, max_steps: int | None, deadline: float | None) -> dict[str, Any]:
    """Warm-up, evaluations and checkpoints: by steps when the step count is known, else by the clock.

    With a deadline the learning rate follows the clock (``TrainConfig.schedule_to_deadline``): its cosine
    decay reaches zero when time runs out, however many steps the machine managed by then.
    """
    warmup = MAX_WARMUP_STEPS if max_steps is None else min(MAX_WARMUP_STEPS, max(1, max_steps // 10))
    cadence: dict[str, Any] = {
        "warmup_steps": options.warmup_steps if options.warmup_steps is not None else warmup,
        "max_seconds": deadline,
        "schedule_to_deadline": deadline is not None,
    }
    if max_steps is not None:
        every = max(1, max_steps // EVALUATIONS)
        return {**cadence, "eval_every": every, "checkpoint_every": every}
    return {**cadence, "eval_every_seconds": deadline / EVALUATIONS, "checkpoint_every_seconds": deadline / EVALUATIONS}


def load_pretrained(directory: str | Path) -> tuple[nn.Module, Any]:
    """The model and tokenizer that ``pretrain`` left in ``directory`` (newest checkpoint)."""
    directory = Path(directory)
    model_file = directory / "model.json"
    if not model_file.exists():
        raise InputError(f"{directory}: no model.json; is this a folder written by 'python -m fromzero pretrain'?")
    description = read_json(model_file, keys=("kind", "config"))
    model: nn.Module
    try:
        if description["kind"] == "gpt":
            model = TinyGPT(GPTConfig(**description["config"]))
        else:
            model = TinyBERT(BertConfig(**description["config"]))
    except (TypeError, ValueError) as error:
        raise InputError(f"{model_file}: not a model description fromzero wrote ({error})") from None
    load_checkpoint(directory / "checkpoints", model)
    return model.eval(), _read_tokenizer(directory / "tokenizer.json")


def _read_tokenizer(path: Path) -> Any:
    """The tokenizer saved in ``path``; a cut-short or foreign file is an InputError naming it."""
    try:
        return hf_tokenizers().Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises its own Exception subclass for every parse failure
        raise InputError(f"{path}: not a tokenizer file ({str(error).splitlines()[0]})") from None
