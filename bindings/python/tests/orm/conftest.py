"""Fixtures of the ORM tests."""

from __future__ import annotations

import pytest

import symmetric_encryption as se

from .support import orm_context


@pytest.fixture(scope="session")
def ctx() -> se.Context:
    return orm_context()
