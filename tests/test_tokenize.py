"""BPE and WordPiece: exact round trips, the merges they learn, saving and loading, and clear errors."""

from __future__ import annotations

import math
from collections import Counter
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fromzero.errors import InputError
from fromzero.tokenize import BPETokenizer, likelihood_gain
from fromzero.wordpiece import WordPieceTokenizer

CORPUS = [
    "The cat sat on the mat. The cats were sitting on the mats!",
    "Don't panic: it's 3.5 miles, not 1,000 -- O'Neill's well-known rule.",
    "Naïve café owners in Zürich serve crème brûlée; Ελληνικά and русский too.",
    "我爱自然语言处理。 Emoji 🙂 and tabs\tand\nnewlines.",
] * 3
TOY = "low " * 5 + "lower " * 2 + "newest " * 6 + "widest " * 3


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train(CORPUS, vocab_size=400)


@pytest.fixture(scope="module")
def wordpiece() -> WordPieceTokenizer:
    return WordPieceTokenizer.train(CORPUS, vocab_size=300)


# --- BPE ---------------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_bpe_round_trips_any_unicode_text(bpe: BPETokenizer, text: str) -> None:
    assert bpe.decode(bpe.encode(text)) == text


def test_bpe_pre_tokenizer_loses_no_character(bpe: BPETokenizer) -> None:
    for text in CORPUS:
        assert "".join(bpe.pre_tokenize(text)) == text


def test_bpe_first_merges_on_the_classic_toy_corpus() -> None:
    """low×5 lower×2 newest×6 widest×3: "es" and "est" (9 times) come first, then "lo" and "low" (7 times).

    The fifth merge is a tie at 6 between " low", " n", "ne", "ew" and "west"-like pairs; ties go to the
    pair whose bytes sort first, and a space sorts before every letter.
    """
    tokenizer = BPETokenizer.train([TOY], vocab_size=256 + 5, min_frequency=1)
    merges = [(tokenizer.token(left), tokenizer.token(right)) for left, right in tokenizer.merges]
    assert merges == [("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w"), ("Ġ", "low")]
    assert tokenizer.tokenize(" lowest") == ["Ġlow", "est"]


def merge_everywhere(words: Counter, pair: tuple, merged: object) -> Counter:
    """Every word with each left-to-right, non-overlapping occurrence of ``pair`` replaced by ``merged``."""
    new_words: Counter = Counter()
    for word, count in words.items():
        out, i = [], 0
        while i < len(word):
            if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                out.append(merged)
                i += 2
            else:
                out.append(word[i])
                i += 1
        new_words[tuple(out)] += count
    return new_words


def naive_merges(texts: list[str], n_merges: int, pattern: str) -> list[tuple[bytes, bytes]]:
    """The textbook algorithm: recount every pair after every merge. Slow, obviously right."""
    import re

    words = Counter(tuple(bytes([b]) for b in chunk.encode()) for t in texts for chunk in re.findall(pattern, t))
    merges = []
    for _ in range(n_merges):
        pairs: Counter[tuple[bytes, bytes]] = Counter()
        for word, count in words.items():
            for pair in pairwise(word):
                pairs[pair] += count
        if not pairs or max(pairs.values()) < 2:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        words = merge_everywhere(words, best, best[0] + best[1])
    return merges


def test_bpe_incremental_training_matches_full_recount() -> None:
    tokenizer = BPETokenizer.train(CORPUS, vocab_size=256 + 120)
    ours = [(tokenizer.vocab[left], tokenizer.vocab[right]) for left, right in tokenizer.merges]
    assert ours == naive_merges(CORPUS, 120, tokenizer.pattern)


def test_bpe_save_load_gives_an_equal_tokenizer(bpe: BPETokenizer, tmp_path: Path) -> None:
    path = tmp_path / "bpe.json"
    bpe.save(path)
    loaded = BPETokenizer.load(path)
    assert loaded == bpe
    assert loaded.vocab == bpe.vocab
    for text in CORPUS:
        assert loaded.encode(text) == bpe.encode(text)


