"""The results contract every public result must pass (tests/test_results_contract*.py)."""

from __future__ import annotations

import html
import json

import pandas as pd

from allyscale.results import Result, Summary

#: user text that must come out escaped in HTML and LaTeX wherever it appears
HOSTILE = "<b>x&y</b>"


def check_contract(result: object, *, user_text: str | None = None) -> None:
    """Assert the contract on one result; ``user_text`` is a piece of user input the result shows."""
    assert isinstance(result, Result), f"{type(result).__name__} does not implement allyscale.results.Result"
    cls = type(result)
    # one printer: the text, HTML and LaTeX forms are the base's, not hand-built per class
    for name in ("_repr_html_", "__str__", "to_latex"):
        assert getattr(cls, name) is getattr(Result, name), f"{cls.__name__}.{name} overrides the shared printer"
    summary = result.summary()
    assert isinstance(summary, Summary), f"{cls.__name__}.summary() returned {type(summary).__name__}"
    text, page, tex = summary.as_text(), summary.as_html(), summary.as_latex()
    assert text.startswith(summary.title) and len(text) > len(summary.title)
    assert page.startswith('<div class="allyscale-summary">') and page.endswith("</div>")
    assert str(result) == text and result._repr_html_() == page and result.to_latex() == tex
    assert "\\paragraph{" in tex
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame), f"{cls.__name__}.to_frame() returned {type(frame).__name__}"
    assert not frame.attrs, f"{cls.__name__}.to_frame() carries DataFrame.attrs {sorted(frame.attrs)}"
    d = result.to_dict()
    assert isinstance(d, dict)
    assert json.loads(json.dumps(d, allow_nan=False)) == d, f"{cls.__name__}.to_dict() is not plain JSON"
    assert isinstance(result.diagnostics, dict), f"{cls.__name__}.diagnostics is not a dict"
    if user_text is not None:
        assert user_text in text, f"{cls.__name__}: the user text is not shown"
        assert user_text not in page and html.escape(user_text) in page
        assert user_text not in tex
