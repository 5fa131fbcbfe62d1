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
