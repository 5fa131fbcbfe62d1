"""Ordinal test data for the engine benchmarks: m correlated factors, p/m items each, 5 categories."""

from __future__ import annotations

import numpy as np
import pandas as pd


def ordinal_data(n: int, p: int, *, factors: int = 6, seed: int = 1, missing: float = 0.0) -> tuple[pd.DataFrame, str]:
    """``n`` cases of ``p`` five-point items loading .5-.8 on ``factors`` factors correlated .3
    (latent responses cut at -1.5, -0.5, 0.5, 1.5); a fraction ``missing`` of cells removed at
    random. Returns the data and lavaan syntax of the true model."""
    rng = np.random.default_rng(seed)
    per = p // factors
    lam = np.zeros((p, factors))
    for f in range(factors):
        lam[f * per : (f + 1) * per if f < factors - 1 else p, f] = rng.uniform(
            0.5, 0.8, (p - f * per if f == factors - 1 else per)
        )
    phi = np.full((factors, factors), 0.3)
    np.fill_diagonal(phi, 1.0)
    eta = rng.multivariate_normal(np.zeros(factors), phi, size=n)
    resid = np.sqrt(1 - np.einsum("ij,jk,ik->i", lam, phi, lam))
    ystar = eta @ lam.T + rng.standard_normal((n, p)) * resid
    y = np.digitize(ystar, [-1.5, -0.5, 0.5, 1.5]).astype(float) + 1
    if missing:
        y[rng.random(y.shape) < missing] = np.nan
    names = [f"y{j + 1}" for j in range(p)]
    model = "\n".join(
        f"f{f + 1} =~ " + " + ".join(names[j] for j in range(p) if lam[j, f] != 0) for f in range(factors)
    )
    return pd.DataFrame(y, columns=names), model
