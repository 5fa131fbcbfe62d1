"""Polychoric correlations on sim60 (60 items, 5 categories, N = 500), warm process.

Prints the best of several runs and the ratio to lavaan's lavCor on the same data
(reference.json["polychoric"]["seconds"], measured by the R script on a shared 2-core
machine). If Rscript with lavaan is on PATH, lavCor is also timed in this run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
from _timing import best_of

import allyscale as al

HERE = Path(__file__).resolve().parent
SIM60 = HERE.parent / "tests" / "reference" / "sim60"


def main() -> None:
    ref = json.loads((SIM60 / "reference.json").read_text())
    data = pd.read_csv(SIM60 / "data.csv")[ref["items"]]
    t = best_of(lambda: al.polychoric(data))
    lav = ref["polychoric"]["seconds"]
    print(f"polychoric sim60 (60 items, N = 500): {t * 1000:.1f} ms (best of 7)")
    print(f"lavaan lavCor (reference.json): {lav:.2f} s  ->  {lav / t:.0f}x faster (target >= 30x)")
    if shutil.which("Rscript"):
        code = (
            f'suppressMessages(library(lavaan)); X <- read.csv("{SIM60 / "data.csv"}"); '
            "invisible(lavCor(X, ordered = names(X))); "
            't <- system.time(lavCor(X, ordered = names(X)))[["elapsed"]]; cat(t)'
        )
        out = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            r_t = float(out.stdout.strip().split()[-1])
            print(f"lavaan lavCor, timed now: {r_t:.2f} s  ->  {r_t / t:.0f}x faster")


if __name__ == "__main__":
    main()
