"""Measuring the matcher: MRR and recall@5 on the project's evaluation set, against BM25.

The set (``nlp/data/matching/``) holds challenges with the ids of the profiles that answer them
(``relevant``), and a pool of profiles in English, Italian and Swedish. Every challenge is ranked
against the whole pool.

The cross-language figures count only the relevant profiles written in another language than the
challenge; the challenge's same-language relevant profiles are taken out of its ranking for that
figure, so that they do not push the others down.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from nlp.matching.bm25 import BM25
from nlp.matching.engine import Document, MatchingEngine

CUTOFF = 5
POOL = 200  # results read per challenge; relevant profiles beyond count as not found


class DataError(ValueError):
    """An input file is missing or does not hold what it should."""


@dataclass(frozen=True, slots=True)
class Challenge:
    doc: Document
    relevant: tuple[str, ...]
    split: str


def data_dir() -> Path:
    return Path(str(resources.files("nlp") / "data" / "matching"))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL file; DataError says which line is wrong."""
    try:
        lines = path.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
    objects = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: not JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            raise DataError(f"{path}:{number}: not a JSON object")
        objects.append(value)
    return objects


def read_documents(path: Path) -> list[Document]:
    docs = []
    seen: set[str] = set()
    for number, value in enumerate(read_jsonl(path), start=1):
        try:
            doc = Document.from_json(value)
        except ValueError as exc:
            raise DataError(f"{path}: object {number}: {exc}") from exc
        if doc.id in seen:
            raise DataError(f"{path}: id {doc.id} appears twice")
        seen.add(doc.id)
        docs.append(doc)
    return docs


def read_challenges(path: Path) -> list[Challenge]:
    challenges = []
    for doc, value in zip(read_documents(path), read_jsonl(path), strict=True):
        relevant = value.get("relevant") or []
        if not isinstance(relevant, list) or not all(isinstance(r, str) for r in relevant):
            raise DataError(f"{path}: {doc.id}: 'relevant' must be a list of ids")
        challenges.append(Challenge(doc, tuple(relevant), str(value.get("split") or "dev")))
    return challenges


@dataclass(frozen=True, slots=True)
class Scores:
    mrr: float
    recall: float
    queries: int


def _score(rankings: Iterable[tuple[Sequence[str], set[str]]]) -> Scores:
    reciprocal = 0.0
    recall = 0.0
    count = 0
    for ranking, relevant in rankings:
        if not relevant:
            continue
        count += 1
        first = next((i for i, doc_id in enumerate(ranking, 1) if doc_id in relevant), None)
        reciprocal += 1.0 / first if first else 0.0
        recall += len(relevant & set(ranking[:CUTOFF])) / len(relevant)
    if not count:
        return Scores(0.0, 0.0, 0)
    return Scores(reciprocal / count, recall / count, count)


@dataclass(frozen=True, slots=True)
class Report:
    """Figures for one ranker."""

    overall: Scores
    cross_language: Scores
    by_split: dict[str, Scores]


Ranker = Callable[[Document], list[str]]


def measure(
    rank: Ranker, challenges: Sequence[Challenge], languages: dict[str, str | None]
) -> Report:
    """Figures for ``rank`` (a challenge → profile ids, best first)."""
    rankings = {c.doc.id: rank(c.doc) for c in challenges}
    overall = _score((rankings[c.doc.id], set(c.relevant)) for c in challenges)
    cross = []
    for c in challenges:
        other = {r for r in c.relevant if languages.get(r) != c.doc.lang}
        if other:
            same = set(c.relevant) - other
            cross.append(([d for d in rankings[c.doc.id] if d not in same], other))
    by_split = {
        split: _score((rankings[c.doc.id], set(c.relevant)) for c in challenges if c.split == split)
        for split in sorted({c.split for c in challenges})
    }
    return Report(overall, _score(cross), by_split)


def check(challenges: Sequence[Challenge], profiles: Sequence[Document]) -> None:
    known = {p.id for p in profiles}
    for challenge in challenges:
        missing = set(challenge.relevant) - known
        if missing:
            raise DataError(f"{challenge.doc.id}: unknown relevant ids {sorted(missing)}")


def evaluate(
    challenges_path: Path | None = None, profiles_path: Path | None = None
) -> dict[str, Report]:
    """The engine's and BM25's figures on the evaluation set (the project's, by default)."""
    folder = data_dir()
    challenges = read_challenges(challenges_path or folder / "challenges.jsonl")
    profiles = read_documents(profiles_path or folder / "profiles.jsonl")
    check(challenges, profiles)
    languages = {p.id: p.lang for p in profiles}

    engine = MatchingEngine()
    engine.add_all(profiles)
    baseline = BM25(profiles)

    def by_engine(doc: Document) -> list[str]:
        return [ranked.id for ranked in engine.rank(doc, POOL)]

    def by_bm25(doc: Document) -> list[str]:
        return [doc_id for doc_id, _score in baseline.rank(doc, POOL)]

    return {
        "engine": measure(by_engine, challenges, languages),
        "bm25": measure(by_bm25, challenges, languages),
    }


def format_reports(reports: dict[str, Report]) -> str:
    lines = [f"{'':8} {'':16} {'MRR':>6} {'R@5':>6} {'queries':>8}"]
    for name, report in reports.items():
        rows = [("all", report.overall), ("cross-language", report.cross_language)]
        rows += [(f"split {split}", scores) for split, scores in report.by_split.items()]
        for label, scores in rows:
            lines.append(
                f"{name:8} {label:16} {scores.mrr:6.3f} {scores.recall:6.3f} {scores.queries:8d}"
            )
    engine, bm25 = reports.get("engine"), reports.get("bm25")
    if engine and bm25:
        lines.append(
            f"recall@5 gain over BM25: {engine.overall.recall - bm25.overall.recall:+.3f} "
            f"(cross-language {engine.cross_language.recall - bm25.cross_language.recall:+.3f})"
        )
    return "\n".join(lines)
