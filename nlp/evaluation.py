"""Evaluation: per-label precision, recall and F1, confusion, accuracy, per language.

Out-of-scope detection is measured as Larson et al. (2019) define it: *in-scope accuracy* is
the share of in-scope texts given their correct intent (a text wrongly turned away as out of
scope counts as wrong), *out-of-scope recall* the share of out-of-scope texts recognised as such.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from nlp.data import Example
from nlp.pipeline import Classification, IntentModel, Pipeline


@dataclass(frozen=True, slots=True)
class LabelScore:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class Report:
    """How well predicted labels agree with the gold ones."""

    n: int
    accuracy: float
    macro_f1: float
    labels: dict[str, LabelScore]
    # gold label -> predicted label -> count
    confusion: dict[str, dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OutOfScopeScores:
    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float
    in_scope: int
    oos: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def report(gold: Sequence[str], predicted: Sequence[str]) -> Report:
    """Scores of ``predicted`` against ``gold``; macro-F1 over every label seen in either."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    labels = sorted(set(gold) | set(predicted))
    scores: dict[str, LabelScore] = {}
    for label in labels:
        row = confusion.get(label, Counter())
        tp = row[label]
        predicted_as = sum(r[label] for r in confusion.values())
        support = sum(row.values())
        precision = _ratio(tp, predicted_as)
        recall = _ratio(tp, support)
        f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
        scores[label] = LabelScore(precision, recall, f1, support)
    correct = sum(row[g] for g, row in confusion.items())
    macro = sum(s.f1 for s in scores.values()) / len(scores) if scores else 0.0
    return Report(
        n=len(gold),
        accuracy=_ratio(correct, len(gold)),
        macro_f1=round(macro, 4),
        labels=scores,
        confusion={g: dict(sorted(row.items())) for g, row in sorted(confusion.items())},
    )


def out_of_scope_scores(
    gold: Sequence[str], predicted: Sequence[str], oos_label: str
) -> OutOfScopeScores:
    in_scope = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != oos_label]
    oos = [p for g, p in zip(gold, predicted, strict=True) if g == oos_label]
    predicted_oos = sum(p == oos_label for p in predicted)
    return OutOfScopeScores(
        in_scope_accuracy=_ratio(sum(g == p for g, p in in_scope), len(in_scope)),
        oos_recall=_ratio(sum(p == oos_label for p in oos), len(oos)),
        oos_precision=_ratio(sum(p == oos_label for p in oos), predicted_oos),
        in_scope=len(in_scope),
        oos=len(oos),
    )


def _by_language(
    examples: Sequence[Example], gold: Sequence[str], predicted: Sequence[str]
) -> dict[str, Report]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        if ex.lang:
            groups[ex.lang].append(i)
    return {
        lang: report([gold[i] for i in idx], [predicted[i] for i in idx])
        for lang, idx in sorted(groups.items())
    }


def evaluate_intents(
    examples: Sequence[Example], model: IntentModel | Pipeline, oos_label: str | None = None
) -> dict[str, Any]:
    """Intent scores on labelled ``examples``: overall, per language, and out of scope."""
    texts = [ex.text for ex in examples]
    gold = [ex.intent or "" for ex in examples]
    if isinstance(model, Pipeline):
        predicted = [c.intent for c in model.classify_many(texts)]
        oos = oos_label or model.intent_model.oos_label
    else:
        predicted = [
            intent for intent, _, _ in model.predict_texts(texts, [ex.lang for ex in examples])
        ]
        oos = oos_label or model.oos_label
    result: dict[str, Any] = {"overall": report(gold, predicted)}
    languages = _by_language(examples, gold, predicted)
    if len(languages) > 1:
        result["languages"] = languages
    if oos in gold or oos in predicted:
        result["out_of_scope"] = out_of_scope_scores(gold, predicted, oos)
    return result


