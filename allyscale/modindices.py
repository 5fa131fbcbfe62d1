"""Modification indices and expected parameter changes for ML factor models (Sörbom, 1989): the table of
``CFAResult.modification_indices()`` (lavaan's ``modindices()``), built on the core's ML information.

The model is extended by every cross-loading and every residual covariance between
observed variables that it does not contain (lavaan's ``modindices()`` candidates for a
CFA). With the score ``s_j = d log L / d theta_j`` at the fitted values and the expected
information of the extended model (summed over cases), ``V_jj = I_jj - I_jF I_FF^-1 I_Fj``:

    mi = s_j^2 / V_jj,   epc = s_j / V_jj,

``sepc.all`` = epc times the std.all factor under the fitted model (``sd(eta) / sd(y)`` for
loadings, ``1 / sqrt(theta_ii theta_jj)`` for residual covariances), as lavaan 0.6.14.

References
----------
Sörbom, D. (1989). Model modification. Psychometrika, 54, 371-384.
Saris, W. E., Satorra, A., & Sörbom, D. (1987). The detection and correction of
specification errors in structural equation models. Sociological Methodology, 17, 105-129.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allyscale._core import ml as _ml
from allyscale._core.model import ModelSpec

__all__ = ["modification_indices"]


def modification_indices(prep, x: np.ndarray) -> pd.DataFrame:
    """``lhs, op, rhs, [group], mi, epc, sepc.all`` for every candidate parameter."""
    pt = prep.partable
    ov, lv = prep.ov, prep.lv
    q = prep.spec.n_free
    rows = []
    for g in range(1, prep.ngroups + 1):
        gpt = pt[pt["group"] == g]
        present = set(zip(gpt["lhs"], gpt["op"], gpt["rhs"]))
        for f in lv:
            for v in ov:
                if (f, "=~", v) not in present:
                    rows.append((f, "=~", v, g))
        for i, a in enumerate(ov):
            for b in ov[i + 1 :]:
                if (a, "~~", b) not in present and (b, "~~", a) not in present:
                    rows.append((a, "~~", b, g))
    ext = pd.DataFrame(rows, columns=["lhs", "op", "rhs", "group"])
    ext["free"] = np.arange(q + 1, q + 1 + len(ext))
    ext["ustart"] = np.nan
    ext["start"] = np.nan
    base = pt[["lhs", "op", "rhs", "group", "free", "ustart", "start"]]
    full = pd.concat([base, ext], ignore_index=True)
    spec = ModelSpec.from_partable(full, ov, lv, meanstructure=prep.meanstructure)
    data = [_ml.GroupData.from_array(y) for y in prep.y]
    x_ext = np.concatenate([x, np.zeros(len(ext))])
    _, grad, info = _ml.deviance(spec, data, x_ext)
    score = -0.5 * grad[q:]
    i_ff = info[:q, :q]
    i_fj = info[:q, q:]
    v = np.diag(info[q:, q:]) - np.einsum("ij,ij->j", i_fj, np.linalg.solve(i_ff, i_fj))
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = score**2 / v
        epc = score / v
    mats = prep.spec.matrices(x)
    sepc = np.empty(len(ext))
    for k, r in enumerate(ext.itertuples(index=False)):
        gm = mats[r.group - 1]
        if r.op == "=~":
            sd_lv = np.sqrt(gm.latent_cov()[lv.index(r.lhs), lv.index(r.lhs)])
            sd_ov = np.sqrt(gm.sigma()[ov.index(r.rhs), ov.index(r.rhs)])
            sepc[k] = epc[k] * sd_lv / sd_ov
        else:
            i, j = ov.index(r.lhs), ov.index(r.rhs)
            sepc[k] = epc[k] / np.sqrt(gm.theta[i, i] * gm.theta[j, j])
    out = ext[["lhs", "op", "rhs", "group"]].copy()
    out["mi"] = mi
    out["epc"] = epc
    out["sepc.all"] = sepc
    if prep.ngroups == 1:
        out = out.drop(columns="group")
    return out