def test_bpe_compresses_its_training_text(bpe: BPETokenizer) -> None:
    text = CORPUS[0]
    assert len(bpe.encode(text)) < len(text.encode("utf-8")) / 2


@pytest.mark.parametrize(
    ("texts", "message"),
    [([], "no text"), (["", "  \n"], "no text"), ("just one string", "list of texts"), ([b"bytes"], "string")],
)
def test_bpe_training_rejects_bad_texts(texts: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        BPETokenizer.train(texts, vocab_size=300)  # type: ignore[arg-type]


def test_bpe_errors_name_the_problem(bpe: BPETokenizer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least 256"):
        BPETokenizer.train(CORPUS, vocab_size=100)
    with pytest.raises(InputError, match="out of range"):
        bpe.decode([bpe.vocab_size])
    with pytest.raises(InputError, match="expected a string"):
        bpe.encode(["a", "list"])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="surrogate"):
        bpe.encode("lone \ud800 surrogate")
    with pytest.raises(InputError, match="no such tokenizer file"):
        BPETokenizer.load(tmp_path / "missing.json")
    wrong = tmp_path / "wordpiece.json"
    WordPieceTokenizer(["[UNK]", "a"]).save(wrong)
    with pytest.raises(InputError, match="not a fromzero-bpe file"):
        BPETokenizer.load(wrong)


def test_bpe_empty_text_encodes_to_nothing(bpe: BPETokenizer) -> None:
    assert bpe.encode("") == []
    assert bpe.decode([]) == ""


# --- WordPiece ---------------------------------------------------------------------------------------------------


def expected_wordpiece_round_trip(tokenizer: WordPieceTokenizer, text: str) -> str:
    """What WordPiece guarantees: the normalised words, one space apart, a word with an unseen character -> [UNK]."""
    alphabet = {token for token in tokenizer.vocab if len(token) == 1}
    words = tokenizer.pre_tokenize(text)
    return " ".join(word if set(word) <= alphabet and len(word) <= 100 else "[UNK]" for word in words)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("thecatsmonrwi .,!'\t\nÉéüß我爱Ω🙂xyzQ") | st.characters(), max_size=60))
def test_wordpiece_round_trip_modulo_normalisation_and_unknown_words(wordpiece: WordPieceTokenizer, text: str) -> None:
    assert wordpiece.decode(wordpiece.encode(text)) == expected_wordpiece_round_trip(wordpiece, text)


def test_wordpiece_never_needs_unk_for_words_of_known_characters(wordpiece: WordPieceTokenizer) -> None:
    text = "mats sat the cat; zürich naive cafe 我爱"
    assert wordpiece.unk_token not in wordpiece.tokenize(text)
    assert wordpiece.tokenize("the Q")[-1] == "[UNK]"  # "q" never occurs in the corpus


def test_wordpiece_greedy_longest_match_and_continuation_pieces() -> None:
    tokenizer = WordPieceTokenizer(["[UNK]", "un", "unaff", "##aff", "##able", "##a", "##ff", "a", "##b", "##l", "##e"])
    assert tokenizer.tokenize("unaffable") == ["unaff", "##able"]
    assert tokenizer.tokenize("Unaffable!") == ["unaff", "##able", "[UNK]"]  # "!" is a word of its own, unknown
    assert tokenizer.decode(tokenizer.encode("unaffable")) == "unaffable"


def test_wordpiece_training_learns_whole_frequent_words() -> None:
    tokenizer = WordPieceTokenizer.train([TOY], vocab_size=60, min_frequency=1)
    assert tokenizer.tokenize("newest lower widest low") == ["newest", "lower", "widest", "low"]
    assert tokenizer.tokenize("lowest") == ["low", "##est"]


