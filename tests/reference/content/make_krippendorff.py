"""Krippendorff's alpha of the panels in this folder from the `krippendorff` package (PyPI, Castro 2017).

irr 0.84.1's kripp.alpha does not divide a unit's coincidences by (m_u - 1) when no value is
missing, so on complete panels of more than two raters it differs from Krippendorff (2011);
it agrees on Krippendorff's example (which has missing values). This package is the
independent reference for complete panels. Run from this folder: python make_krippendorff.py
"""

import json

import krippendorff
import pandas as pd

rel = pd.read_csv("relevance.csv").set_index("item").to_numpy(dtype=float)
srt = pd.read_csv("sort.csv").set_index("item").drop(columns="intended")
codes = {c: i for i, c in enumerate(sorted(set(srt.to_numpy().ravel())))}
srt_codes = srt.apply(lambda col: col.map(codes)).to_numpy(dtype=float)
ex = pd.read_csv("krippendorff2011.csv").to_numpy(dtype=float)
out = {
    "version": krippendorff.__version__ if hasattr(krippendorff, "__version__") else "0.9.0",
    "relevance": {
        lv: krippendorff.alpha(
            reliability_data=rel.T, level_of_measurement=lv, value_domain=[1, 2, 3, 4] if lv == "ordinal" else None
        )
        for lv in ("nominal", "ordinal", "interval")
    },
    "sort_nominal": krippendorff.alpha(reliability_data=srt_codes.T, level_of_measurement="nominal"),
    "krippendorff2011": {
        lv: krippendorff.alpha(reliability_data=ex.T, level_of_measurement=lv)
        for lv in ("nominal", "ordinal", "interval", "ratio")
    },
}
print(json.dumps(out, indent=2))
with open("krippendorff.json", "w") as fh:
    json.dump(out, fh, indent=2)
