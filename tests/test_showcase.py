"""Chapters 9 and 10's command-line models: trained once per set of inputs, then read back from the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from fromzero.data.sources import load_bbc_news
from fromzero.errors import FromZeroError
from fromzero.transformer import showcase
from fromzero.transformer.corpus import HOLD_OUT_EVERY, pretraining_documents


@pytest.fixture()
def tiny_showcase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache of its own, a corpus of 30 news articles and 2 steps per model: the whole path in seconds."""
    articles = list(load_bbc_news()["text"].iloc[:30])
    train, held_out = tmp_path / "train.txt", tmp_path / "eval.txt"
    train.write_text("\n\n".join(articles[:27]), encoding="utf-8")
    held_out.write_text("\n\n".join(articles[27:]), encoding="utf-8")
    monkeypatch.setenv("FROMZERO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(showcase, "pretraining_corpus", lambda: (train, held_out))
    monkeypatch.setattr(showcase, "SHOWCASE_STEPS", {"bert": 2, "gpt": 2})
    return tmp_path / "cache"


def test_steps_grow_with_the_scale_and_on_a_gpu() -> None:
    small = showcase.showcase_steps("gpt", "small", "cpu")
    assert showcase.showcase_steps("gpt", "full", "cpu") == showcase.FULL_SCALE_FACTOR * small
    assert showcase.showcase_steps("gpt", "small", "cuda") == showcase.GPU_FACTOR * small
    with pytest.raises(FromZeroError, match="unknown model kind 'lstm'"):
        showcase.showcase_steps("lstm", "small", "cpu")


def test_a_model_is_trained_once_then_read_from_the_cache(
    tiny_showcase: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = showcase.command_line_model("gpt", device="cpu")
    assert first.summary["steps"] == 2 and first.summary["model"] == "gpt"
    assert first.command.startswith("python -m fromzero pretrain gpt") and "--max-steps 2" in first.command
    assert first.options["batch_size"] > 0 and first.options["positions"] == "rotary"  # the command's defaults
    assert first.model.config.vocab_size == first.tokenizer.get_vocab_size()

    def no_training(*args: object) -> None:
        raise AssertionError("trained again although the cache holds the run")

    monkeypatch.setattr(showcase, "_train", no_training)
    for lock in tiny_showcase.rglob("*.lock"):
        lock.unlink()
    before = {path: path.stat().st_mtime_ns for path in tiny_showcase.rglob("*")}
    again = showcase.command_line_model("gpt", device="cpu")
    # A finished run is only read, lock file included, so a class can share an instructor's cache read-only.
    assert {path: path.stat().st_mtime_ns for path in tiny_showcase.rglob("*")} == before
    assert again.directory == first.directory and again.summary == first.summary
    monkeypatch.setattr(showcase, "SHOWCASE_STEPS", {"bert": 2, "gpt": 3})  # another command: another key
    with pytest.raises(AssertionError, match="trained again"):
        showcase.command_line_model("gpt", device="cpu")


def test_a_failed_command_raises_with_its_error_and_leaves_no_run(tiny_showcase: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setattr(showcase, "pretraining_corpus", lambda: (empty, empty))
    with pytest.raises(FromZeroError, match=r"(?s)pretrain bert' failed:.*empty corpus"):
        showcase.command_line_model("bert", device="cpu")
    assert not list(tiny_showcase.glob("pretrained/*/summary.json"))


def test_the_pretraining_corpus_holds_out_chapter_10s_articles() -> None:
    documents = pretraining_documents()
    news = list(load_bbc_news().drop_duplicates("text")["text"])
    assert documents[: len(news)] == news  # news first, in chapter 10's order, so every 10th article is held out
    assert len(documents) > len(news) + 300 and HOLD_OUT_EVERY == 10  # then the Wikipedia sample and Lee corpus
    assert all(document.strip() for document in documents)
    assert "[[" not in "".join(documents[len(news):])  # wiki links stripped to their text
