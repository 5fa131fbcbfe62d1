"""Simulate the data behind the validity_ext references (run once; data.csv, retest.csv are committed).

Two allyship factors (a1-a4, b1-b4), an external convergent factor ``arbi`` (x1-x3) and a
discriminant one ``sdes`` (s1-s3), all five-category items; an observed external score
``sds_total``; a known-groups column ``g`` (group "ally" has latent means +0.5); an outcome
``y``; a respondent ``id``. ``retest.csv``: the same respondents' items at a second wave.

    OMP_NUM_THREADS=1 .venv/bin/python tests/reference/validity_ext/make_data.py
"""

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
rng = np.random.default_rng(20261201)
n = 400
phi = np.array([[1.0, 0.5, 0.6, 0.2], [0.5, 1.0, 0.4, 0.1], [0.6, 0.4, 1.0, 0.15], [0.2, 0.1, 0.15, 1.0]])
g = np.repeat(["ally", "other"], n // 2)
eta = rng.multivariate_normal(np.zeros(4), phi, size=n)
eta[g == "ally", :2] += 0.5
cuts = np.array([-1.5, -0.5, 0.4, 1.3])
names = {0: "a", 1: "b", 2: "x", 3: "s"}
lam = [0.75, 0.7, 0.65, 0.6]


def items(eta, noise_rng):
    out = {}
    for f, p in names.items():
        k = 4 if f < 2 else 3
        for j in range(k):
            ystar = lam[j] * eta[:, f] + np.sqrt(1 - lam[j] ** 2) * noise_rng.standard_normal(len(eta))
            out[f"{p}{j + 1}"] = np.searchsorted(cuts, ystar) + 1
    return out


d = pd.DataFrame({"id": np.arange(1, n + 1), "g": g, **items(eta, rng)})
d["sds_total"] = np.round(10 + 2 * (0.8 * eta[:, 3] + 0.6 * rng.standard_normal(n)), 3)
d["y"] = np.round(0.4 * eta[:, 2] + 0.3 * eta[:, 0] + 0.2 * eta[:, 1] + 0.8 * rng.standard_normal(n), 4)
d.to_csv(HERE / "data.csv", index=False)
eta2 = 0.8 * eta + 0.6 * rng.multivariate_normal(np.zeros(4), phi, size=n)
r = pd.DataFrame({"id": np.arange(1, n + 1), **items(eta2, rng)}).sample(frac=1.0, random_state=1)
r.to_csv(HERE / "retest.csv", index=False)
