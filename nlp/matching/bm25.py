"""A plain BM25 baseline: the same texts, lower-cased words, no stemming, no vocabulary.

It is what the matching engine is measured against in ``innobot match evaluate``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from nlp.matching.engine import Document

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


class BM25:
    """Okapi BM25 (k1 = 1.2, b = 0.75) over title and description."""

    def __init__(self, docs: Iterable[Document], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.ids: list[str] = []
        self.kinds: list[str | None] = []
        self.tfs: list[Counter[str]] = []
        self.lengths: list[int] = []
        df: Counter[str] = Counter()
        for doc in docs:
            bag = Counter(words(f"{doc.title} {doc.description}"))
            self.ids.append(doc.id)
            self.kinds.append(doc.kind)
            self.tfs.append(bag)
            self.lengths.append(sum(bag.values()))
            df.update(bag.keys())
        n = len(self.ids)
        self.avg_length = sum(self.lengths) / n if n else 1.0
        self.idf = {
            word: math.log1p((n - count + 0.5) / (count + 0.5)) for word, count in df.items()
        }

    def rank(self, query: Document, top: int = 10) -> list[tuple[str, float]]:
        terms = set(words(f"{query.title} {query.description}"))
        scored = []
        for index, bag in enumerate(self.tfs):
            score = 0.0
            norm = self.k1 * (1 - self.b + self.b * self.lengths[index] / self.avg_length)
            for term in terms & bag.keys():
                tf = bag[term]
                score += self.idf[term] * tf * (self.k1 + 1) / (tf + norm)
            if score > 0:
                scored.append((self.ids[index], score))
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored[:top]