def evaluate_topics(
    examples: Sequence[Example], classifications: Sequence[Classification]
) -> dict[str, Any]:
    """Primary-topic accuracy (no topic reported counts as wrong) and multi-label scores."""
    primary_gold = [ex.topics[0] for ex in examples]
    primary_pred = [c.topics[0][0] if c.topics else "(none)" for c in classifications]
    tp = fp = fn = 0
    for ex, c in zip(examples, classifications, strict=True):
        gold, pred = set(ex.topics), {label for label, _ in c.topics}
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = round(2 * precision * recall / (precision + recall), 4) if precision + recall else 0.0
    langs = _by_language(examples, primary_gold, primary_pred)
    return {
        "primary": report(primary_gold, primary_pred),
        "primary_by_language": {lang: r.accuracy for lang, r in langs.items()},
        "multi_label": {"precision": precision, "recall": recall, "f1": f1},
    }


def evaluate_languages(
    examples: Sequence[Example], classifications: Sequence[Classification]
) -> dict[str, Any]:
    gold = [ex.lang or "" for ex in examples]
    predicted = [c.lang for c in classifications]
    return {"overall": report(gold, predicted)}


def evaluate_project(
    pipeline: Pipeline,
    intents: Sequence[Example],
    topics: Sequence[Example],
    other_languages: Sequence[Example],
) -> dict[str, Any]:
    """The figures of the issue's "done when" on the project's held-out files."""
    topic_results = pipeline.classify_many([ex.text for ex in topics])
    intent_results = pipeline.classify_many([ex.text for ex in intents])
    supported = list(intents) + list(topics)
    languages = evaluate_languages(supported, intent_results + topic_results)
    others = evaluate_languages(
        other_languages, pipeline.classify_many([ex.text for ex in other_languages])
    )
    return {
        "intents": evaluate_intents(intents, pipeline),
        "topics": evaluate_topics(topics, topic_results),
        "language": {
            "supported": languages["overall"],
            "supported_accuracy": languages["overall"].accuracy,
            "others_accuracy": others["overall"].accuracy,
            "others": others["overall"],
        },
    }


# --- text output ---------------------------------------------------------------------------


def format_report(title: str, r: Report, *, confusion: bool = True) -> str:
    lines = [f"{title}: n={r.n}  accuracy={r.accuracy:.4f}  macro-F1={r.macro_f1:.4f}"]
    width = max((len(label) for label in r.labels), default=5)
    lines.append(f"  {'label':<{width}}  precision  recall     F1  support")
    for label, s in r.labels.items():
        lines.append(
            f"  {label:<{width}}  {s.precision:9.4f}  {s.recall:6.4f}  {s.f1:.4f}  {s.support:7d}"
        )
    if confusion:
        mistakes = [
            f"    {gold} -> " + ", ".join(f"{p} x{n}" for p, n in row.items() if p != gold)
            for gold, row in r.confusion.items()
            if any(p != gold for p in row)
        ]
        if mistakes:
            lines.append("  confusion (gold -> predicted, mistakes only):")
            lines.extend(mistakes)
    return "\n".join(lines)


def format_intents(result: dict[str, Any]) -> str:
    parts = [format_report("intents", result["overall"])]
    for lang, r in result.get("languages", {}).items():
        parts.append(format_report(f"intents [{lang}]", r, confusion=False))
    if "out_of_scope" in result:
        o = result["out_of_scope"]
        parts.append(
            f"out of scope (Larson et al. 2019): in-scope accuracy={o.in_scope_accuracy:.4f} "
            f"(n={o.in_scope})  out-of-scope recall={o.oos_recall:.4f} (n={o.oos})  "
            f"out-of-scope precision={o.oos_precision:.4f}"
        )
    return "\n\n".join(parts)


def format_project(result: dict[str, Any]) -> str:
    topics = result["topics"]
    language = result["language"]
    by_lang = "  ".join(f"{lang}={acc:.4f}" for lang, acc in topics["primary_by_language"].items())
    ml = topics["multi_label"]
    return "\n\n".join(
        [
            format_intents(result["intents"]),
            format_report("primary topic", topics["primary"])
            + f"\n  by language: {by_lang}"
            + f"\n  all topics (multi-label, micro): precision={ml['precision']:.4f} "
            f"recall={ml['recall']:.4f} F1={ml['f1']:.4f}",
            format_report("language (en/it/sv held-out texts)", language["supported"])
            + f"\n  other languages (de/fr/es/pt/nl): accuracy={language['others_accuracy']:.4f}",
        ]
    )


def to_json(value: Any) -> Any:
    """``value`` with every report turned into plain JSON data."""
    if isinstance(value, Report | OutOfScopeScores):
        return value.to_json()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value
