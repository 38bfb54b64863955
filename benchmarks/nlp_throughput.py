"""How fast the shipped NLP models classify messages, how long they take to load, what they cost.

Each message gets language, intent and topics together (what the router asks for). Messages are
the project's held-out texts in en/it/sv (intents and topic descriptions, short and long),
repeated in a seeded shuffle; all in one process.

    .venv/bin/python -m benchmarks.nlp_throughput [--messages 20000] [--batch 256]

Prints: model load time (in a new process with imports, then in this one), model size on disk,
resident memory before and after loading, and messages per second one at a time
(``analyze``, what a chat message gets) and in batches (``analyze_many``, what
``innobot nlp classify`` does), with p50/p99 latency of single messages.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from nlp.data import project_file, read_jsonl
from nlp.models import shipped_model_dir
from nlp.pipeline import Pipeline


def rss_mb() -> float:
    """This process's resident memory in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def size_mb(directory: Path) -> float:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file()) / 1e6


def fresh_process_load() -> float:
    """Seconds from nothing to loaded models in a new Python process (imports included)."""
    code = (
        "import time; t = time.perf_counter(); from nlp.pipeline import Pipeline; "
        "Pipeline.load(); print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return float(done.stdout)


def messages(count: int, seed: int = 3) -> list[str]:
    texts = [
        ex.text
        for name in ("intents.heldout.jsonl", "topics.heldout.jsonl")
        for ex in read_jsonl(project_file(name))
    ]
    rng = random.Random(seed)
    return [rng.choice(texts) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()

    texts = messages(args.messages)
    fresh = fresh_process_load()
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    pipeline = Pipeline.load()
    cold = time.perf_counter() - started
    started = time.perf_counter()
    Pipeline.load()
    warm = time.perf_counter() - started
    gc.collect()
    loaded = rss_mb()

    pipeline.analyze_many(texts[:500])  # warm the word caches, as a running bot would have them

    latencies = []
    started = time.perf_counter()
    for text in texts:
        t0 = time.perf_counter()
        pipeline.analyze(text)
        latencies.append(time.perf_counter() - t0)
    single = time.perf_counter() - started

    started = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        pipeline.analyze_many(texts[i : i + args.batch])
    batched = time.perf_counter() - started
    after = rss_mb()

    latencies.sort()
    chars = statistics.mean(len(t) for t in texts)
    print(f"messages: {len(texts)} (mean {chars:.0f} characters), language + intent + topics each")
    print(f"model directory: {size_mb(shipped_model_dir()):.1f} MB")
    print(
        f"load time: {fresh:.2f} s in a new process (imports included); "
        f"{cold:.2f} s first load, {warm:.2f} s again, once spaCy is imported"
    )
    print(
        f"resident memory: {before:.0f} MB before load, {loaded:.0f} MB loaded, "
        f"{after:.0f} MB after classifying"
    )
    print(
        f"one at a time (analyze): {len(texts) / single:,.0f} messages/s; "
        f"latency p50 {latencies[len(latencies) // 2] * 1e3:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms"
    )
    print(f"in batches of {args.batch} (analyze_many): {len(texts) / batched:,.0f} messages/s")


if __name__ == "__main__":
    main()