def test_likelihood_gain_is_the_change_in_unigram_log_likelihood() -> None:
    def log_likelihood(counts: Counter[str]) -> float:
        total = sum(counts.values())
        return sum(c * math.log(c / total) for c in counts.values() if c)

    before = Counter({"a": 10, "b": 6, "c": 20})
    after = Counter({"a": 10 - 4, "b": 6 - 4, "c": 20, "ab": 4})  # 4 of the a-b neighbours merged
    gain = likelihood_gain(4, 10, 6, sum(before.values()))
    assert gain == pytest.approx(log_likelihood(after) - log_likelihood(before))
    same_after = Counter({"a": 10 - 2 * 3, "b": 6, "c": 20, "aa": 3})
    same_gain = likelihood_gain(3, 10, 10, sum(before.values()), same=True)
    assert same_gain == pytest.approx(log_likelihood(same_after) - log_likelihood(before))


def naive_wordpiece_vocab(texts: list[str], vocab_size: int) -> list[str]:
    """Recompute every pair's likelihood gain after every merge: slow, obviously right."""
    helper = WordPieceTokenizer(["[UNK]"])
    words = Counter(tuple([w[0], *("##" + c for c in w[1:])]) for t in texts for w in helper.pre_tokenize(t))
    alphabet = sorted({c for word in words for c in "".join(s.removeprefix("##") for s in word)})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *alphabet, *("##" + c for c in alphabet)]
    while len(vocab) < vocab_size:
        pairs: Counter[tuple[str, str]] = Counter()
        symbols: Counter[str] = Counter()
        for word, count in words.items():
            for symbol in word:
                symbols[symbol] += count
            for pair in pairwise(word):
                pairs[pair] += count
        pairs = Counter({pair: count for pair, count in pairs.items() if count >= 2})
        if not pairs:
            break
        total = sum(symbols.values())
        gains = {
            pair: likelihood_gain(count, symbols[pair[0]], symbols[pair[1]], total, pair[0] == pair[1])
            for pair, count in pairs.items()
        }
        best = min(gains, key=lambda pair: (-gains[pair], pair))
        merged = best[0] + best[1].removeprefix("##")
        if merged not in vocab:
            vocab.append(merged)
        words = merge_everywhere(words, best, merged)
    return vocab


def test_wordpiece_incremental_training_matches_full_recount() -> None:
    assert WordPieceTokenizer.train(CORPUS, vocab_size=260).vocab == naive_wordpiece_vocab(CORPUS, 260)


def test_wordpiece_save_load_gives_an_equal_tokenizer(wordpiece: WordPieceTokenizer, tmp_path: Path) -> None:
    path = tmp_path / "wordpiece.json"
    wordpiece.save(path)
    loaded = WordPieceTokenizer.load(path)
    assert loaded == wordpiece
    for text in CORPUS:
        assert loaded.encode(text) == wordpiece.encode(text)


def test_wordpiece_errors_name_the_problem(wordpiece: WordPieceTokenizer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no text"):
        WordPieceTokenizer.train(["", " "], vocab_size=100)
    with pytest.raises(InputError, match="vocab_size must be at least"):
        WordPieceTokenizer.train(CORPUS, vocab_size=10)
    with pytest.raises(InputError, match="no unknown token"):
        WordPieceTokenizer(["a", "b"])
    with pytest.raises(InputError, match="more than once"):
        WordPieceTokenizer(["[UNK]", "a", "a"])
    with pytest.raises(InputError, match="out of range"):
        wordpiece.decode([-1])
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="not a JSON tokenizer file"):
        WordPieceTokenizer.load(broken)


def test_wordpiece_runs_berts_vocabulary_exactly_like_hugging_face() -> None:
    transformers = pytest.importorskip("transformers")
    from fromzero.data.sources import minilm_path

    hugging_face = transformers.AutoTokenizer.from_pretrained(str(minilm_path()))
    ours = WordPieceTokenizer.from_vocab_file(minilm_path() / "vocab.txt")
    texts = [
        "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m).",
        "Café naïve İstanbul ﬁsh Ｆｕｌｌ　ｗｉｄｔｈ x² don't https://www.bbc.co.uk/news a_b",
        "我爱自然语言处理。ΣΊΣΥΦΟΣ straße \x00 zero\u200bwidth " + "x" * 101,
    ]
    for text in texts:
        assert ours.encode(text) == hugging_face.encode(text, add_special_tokens=False)
