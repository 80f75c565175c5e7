"""Fixtures of the identity tests."""
from __future__ import annotations

import pytest

from identity_helpers import Edges


@pytest.fixture
def edges(fresh_db_url) -> Edges:
    """An empty edges table in a fresh database, filled by the test night by night."""
    return Edges(fresh_db_url)
