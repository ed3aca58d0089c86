"""Plain sentences from a MediaWiki XML dump, without gensim's multiprocessing ``WikiCorpus``.

``WikiCorpus`` starts a process pool and drops punctuation and short words; the book wants one
simple, single-process pass whose tokens match :func:`~fromzero.data.text.tokenize_simple`. gensim's
``extract_pages`` streams the pages and ``filter_wiki`` strips the markup; this module keeps the
articles' prose and splits it into sentences.
"""

from __future__ import annotations

import bz2
from pathlib import Path

from fromzero.data.text import tokenized_sentences

# Lines that are headings ("== History =="), table rows ("|", "!") or template braces, not prose.
_NOT_PROSE = ("=", "|", "!", "{", "}")


def wiki_sentences(dump: str | Path) -> list[list[str]]:
    """The tokenised sentences of every article (namespace 0, redirects skipped) in a ``.xml.bz2`` dump."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    sentences: list[list[str]] = []
    with bz2.open(dump, "rb") as handle:
        for _title, markup, _page_id in extract_pages(handle, filter_namespaces=("0",)):
            if markup.lstrip().lower().startswith("#redirect"):
                continue
            for line in filter_wiki(markup).splitlines():
                line = line.strip()
                if line and not line.startswith(_NOT_PROSE):
                    sentences.extend(tokenized_sentences(line))
    return sentences
