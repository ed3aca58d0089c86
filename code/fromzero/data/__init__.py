"""Corpora, the two scales, vocabularies and file readers: everything the book loads.

``small`` (the default) reads data that pip installs and works offline; ``full`` downloads the
datasets and checkpoints of the original papers. Set the scale with ``FROMZERO_SCALE=full`` or
:func:`set_scale`; every loader also takes ``scale=`` explicitly. ``data/README.md`` at the
repository root lists each dataset's source, size and licence.

The names below are imported on first use (PEP 562), so that a command which only reads a text file
does not pay for pandas and the loaders: ``from fromzero.data import read_sentences`` imports
``fromzero.data.readers`` and nothing else.
"""

from __future__ import annotations

from fromzero.lazy import lazy_getattr

_EXPORTS = {
    "ClassificationData": "splits",
    "NerData": "splits",
    "SCALES": "scale",
    "Vocabulary": "vocab",
    "causal_lm_checkpoint": "loaders",
    "classification_data": "loaders",
    "encoder_checkpoint": "loaders",
    "get_scale": "scale",
    "instruct_lm_checkpoint": "loaders",
    "load_bbc_news": "sources",
    "load_glove_50d": "sources",
    "load_google_analogies": "sources",
    "load_lee_background": "sources",
    "load_ner_tweets": "sources",
    "load_simlex999": "sources",
    "load_wiki_sample": "sources",
    "load_wordsim353": "sources",
    "minilm_path": "sources",
    "ner_data": "loaders",
    "random_split": "splits",
    "read_conll": "readers",
    "read_sentences": "readers",
    "read_tsv": "readers",
    "require_network": "scale",
    "set_scale": "scale",
    "smollm2_gguf_path": "sources",
    "stratified_split": "splits",
    "text_corpus": "loaders",
    "tokenize_simple": "text",
    "word_vectors": "loaders",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, _EXPORTS)
