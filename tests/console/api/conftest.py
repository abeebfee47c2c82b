"""Every API test's answers are checked against the API's OpenAPI document."""
from __future__ import annotations

import pytest
from flask import Flask

from tests.console.api.document_check import DocumentCheckedClient


@pytest.fixture(autouse=True)
def answers_checked_against_the_document(monkeypatch):
    """Every test client made in an API test (also of apps the test builds itself) checks answers."""
    monkeypatch.setattr(Flask, "test_client_class", DocumentCheckedClient)
