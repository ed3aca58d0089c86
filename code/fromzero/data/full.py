"""The full scale's data and checkpoints, downloaded from the Hugging Face hub (and gensim-data).

These are the datasets the original papers report on. Each loader first calls
:func:`~fromzero.data.scale.require_network`, so without a network it fails within seconds with a
message pointing back to the offline ``small`` scale; only then does it import ``datasets``
(``pip install 'fromzero[full]'``) and download, into the libraries' own caches
(``~/.cache/huggingface``, ``~/gensim-data``).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from fromzero.data.scale import require_network
from fromzero.data.splits import ClassificationData, NerData, tag_set
from fromzero.data.text import tokenized_sentences
from fromzero.errors import FromZeroError, InputError

WIKITEXT = ("Salesforce/wikitext", "wikitext-103-raw-v1")  # the hub's ``wikitext`` moved to Salesforce/
SST2 = "stanfordnlp/sst2"
CONLL2003 = "eriktks/conll2003"
# eriktks/conll2003 is a loading script, which datasets>=4 refuses to run; the hub's automatic
# Parquet export of the same data lives on this branch.
CONLL2003_REVISION = "refs/convert/parquet"
# The tag ids of the hub's CoNLL-2003, should the Parquet export not carry the feature names.
CONLL2003_TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
GLOVE_100D = "glove-wiki-gigaword-100"
BERT = "bert-base-uncased"
GPT2 = "gpt2"
SMOLLM2 = "HuggingFaceTB/SmolLM2-135M-Instruct"
# WikiText keeps the tokeniser's splits of "3.5", "1,000" and "well-known" as "3 @.@ 5" etc.
_WIKITEXT_JOIN = re.compile(r" @(.)@ ")


def load_wikitext103() -> list[list[str]]:
    """WikiText-103's training text (Merity et al., 2016), about 100 million tokens, as sentences.

    Headings are dropped and the text goes through the book's tokeniser, as the small corpus does.
    Tokens are interned (one string object per distinct word), which keeps the result near 1.5 GB
    of memory instead of several.
    """
    dataset = _hub_dataset("WikiText-103", *WIKITEXT, split="train")
    pool: dict[str, str] = {}
    sentences: list[list[str]] = []
    for batch in dataset.iter(batch_size=10_000):
        for line in batch["text"]:
            if line.strip() and not line.lstrip().startswith("="):
                for tokens in tokenized_sentences(_WIKITEXT_JOIN.sub(r"\1", line)):
                    sentences.append([pool.setdefault(token, token) for token in tokens])
    return sentences


def load_sst2() -> ClassificationData:
    """SST-2 (Socher et al., 2013): 67,349 training sentences; the 872 validation ones serve as test.

    The hub's test split has no labels, so it is not used.
    """
    dataset = _hub_dataset("SST-2", SST2)
    names = dataset["train"].features["label"].names
    train, test = (_frame(dataset[split], "sentence", names) for split in ("train", "validation"))
    return ClassificationData("sst2", train, test, sorted(set(names)))


def load_conll2003() -> NerData:
    """CoNLL-2003 English NER (Tjong Kim Sang & De Meulder, 2003): 14,041 training, 3,453 test sentences.

    Four entity types (PER, ORG, LOC, MISC); the validation split (3,250 sentences) is not used.
    """
    dataset = _hub_dataset("CoNLL-2003", CONLL2003, revision=CONLL2003_REVISION)
    feature = getattr(dataset["train"].features["ner_tags"], "feature", None)
    names = getattr(feature, "names", CONLL2003_TAGS)
    train, test = (_tagged(dataset[split], names) for split in ("train", "test"))
    return NerData("conll2003", train, test, tag_set(train + test))


def load_glove_100d(limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """GloVe 6B, 100 dimensions (400,000 words, ~128 MB download) through ``gensim.downloader``."""
    if limit is not None and limit < 1:
        raise InputError(f"limit must be a positive number of words, got {limit}")
    require_network(f"the {GLOVE_100D} vectors", host="github.com")
    import gensim.downloader

    vectors = gensim.downloader.load(GLOVE_100D)
    return list(vectors.index_to_key[:limit]), vectors.vectors[:limit]


def _hub_dataset(what: str, *args: Any, **kwargs: Any) -> Any:
    """``datasets.load_dataset(*args, **kwargs)``, after checking that the hub can be reached."""
    require_network(what)
    try:
        from datasets import load_dataset
    except ImportError:
        raise FromZeroError("the 'full' scale needs the datasets library: pip install 'fromzero[full]'") from None
    return load_dataset(*args, **kwargs)


def _frame(split: Any, text_column: str, names: list[str]) -> pd.DataFrame:
    """A hub split as a frame with ``text`` and string ``label`` columns."""
    table = split.to_pandas()
    return pd.DataFrame({"text": table[text_column].str.strip(), "label": [names[i] for i in table["label"]]})


def _tagged(split: Any, names: list[str]) -> list[tuple[list[str], list[str]]]:
    """A hub NER split as ``(tokens, tags)`` pairs with string tags."""
    return [(list(row["tokens"]), [names[tag] for tag in row["ner_tags"]]) for row in split]
