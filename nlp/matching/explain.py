"""Why two items were matched, in words a person reads (in English, Italian or Swedish)."""

from __future__ import annotations

from nlp.matching.concepts import CONCEPTS, family_label
from nlp.matching.engine import Why

_CONCEPTS = {concept.id: concept for concept in CONCEPTS}


def concept_labels(why: Why, lang: str | None) -> list[str]:
    """The shared concepts (or, failing those, their families) named in ``lang``."""
    labels = [_CONCEPTS[key].label(lang) for key in why.concepts if key in _CONCEPTS]
    if not labels:
        labels = [family_label(key, lang) for key in why.families]
    return labels


def explain(why: Why, lang: str | None, topic_names: dict[str, str] | None = None) -> str:
    """One line: the shared concepts, the words in common and the shared topics.

    ``topic_names`` gives the topics' names in ``lang`` (the chat catalog has them); without it
    the topic ids are used.
    """
    parts = concept_labels(why, lang)
    named = " ".join(parts).casefold()
    # Words the concepts already say are not repeated.
    parts += [f"“{term}”" for term in why.terms if term.casefold() not in named][:3]
    names = topic_names or {}
    parts += [names.get(topic, topic) for topic in why.topics if not parts]
    return ", ".join(dict.fromkeys(parts))
