"""``innobot nlp``: train, evaluate and run the classifiers; export topic corrections.

``python -m nlp.cli ...`` runs the same commands without the rest of innobot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from nlp.data import DataError, project_file, read_jsonl, write_jsonl
from nlp.labels import SUPPORTED_LANGUAGES
from nlp.models import ModelError, read_manifest, shipped_model_dir

# Lines of `classify` input read and classified together.
CLASSIFY_BATCH = 256
# Longest `classify` input line read, in bytes; longer lines are reported, not classified.
MAX_LINE_BYTES = 1_000_000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``nlp`` command group to ``innobot``'s command line."""
    nlp = subparsers.add_parser(
        "nlp", help="language, intent and topic classifiers: train, evaluate, classify"
    )
    commands = nlp.add_subparsers(dest="nlp_command", required=True)

    train = commands.add_parser(
        "train",
        help="train the shipped models from nlp/data, or an intent model from any JSONL",
        description=(
            "Without --intents: train the language, intent and topic models from the project's "
            "training files into --out (default: the shipped nlp/models). With --intents FILE: "
            'train an intent model on a JSONL of {"text", "intent"} lines into --out.'
        ),
    )
    train.add_argument("--intents", type=Path, metavar="FILE", help='JSONL of {"text", "intent"}')
    train.add_argument("--out", type=Path, metavar="DIR", help="where to write the model")
    train.add_argument(
        "--lang",
        default="en",
        choices=SUPPORTED_LANGUAGES,
        help="tokenizer for texts of --intents that carry no lang (default: en)",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--epochs", type=int, help="passes over the data (default: 10)")
    train.set_defaults(func=cmd_train)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model: the project's held-out data, or any labelled JSONL",
        description=(
            "Without FILE: the shipped (or --model) models on the project's held-out files. "
            'With FILE (JSONL of {"text", "intent"}): per-intent precision, recall, F1, '
            "confusion, accuracy, per language, and in-scope accuracy / out-of-scope recall."
        ),
    )
    evaluate.add_argument("file", type=Path, nargs="?", metavar="FILE")
    evaluate.add_argument("--model", type=Path, metavar="DIR", help="model directory to score")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of tables")
    evaluate.set_defaults(func=cmd_evaluate)

    classify = commands.add_parser(
        "classify",
        help='read {"text": ...} JSONL lines on stdin, write one classification per line',
    )
    classify.add_argument(
        "--model", type=Path, metavar="DIR", help="an intent model (or bundle) to use"
    )
    classify.set_defaults(func=cmd_classify)

    export = commands.add_parser(
        "export-feedback",
        help="write topic corrections from the store as training JSONL",
    )
    export.add_argument("--database-url", help="the store's URL (default: from innobot's settings)")
    export.add_argument(
        "--out", type=Path, metavar="FILE", help="output file (default: standard output)"
    )
    export.add_argument(
        "--all", action="store_true", help="every item with topics, not only corrected ones"
    )
    export.set_defaults(func=cmd_export_feedback)


def _error(message: str) -> int:
    print(f"innobot nlp: {message}", file=sys.stderr)
    return 2


# --- train ---------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from nlp.training import TrainConfig, train_intent_model, train_project_bundle

    config = TrainConfig(seed=args.seed)
    if args.epochs is not None:
        if args.epochs < 1:
            return _error("--epochs must be at least 1")
        config = TrainConfig(seed=args.seed, epochs=args.epochs)
    started = time.perf_counter()
    try:
        if args.intents is None:
            out = args.out or shipped_model_dir()
            manifest = train_project_bundle(out, config)
        else:
            if args.out is None:
                return _error("--intents needs --out DIR")
            out = args.out
            examples = read_jsonl(args.intents, require="intent")
            manifest = train_intent_model(
                examples, out, config, lang=args.lang, sources={"intents": str(args.intents)}
            )
    except DataError as exc:
        return _error(str(exc))
    print(
        f"trained {manifest.kind} model in {time.perf_counter() - started:.1f} s -> {out}\n"
        f"  intents: {len(manifest.intents)}  out-of-scope threshold: {manifest.oos_threshold}"
        f"  seed: {manifest.seed}"
    )
    return 0


