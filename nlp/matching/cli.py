"""``innobot match``: rank profiles for challenges from JSONL files, and measure the matcher.

``innobot match --challenges FILE --profiles FILE --top K`` writes one JSON line per challenge,
``{"challenge": id, "ranked": [{"id", "score", "why"}, ...]}``; it needs no database.
``innobot match evaluate`` prints MRR and recall@5 of the engine and of BM25 on the project's
evaluation set (or on the files given).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from nlp.matching.engine import MatchingEngine
from nlp.matching.evaluate import DataError, evaluate, format_reports, read_documents

TOP_MAX = 1000


def _top(value: str) -> int:
    try:
        top = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 1 <= top <= TOP_MAX:
        raise argparse.ArgumentTypeError(f"--top must be between 1 and {TOP_MAX}")
    return top


def run_match(
    challenges: Path, profiles: Path, top: int, out: TextIO, kinds: list[str] | None = None
) -> int:
    """Rank ``profiles`` for every challenge in ``challenges``; one JSON line each to ``out``."""
    engine = MatchingEngine()
    engine.add_all(read_documents(profiles))
    engine.build()
    for challenge in read_documents(challenges):
        ranked = engine.rank(challenge, top, kinds=kinds, exclude=(challenge.id,))
        line = {
            "challenge": challenge.id,
            "ranked": [
                {"id": item.id, "score": item.score, "why": item.why.as_dict()} for item in ranked
            ],
        }
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return 0


def _match(args: argparse.Namespace, _settings: Any = None) -> int:
    if args.match_command == "evaluate":
        try:
            reports = evaluate(args.challenges, args.profiles)
        except DataError as exc:
            print(f"innobot match evaluate: {exc}", file=sys.stderr)
            return 2
        print(format_reports(reports))
        return 0
    if args.challenges is None or args.profiles is None:
        print("innobot match: --challenges and --profiles are required", file=sys.stderr)
        return 2
    try:
        return run_match(args.challenges, args.profiles, args.top, sys.stdout, args.kind)
    except DataError as exc:
        print(f"innobot match: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped early (``| head``): not an error.
        sys.stderr.close()
        return 0


def register(commands: Any) -> None:
    """Add ``match`` (and ``match evaluate``) to the ``innobot`` command line."""
    match = commands.add_parser(
        "match",
        help="rank profiles for challenges (JSONL in, JSONL out), or evaluate the matcher",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    match.add_argument("--challenges", type=Path, help="JSONL file of challenges")
    match.add_argument("--profiles", type=Path, help="JSONL file of profiles")
    match.add_argument("--top", type=_top, default=10, help="results per challenge (default 10)")
    match.add_argument(
        "--kind", action="append", help="only profiles of this kind (repeatable)", default=None
    )
    match.set_defaults(func=_match, match_command=None)
    sub = match.add_subparsers(dest="match_command")
    evaluation = sub.add_parser(
        "evaluate", help="MRR and recall@5 of the engine and of BM25 on the evaluation set"
    )
    evaluation.add_argument("--challenges", type=Path, default=None)
    evaluation.add_argument("--profiles", type=Path, default=None)
    evaluation.set_defaults(func=_match)
