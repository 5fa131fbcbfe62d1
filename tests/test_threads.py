"""BLAS threads inside allyscale's entry points: limited during the call, the user's setting restored after."""

from __future__ import annotations

import threading
import time
import types

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController, threadpool_info, threadpool_limits

import allyscale as al
from allyscale import _threads
from allyscale.errors import SpecificationError

BLAS_LIBS = [i for i in threadpool_info() if i["user_api"] == "blas"]
needs_blas = pytest.mark.skipif(not BLAS_LIBS, reason="no BLAS library that threadpoolctl can control")


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


@pytest.fixture
def two_threads():
    """The user's own global setting, BLAS at 2 threads, made as a plain call (restored afterwards)."""
    from threadpoolctl import OpenBLASController

    controller = ThreadpoolController()
    user = controller.limit(limits=2, user_api="blas")
    OpenBLASController.clear_controlling_thread(force=True)  # as after threadpoolctl's own context managers
    _threads.set_blas_threads(1)
    yield
    _threads._setting = _threads._UNSET
    OpenBLASController.clear_controlling_thread(force=True)
    user.restore_original_limits()
    OpenBLASController.clear_controlling_thread(force=True)


@pytest.fixture(scope="module")
def small():
    pool = al.load_pool("item_pools/allyship.yaml")
    data = al.simulate(pool, 200, seed=1)
    items = pool.factor_items()
    f1, f2 = list(items)[:2]
    model = f"{f1} =~ {' + '.join(items[f1][:4])}\n{f2} =~ {' + '.join(items[f2][:4])}"
    return data, model


@needs_blas
def test_entry_points_run_single_threaded_and_restore_the_users_setting(two_threads, small, monkeypatch):
    data, model = small
    seen = {}
    real = al.polychoric

    from allyscale._core import polychoric as core_pc

    kernel = core_pc.polychoric_pairs

    def spy(*args, **kwargs):  # the numerical kernel sees the limit
        seen.setdefault("threads", []).append(_blas_threads())
        return kernel(*args, **kwargs)

    monkeypatch.setattr(core_pc, "polychoric_pairs", spy)
    assert _blas_threads() and all(t == 2 for t in _blas_threads())
    real(data[model.split()[2:9:2]])
    assert len(seen["threads"]) == 1
    fit = al.cfa(data, model, estimator="WLSMV")  # polychorics nested inside cfa
    assert np.isfinite(fit.fit_measures["chisq"])
    assert seen["threads"] and all(t == [1] * len(t) for t in seen["threads"])
    assert all(t == 2 for t in _blas_threads())  # the user's setting is back


@needs_blas
def test_nested_calls_enter_the_limit_once(two_threads, monkeypatch):
    entered = []
    real_limit = ThreadpoolController.limit

    def counting(self, *args, **kwargs):
        entered.append(kwargs.get("limits"))
        return real_limit(self, *args, **kwargs)

    monkeypatch.setattr(ThreadpoolController, "limit", counting)

    @_threads.blas_limited
    def inner():
        return _blas_threads()

    @_threads.blas_limited
    def outer():
        return [inner() for _ in range(5)], _blas_threads()

    inner_threads, outer_threads = outer()
    assert entered == [1]
    assert all(t == [1] * len(t) for t in inner_threads) and all(t == 1 for t in outer_threads)
    assert all(t == 2 for t in _blas_threads())

    # an exception inside still restores the setting
    @_threads.blas_limited
    def boom():
        raise ValueError("x")

    with pytest.raises(ValueError):
        boom()
    assert all(t == 2 for t in _blas_threads()) and _threads._depth == 0


@needs_blas
def test_concurrent_python_threads_restore_the_setting_once(two_threads):
    @_threads.blas_limited
    def work(delay):
        time.sleep(delay)
        return _blas_threads()

    results = []
    ts = [threading.Thread(target=lambda d=d: results.append(work(d))) for d in (0.05, 0.01, 0.03, 0.02)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(results) == 4 and all(t == [1] * len(t) for t in results)
    assert all(t == 2 for t in _blas_threads()) and _threads._depth == 0


@needs_blas
def test_users_choice_none_leaves_blas_alone(two_threads):
    _threads.set_blas_threads(None)

    @_threads.blas_limited
    def f():
        return _blas_threads()

    assert all(t == 2 for t in f())
    _threads.set_blas_threads(2)
    assert all(t == 2 for t in f())
    with pytest.raises(SpecificationError, match="positive integer"):
        _threads.set_blas_threads(0)


def test_environment_variable(monkeypatch):
    monkeypatch.setattr(_threads, "_setting", _threads._UNSET)
    monkeypatch.setenv("ALLYSCALE_BLAS_THREADS", "none")
    assert _threads.blas_threads() is None
    monkeypatch.setenv("ALLYSCALE_BLAS_THREADS", "3")
    assert _threads.blas_threads() == 3
    monkeypatch.setenv("ALLYSCALE_BLAS_THREADS", "many")
    with pytest.raises(SpecificationError, match="ALLYSCALE_BLAS_THREADS"):
        _threads.blas_threads()
    monkeypatch.delenv("ALLYSCALE_BLAS_THREADS")
    assert _threads.blas_threads() == 1


def test_public_entry_points_are_limited():
    import allyscale.report

    for name in (
        "cfa",
        "polychoric",
        "efa",
        "parallel_analysis",
        "map_test",
        "reliability",
        "omega",
        "alpha",
        "invariance",
        "dfi",
        "screen",
        "validate",
    ):
        func = getattr(al, name)
        if isinstance(func, types.ModuleType):  # a module named like its function calls that function
            func = func.__wrapped__
        assert getattr(func, "__wrapped__", None) is not None, name
        assert func.__code__ is _threads.blas_limited(lambda: None).__code__, name
    del allyscale


@needs_blas
def test_entering_costs_little(two_threads):
    @_threads.blas_limited
    def f():
        return None

    f()
    t0 = time.perf_counter()
    for _ in range(200):
        f()
    per_call = (time.perf_counter() - t0) / 200
    assert per_call < 0.5e-3, per_call  # measured ~0.05 ms; a fresh threadpool_limits costs ~1.3 ms


@needs_blas
def test_users_threadpool_limits_context_is_kept(small):
    data, model = small
    original = _blas_threads()
    with threadpool_limits(limits=2, user_api="blas"):
        inside = {}

        @_threads.blas_limited
        def probe():
            inside["threads"] = _blas_threads()
            return al.cfa(data, model, estimator="ML")

        probe()
        assert all(t == 1 for t in inside["threads"])
        assert all(t == 2 for t in _blas_threads())  # still the user's 2 inside their context
    assert _blas_threads() == original  # and their context restores what was there before