# --- evaluate ------------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nlp import evaluation
    from nlp.pipeline import IntentModel, Pipeline

    directory = args.model or shipped_model_dir()
    manifest = read_manifest(directory)
    try:
        if args.file is None:
            if manifest.kind != "bundle":
                return _error(f"{directory} holds an intent model: give it a labelled FILE")
            result = evaluation.evaluate_project(
                Pipeline.load(directory),
                read_jsonl(project_file("intents.heldout.jsonl"), require="intent"),
                read_jsonl(project_file("topics.heldout.jsonl"), require="topics"),
                read_jsonl(project_file("languages.heldout.jsonl"), require="lang"),
            )
            text = evaluation.format_project(result)
        else:
            examples = read_jsonl(args.file, require="intent")
            model: IntentModel | Pipeline
            model = (
                Pipeline.load(directory)
                if manifest.kind == "bundle"
                else IntentModel.load(directory)
            )
            result = evaluation.evaluate_intents(examples, model)
            text = evaluation.format_intents(result)
    except DataError as exc:
        return _error(str(exc))
    if args.json:
        print(json.dumps(evaluation.to_json(result), indent=2, ensure_ascii=False))
    else:
        print(text)
    return 0


# --- classify ------------------------------------------------------------------------------


def cmd_classify(args: argparse.Namespace) -> int:
    from nlp.pipeline import Pipeline

    if args.model is None:
        pipeline = Pipeline.load()
    elif read_manifest(args.model).kind == "bundle":
        pipeline = Pipeline.load(args.model)
    else:
        pipeline = Pipeline.load(intent_model=args.model)
    failures = classify_stream(pipeline, sys.stdin.buffer, sys.stdout)
    if failures:
        print(f"innobot nlp classify: {failures} line(s) could not be read", file=sys.stderr)
        return 1
    return 0


def classify_stream(pipeline: Any, source: BinaryIO, out: TextIO) -> int:
    """Classify JSONL from ``source`` into ``out``, one line per input line; returns failures.

    A line that is not a JSON object with a string ``text`` gets ``{"line", "error"}`` instead,
    so that output line N always answers input line N. Invalid UTF-8 is replaced, not fatal.
    """
    failures = 0
    for batch in _batches(_read_lines(source), CLASSIFY_BATCH):
        texts = [item for _, item in batch if isinstance(item, dict)]
        results = iter(pipeline.classify_many([item["text"] for item in texts]))
        for number, item in batch:
            if isinstance(item, dict):
                record = classification_record(item, next(results))
            else:
                failures += 1
                record = {"line": number, "error": item}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return failures


def classification_record(item: dict[str, Any], c: Any) -> dict[str, Any]:
    record: dict[str, Any] = {}
    if "id" in item:
        record["id"] = item["id"]
    record.update(
        text=item["text"],
        language=c.lang,
        language_score=c.lang_score,
        intent=c.intent,
        intent_score=c.intent_score,
        candidates=[{"label": label, "score": score} for label, score in c.candidates(3)],
        topics=[{"label": label, "score": score} for label, score in c.topics],
    )
    return record


def _read_lines(source: BinaryIO) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, parsed object or what is wrong with the line), blank lines skipped."""
    number = 0
    while True:
        raw = source.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line
                raw = source.readline(MAX_LINE_BYTES)
            yield number, f"line longer than {MAX_LINE_BYTES} bytes"
            continue
        if not raw.strip():
            continue
        yield number, _parse_line(raw)


def _parse_line(raw: bytes) -> dict[str, Any] | str:
    try:
        item = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg}"
    if not isinstance(item, dict) or not isinstance(item.get("text"), str):
        return 'expected a JSON object with a string "text"'
    return item


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- export-feedback -----------------------------------------------------------------------


def cmd_export_feedback(args: argparse.Namespace) -> int:
    from nlp.feedback import export

    url = args.database_url
    if url is None:
        from bot.settings import Settings

        url = Settings().resolved_database_url()
    records = asyncio.run(export(url, everything=args.all))
    if args.out is None:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    else:
        write_jsonl(args.out, records)
    print(f"exported {len(records)} item(s)", file=sys.stderr)
    return 0


# --- python -m nlp.cli -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nlp.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["nlp", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except ModelError as exc:
        print(f"innobot: {exc}", file=sys.stderr)
        return 4


if __name__ == "__main__":
    sys.exit(main())
