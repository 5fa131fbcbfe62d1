from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

# small matrices: single-threaded BLAS is much faster than contended multi-threaded BLAS
threadpool_limits(1)

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
REFERENCE = TESTS / "reference"
ALLYSHIP_POOL = ROOT / "item_pools" / "allyship.yaml"
MINI_POOL = TESTS / "data" / "mini_pool.yaml"


@pytest.fixture(scope="session")
def mini_pool():
    from allyscale import load_pool

    return load_pool(MINI_POOL)


@pytest.fixture(scope="session")
def allyship_pool():
    from allyscale import load_pool

    return load_pool(ALLYSHIP_POOL)


# --- the main reference data sets, loaded one way for every test module ----------------------------------------
@pytest.fixture(scope="session")
def hs_data():
    """HolzingerSwineford1939 (lavaan): school and x1-x9 (tests/reference/hs/data.csv). Do not modify."""
    import pandas as pd

    return pd.read_csv(REFERENCE / "hs" / "data.csv")


@pytest.fixture(scope="session")
def hs_model() -> str:
    """The three-factor HolzingerSwineford model (tests/reference/hs/model.lav)."""
    return (REFERENCE / "hs" / "model.lav").read_text()


@pytest.fixture(scope="session")
def hs_reference() -> dict:
    """lavaan 0.6.14's outputs for HolzingerSwineford1939 (tests/reference/hs/reference.json)."""
    import json

    return json.loads((REFERENCE / "hs" / "reference.json").read_text())
