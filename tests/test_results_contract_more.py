"""Every public result of the validity, screening, pairs, survey, MTMM, IRT, short-form, content, DFI, Monte
Carlo and report modules passes the results contract (tests/contract.py): a :class:`allyscale.results.Result`
with one printer (text, HTML, LaTeX), a tidy ``to_frame()``, plain-JSON ``to_dict()`` and a ``diagnostics``
dict, and user text (an item, group, study or rater name) escaped in HTML and LaTeX."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import allyscale as al
from contract import HOSTILE, check_contract


@pytest.fixture(scope="module")
def responses(mini_pool) -> pd.DataFrame:
    """300 simulated answers to the mini pool."""
    data = al.simulate(mini_pool, 300, seed=11)
    data.attrs = {}
    return data


# --------------------------------------------------------------------------- screening
def test_screen_result(responses, mini_pool):
    from allyscale.quality import ScreenResult

    data = responses.copy()
    data.insert(0, "rid", [f"r{i}" for i in range(len(data))])
    data.loc[0, mini_pool.item_ids] = 3  # a straight-liner, flagged
    data.loc[0, "rid"] = HOSTILE
    res = al.screen(data, mini_pool, id_column="rid")
    assert isinstance(res, ScreenResult) and res.persons.loc[0, "id"] == HOSTILE
    check_contract(res, user_text=HOSTILE)
    assert "Flagged respondents" in str(res.summary())
