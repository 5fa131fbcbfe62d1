"""Slow: the verdicts' error rates on known truths, a reduced run of studies/calibrate_verdicts.py.

The full calibration (four populations, N = 250/500/800, 100 replications; table in docs/verdicts.md) is
`make calibrate`. Here: N = 500, 25 replications of the correlated-factors and the cross-loadings populations.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import allyscale as al

ROOT = Path(__file__).resolve().parents[1]


def _run(name: str, tmp_path: Path, reps: int = 25):
    raw = yaml.safe_load((ROOT / "studies" / "calibration" / f"{name}.yaml").read_text())
    raw["pool"] = str(ROOT / "item_pools" / "allyship.yaml")
    raw["conditions"] = {"n": [500]}
    raw["reps"] = reps
    store = tmp_path / f"{name}.sqlite"
    al.run_study(raw, store, workers=2, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return al.summarize_study(store)


@pytest.mark.slow
def test_true_model_accepted_and_preferred(tmp_path):
    s = _run("correlated", tmp_path)
    acc = s.models.set_index("model")["accepted"]
    assert acc["correlated"] >= 0.84, acc  # target .90; 25 replications allow 21/25
    assert acc["one_factor"] == 0.0 and acc["second_order"] <= 0.2, acc
    assert s.selection.iloc[0]["preferred_right"] >= 0.8, s.selection


@pytest.mark.slow
def test_omitted_cross_loadings_are_rejected(tmp_path):
    s = _run("cross_loadings", tmp_path)
    acc = s.models.set_index("model")["accepted"]
    assert acc["correlated"] <= 0.2 and acc["one_factor"] == 0.0, acc
