"""The public API: every advertised name resolves; a module named like its function is that module, callable."""

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


SAME_NAME = ["cfa", "efa", "polychoric", "invariance", "mtmm", "reliability", "dfi", "irt", "shorten", "simulate"]


def test_modules_named_like_their_function_are_modules_and_callable():
    import inspect
    import subprocess
    import sys

    for name in SAME_NAME:
        module = importlib.import_module(f"allyscale.{name}")
        assert isinstance(module, types.ModuleType) and getattr(allyscale, name) is module, name
        function = getattr(module, name)
        assert isinstance(function, types.FunctionType) and module.__wrapped__ is function, name
        assert inspect.signature(module) == inspect.signature(function), name
    # the plain import statement gives the module in a fresh interpreter, before and after the lazy attribute
    code = (
        "import types, allyscale.cfa as m, allyscale as al; assert isinstance(m, types.ModuleType); "
        "assert al.cfa is m and hasattr(m, 'CFAResult'); import allyscale.reliability as r; "
        "assert isinstance(r, types.ModuleType) and al.reliability is r"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_calling_the_module_calls_the_function(hs_data, hs_model):
    fit = allyscale.cfa(hs_data, hs_model)
    direct = importlib.import_module("allyscale.cfa").cfa(hs_data, hs_model)
    assert fit.fit_measures["chisq"] == direct.fit_measures["chisq"]
    assert abs(fit.fit_measures["chisq"] - 85.3055218) < 1e-6  # lavaan 0.6.14 (tests/reference/hs)


def test_caches_are_registered_and_clearable(hs_data, hs_model):
    import allyscale._core.wlsmv
    import allyscale.content as content

    allyscale.cfa(hs_data, hs_model)
    content.cvr_critical(10)
    listed = allyscale.caches()
    assert {"partables", "wlsmv_stats", "cvr_critical"} <= set(listed)
    assert listed["partables"]["size"] >= 1 and listed["cvr_critical"]["size"] >= 1
    allyscale.clear_caches()
    assert all(c["size"] == 0 for c in allyscale.caches().values())
    # a cleared cache gives the same numbers as a warm one
    assert abs(allyscale.cfa(hs_data, hs_model).fit_measures["chisq"] - 85.3055218) < 1e-6
