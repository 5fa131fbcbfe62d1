"""Precision and recall of the wording rules (``allyscale.wording``) on a labelled set of items.

The labelled set is ``benchmarks/wording_labels.py``: the allyship pool's informant
wordings as first written (inner states labelled by hand) and items written to exercise
each rule, with clean counterparts. Prints the Markdown table of ``docs/content_validity.md``.
Run: ``python benchmarks/wording_rules.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wording_labels import ORIGINAL_INFORMANT, WRITTEN

from allyscale.wording import (
    _implicit_negatives,
    absolutes,
    double_barreled_reason,
    inner_state_reason,
    jargon_terms,
    negations,
)

RULES = ("double_barreled", "negation", "double_negative", "absolute", "jargon", "inner_state")


def flags(text: str, form: str) -> set[str]:
    """The sentence-level rules of ``review_wording`` that fire on one text."""
    out = set()
    if double_barreled_reason(text):
        out.add("double_barreled")
    neg, imp = negations(text), _implicit_negatives(text)
    if len(neg) >= 2 or (neg and imp):
        out.add("double_negative")
    elif neg:
        out.add("negation")
    if absolutes(text):
        out.add("absolute")
    if jargon_terms(text):
        out.add("jargon")
    if form == "informant" and inner_state_reason(text):
        out.add("inner_state")
    return out


def evaluate() -> pd.DataFrame:
    rows = []
    cases = [
        (t, "informant", {"inner_state"} if lab else set(), "allyship 0.1.0 informant", {"inner_state"})
        for t, lab in ORIGINAL_INFORMANT.values()
    ]
    cases += [(t, form, labels, "written", set(RULES)) for t, form, labels in WRITTEN]
    for rule in RULES:
        tp = fp = fn = tn = 0
        for text, form, labels, part, labelled in cases:
            if rule not in labelled or (rule == "inner_state" and form != "informant"):
                continue
            hit, truth = rule in flags(text, form), rule in labels
            tp += hit and truth
            fp += hit and not truth
            fn += truth and not hit
            tn += not hit and not truth
        rows.append(
            {
                "rule": rule,
                "items": tp + fp + fn + tn,
                "flagged (truth)": tp + fn,
                "true pos": tp,
                "false pos": fp,
                "false neg": fn,
                "precision": tp / (tp + fp) if tp + fp else float("nan"),
                "recall": tp / (tp + fn) if tp + fn else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("rule")


def errors() -> list[str]:
    out = []
    cases = [
        (t, "informant", {"inner_state"} if lab else set(), {"inner_state"}) for t, lab in ORIGINAL_INFORMANT.values()
    ] + [(t, f, lab, set(RULES)) for t, f, lab in WRITTEN]
    for text, form, labels, labelled in cases:
        got = flags(text, form) & labelled
        if got != (labels & labelled):
            out.append(f"{text!r}: flagged {sorted(got)}, labelled {sorted(labels & labelled)}")
    return out


if __name__ == "__main__":
    tab = evaluate()
    print("| rule | items | labelled | true pos | false pos | false neg | precision | recall |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for rule, r in tab.iterrows():
        counts = " | ".join(str(int(r[c])) for c in ("items", "flagged (truth)", "true pos", "false pos", "false neg"))
        print(f"| {rule} | {counts} | {r['precision']:.2f} | {r['recall']:.2f} |")
    for e in errors():
        print("  disagreement:", e)
