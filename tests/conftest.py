"""Shared fixtures; shared paths and model builders live in ``tests/support``."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import TEST_MODELS, models

import trafficsys as ts


@pytest.fixture(scope="module")
def reference_model() -> ts.Model:
    """The reference model shipped in the package, one copy per test module."""
    return ts.load_default()


@pytest.fixture
def test_models() -> Path:
    """The vendored SDXorg test models (``tests/data/test-models``)."""
    return TEST_MODELS


@pytest.fixture
def logistic_model() -> ts.Model:
    """Logistic growth, r = 0.5, k = 1000, from 10 (see ``support.models.logistic``)."""
    return models.logistic()


@pytest.fixture
def teacup_model() -> ts.Model:
    """The SDXorg teacup model built in Python."""
    return models.teacup()
