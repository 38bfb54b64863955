"""Fixtures of the NLP tests: the shipped models, loaded once."""

from __future__ import annotations

import pytest

from nlp.pipeline import Pipeline


@pytest.fixture(scope="session")
def pipeline() -> Pipeline:
    return Pipeline.load()
