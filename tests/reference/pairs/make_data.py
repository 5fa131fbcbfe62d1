"""Data for the paired-design references (run from the repository root):

    .venv/bin/python tests/reference/pairs/make_data.py

Two factors of four items, four categories, 300 targets each rated by themself and one
informant (wide, data.csv; leniency on items b2 and b3 of the informant form), and 120 targets
with three informants each (long, long.csv).
"""

from pathlib import Path

import allyscale as al

HERE = Path(__file__).parent
POP = """
A =~ 0.75*a1 + 0.7*a2 + 0.65*a3 + 0.6*a4
B =~ 0.75*b1 + 0.7*b2 + 0.65*b3 + 0.6*b4
A ~~ 0.4*B
"""

pm = al.PopulationModel.from_lavaan(POP, categories=4, thresholds="symmetric")
wide = al.simulate_pairs(
    pm, 300, seed=19, self_other_corr={"A": 0.6, "B": 0.5}, residual_corr=0.2, leniency={"b2": 0.6, "b3": -0.5}
)
wide.to_csv(HERE / "data.csv", index=False)
pmc = al.PopulationModel.from_lavaan(POP)
long = al.simulate_pairs(pmc, 120, informants=3, seed=20, self_other_corr=0.5, residual_corr=0.2, method_loading=0.3)
long.round(6).to_csv(HERE / "long.csv", index=False)
(HERE / "model.lav").write_text("A =~ a1 + a2 + a3 + a4\nB =~ b1 + b2 + b3 + b4\n")
