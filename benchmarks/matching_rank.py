"""How fast the matcher ranks 100,000 profiles for one challenge, and what indexing costs.

Profiles are made from the evaluation set's profiles (seeded, reproducible): each one mixes the
sentences of two or three profiles of the same language and adds a made-up company name, so that
the vocabulary and the posting lists grow as they would with real profiles. The challenges of the
evaluation set are the queries.

    .venv/bin/python -m benchmarks.matching_rank [--profiles 100000] [--queries 300]

Prints: indexing time (analysis and array building apart), memory (resident size before and
after, and the index arrays), and the time to rank all profiles for one challenge (p50, p95, max),
with and without building the explanations of the top 10.
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import statistics
import time
from pathlib import Path

from nlp.matching import Document, MatchingEngine
from nlp.matching.evaluate import data_dir, read_documents

_SENTENCE = re.compile(r"(?<=[.;:!?])\s+")


def rss_mb() -> float:
    """This process's resident memory in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthetic_profiles(count: int, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    base = read_documents(data_dir() / "profiles.jsonl")
    by_lang: dict[str | None, list[Document]] = {}
    for doc in base:
        by_lang.setdefault(doc.lang, []).append(doc)
    syllables = ["ta", "ro", "vi", "ne", "ka", "lu", "mo", "se", "dri", "fa", "gen", "tor"]
    docs = []
    for number in range(count):
        first = rng.choice(base)
        others = rng.sample(by_lang[first.lang], k=rng.randint(1, 2))
        sentences = _SENTENCE.split(first.description)
        for other in others:
            sentences += rng.sample(_SENTENCE.split(other.description), k=1)
        rng.shuffle(sentences)
        name = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()
        docs.append(
            Document(
                id=f"s{number}",
                title=f"{first.title} – {name}",
                description=" ".join(sentences),
                lang=first.lang,
                kind=first.kind or "solution",
            )
        )
    return docs


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()

    challenges = read_documents(data_dir() / "challenges.jsonl")
    started = time.perf_counter()
    docs = synthetic_profiles(args.profiles)
    print(f"generated {len(docs):,} profiles in {time.perf_counter() - started:.1f} s")

    gc.collect()
    before = rss_mb()
    engine = MatchingEngine()
    started = time.perf_counter()
    engine.add_all(docs)
    analysed = time.perf_counter() - started
    started = time.perf_counter()
    engine.build()
    built = time.perf_counter() - started
    del docs
    gc.collect()
    after = rss_mb()
    arrays = engine.index_bytes() / 2**20
    print(f"indexing: {analysed + built:.1f} s ({analysed:.1f} s analysing, {built:.1f} s arrays)")
    print(
        f"memory: resident {before:.0f} MB before, {after:.0f} MB after "
        f"(+{after - before:.0f} MB; index arrays {arrays:.0f} MB)"
    )

    queries = [challenges[i % len(challenges)] for i in range(args.queries)]
    for doc in challenges:  # the queries' own analysis is cached, as in a running bot
        engine.analyze(doc)
    timings: list[float] = []
    for query in queries:
        started = time.perf_counter()
        engine.rank(query, args.top)
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"rank {args.profiles:,} profiles for one challenge, top {args.top} with explanations "
        f"({len(timings)} queries): p50 {statistics.median(timings):.1f} ms, "
        f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms"
    )
    fresh: list[float] = []
    for number, query in enumerate(queries[: min(50, len(queries))]):
        unseen = Document(f"q{number}", query.title + f" {number}", query.description, query.lang)
        started = time.perf_counter()
        engine.rank(unseen, args.top)
        fresh.append((time.perf_counter() - started) * 1000)
    print(
        f"same, query text never seen before ({len(fresh)} queries): "
        f"p50 {statistics.median(fresh):.1f} ms, p95 {percentile(fresh, 0.95):.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
