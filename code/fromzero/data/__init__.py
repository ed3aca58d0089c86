"""Corpora, the two scales, vocabularies and file readers: everything the book loads.

``small`` (the default) reads data that pip installs and works offline; ``full`` downloads the
datasets and checkpoints of the original papers. Set the scale with ``FROMZERO_SCALE=full`` or
:func:`set_scale`; every loader also takes ``scale=`` explicitly. ``data/README.md`` at the
repository root lists each dataset's source, size and licence.
"""

from fromzero.data.loaders import (
    causal_lm_checkpoint,
    classification_data,
    distilled_encoder_checkpoint,
    encoder_checkpoint,
    ner_data,
    sentiment_data,
    text_corpus,
    word_vectors,
)
from fromzero.data.readers import read_conll, read_sentences, read_tsv
from fromzero.data.scale import SCALES, get_scale, require_network, set_scale
from fromzero.data.sources import (
    load_bbc_news,
    load_glove_50d,
    load_google_analogies,
    load_lee_background,
    load_ner_tweets,
    load_pang_lee_polarity,
    load_simlex999,
    load_vader_lexicon,
    load_wiki_sample,
    load_wordsim353,
    minilm_path,
)
from fromzero.data.splits import ClassificationData, NerData, random_split, stratified_split
from fromzero.data.text import tokenize_simple
from fromzero.data.vocab import Vocabulary

__all__ = [
    "SCALES",
    "ClassificationData",
    "NerData",
    "Vocabulary",
    "causal_lm_checkpoint",
    "classification_data",
    "distilled_encoder_checkpoint",
    "encoder_checkpoint",
    "get_scale",
    "load_bbc_news",
    "load_glove_50d",
    "load_google_analogies",
    "load_lee_background",
    "load_ner_tweets",
    "load_pang_lee_polarity",
    "load_simlex999",
    "load_vader_lexicon",
    "load_wiki_sample",
    "load_wordsim353",
    "minilm_path",
    "ner_data",
    "random_split",
    "read_conll",
    "read_sentences",
    "read_tsv",
    "require_network",
    "sentiment_data",
    "set_scale",
    "stratified_split",
    "text_corpus",
    "tokenize_simple",
    "word_vectors",
]
