"""Matching needs and offers: challenges with solution and infrastructure profiles (and ideas).

:class:`MatchingEngine` indexes documents and ranks them for a query, across English, Italian
and Swedish and across vocabulary, with a short explanation for every result.
"""

from __future__ import annotations

from nlp.matching.engine import Document, MatchingEngine, Ranked, Weights, Why
from nlp.matching.explain import explain

__all__ = ["Document", "MatchingEngine", "Ranked", "Weights", "Why", "explain"]
