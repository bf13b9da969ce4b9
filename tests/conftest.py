"""Shared test helpers: where the reference data lives."""
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_SHARED = HERE.parent.parent / "shared" / "reference"
REFERENCE = _SHARED if (_SHARED / "scalesim_grid.csv").is_file() else HERE / "data" / "reference"


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """shared/reference beside the checkout, else the copies in tests/data."""
    return REFERENCE

from pg import postgres_url  # noqa: E402,F401  (fixture: a throw-away PostgreSQL server)
