"""How fast the shipped NLP models classify messages, how long they take to load, what they cost.

Each message gets language, intent and topics together (what the router asks for). Messages are
the project's held-out texts in en/it/sv (intents and topic descriptions, short and long),
repeated in a seeded shuffle; all in one process.

    .venv/bin/python -m benchmarks.nlp_throughput [--messages 20000] [--batch 256]
        [--model DIR] [--baseline DIR]

``--model`` measures another model directory than the shipped one; ``--baseline`` measures a
second directory in the same run, on the same messages, so that the two can be compared.

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


def fresh_process_load(directory: Path) -> float:
    """Seconds from nothing to loaded models in a new Python process (imports included)."""
    code = (
        "import time, pathlib; t = time.perf_counter(); from nlp.pipeline import Pipeline; "
        f"Pipeline.load(pathlib.Path({str(directory)!r})); print(time.perf_counter() - t)"
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


def measure(directory: Path, texts: list[str], batch: int) -> None:
    fresh = fresh_process_load(directory)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    pipeline = Pipeline.load(directory)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    Pipeline.load(directory)
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
    for i in range(0, len(texts), batch):
        pipeline.analyze_many(texts[i : i + batch])
    batched = time.perf_counter() - started
    after = rss_mb()

    latencies.sort()
    print(f"model: {directory} ({size_mb(directory):.1f} MB on disk)")
    print(
        f"  load time: {fresh:.2f} s in a new process (imports included); "
        f"{cold:.2f} s first load, {warm:.2f} s again, once spaCy is imported"
    )
    print(
        f"  resident memory: {before:.0f} MB before load, {loaded:.0f} MB loaded, "
        f"{after:.0f} MB after classifying"
    )
    print(
        f"  one at a time (analyze): {len(texts) / single:,.0f} messages/s; "
        f"latency p50 {latencies[len(latencies) // 2] * 1e3:.2f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1e3:.2f} ms"
    )
    print(f"  in batches of {batch} (analyze_many): {len(texts) / batched:,.0f} messages/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--model", type=Path, default=shipped_model_dir())
    parser.add_argument("--baseline", type=Path, help="a second model directory to compare")
    args = parser.parse_args()

    texts = messages(args.messages)
    chars = statistics.mean(len(t) for t in texts)
    print(f"messages: {len(texts)} (mean {chars:.0f} characters), language + intent + topics each")
    # Memory figures of the second model include the first one's: compare its increase.
    for directory in (args.model, args.baseline):
        if directory is not None:
            measure(directory, texts, args.batch)


if __name__ == "__main__":
    main()
