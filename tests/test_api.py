"""The public API: every advertised name resolves, and functions stay functions."""

import importlib
import types

import allyscale


def test_every_public_name_resolves():
    missing = [name for name in allyscale.__all__ if not hasattr(allyscale, name)]
    assert missing == []


def test_star_import():
    namespace: dict = {}
    exec("from allyscale import *", namespace)
    assert callable(namespace["cfa"]) and callable(namespace["validate"])


def test_functions_shadow_same_named_modules():
    importlib.import_module("allyscale.cfa")
    importlib.import_module("allyscale.polychoric")
    assert isinstance(allyscale.cfa, types.FunctionType)
    assert isinstance(allyscale.polychoric, types.FunctionType)
