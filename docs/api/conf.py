"""Sphinx configuration: the API documentation, built from the numpydoc docstrings (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

project = "allyscale"
author = "The allyscale developers"
copyright = "2026, The allyscale developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.autosummary"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes" sections as fields: no duplicate descriptions beside autodoc members
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autosummary_generate = False
html_theme = "alabaster"
exclude_patterns = ["_build"]
# docstrings cite papers in a references section and use math-like notation; cross-reference misses are not errors
nitpicky = False
suppress_warnings = ["ref.ref", "ref.python"]
