"""The split Gram matrix of WLSMV's influence form: the same matrix with one or several threads."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference_data

from allyscale import _threads
from allyscale._core import wlsstats
from allyscale.errors import SpecificationError


@pytest.fixture
def restore_kernel_threads():
    yield
    _threads.set_kernel_threads(None)


def test_split_gram_equals_one_thread(monkeypatch):
    rng = np.random.default_rng(5)
    IF = np.asfortranarray(rng.standard_normal((300, 5000)))
    w = rng.uniform(0.5, 2.0, 5000)
    monkeypatch.setattr(wlsstats, "_SPLIT_WORK", 0.0)  # split even this small one
    monkeypatch.setattr(wlsstats, "_BLOCK", 300 * 512)  # ten blocks of 512 columns
    one = wlsstats.ACov(300, IF=IF).gram(w, threads=1)
    three = wlsstats.ACov(300, IF=IF).gram(w, threads=3)
    direct = (IF * w) @ IF.T
    np.testing.assert_allclose(one, direct, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(three, direct, rtol=1e-12, atol=1e-9)
    assert np.array_equal(three, three.T)


def test_kernel_threads_setting_and_environment(monkeypatch, restore_kernel_threads):
    monkeypatch.setenv("ALLYSCALE_KERNEL_THREADS", "3")
    assert _threads.kernel_threads() == 3
    _threads.set_kernel_threads(2)
    assert _threads.kernel_threads() == 2
    _threads.set_kernel_threads(None)
    monkeypatch.setenv("ALLYSCALE_KERNEL_THREADS", "zero")
    with pytest.raises(SpecificationError, match="ALLYSCALE_KERNEL_THREADS must be a positive integer, got 'zero'"):
        _threads.kernel_threads()
    monkeypatch.delenv("ALLYSCALE_KERNEL_THREADS")
    assert _threads.kernel_threads() == 1  # the default (see allyscale._threads)
    with pytest.raises(SpecificationError, match="kernel threads must be a positive integer"):
        _threads.set_kernel_threads(0)


def test_monte_carlo_workers_run_the_split_kernels_on_one_thread(monkeypatch):
    from allyscale.montecarlo import runner
    from allyscale.montecarlo.spec import _BLAS_ENV

    assert "ALLYSCALE_KERNEL_THREADS" in _BLAS_ENV
    for var in _BLAS_ENV:
        monkeypatch.setenv(var, "4")
    monkeypatch.setattr(runner, "_exit_with_parent", lambda parent: None)
    runner._worker_init(None)
    try:
        assert _threads.kernel_threads() == 1
    finally:
        if runner._LIMITER is not None:
            runner._LIMITER.restore_original_limits()


def test_cfa_passes_the_kernel_threads_to_the_estimator(monkeypatch, restore_kernel_threads):
    from conftest import reference_data

    import allyscale as al
    from allyscale._core import wlsmv

    seen = []
    real = wlsmv.estimate

    def spy(*args, **kwargs):
        seen.append(kwargs.get("threads"))
        return real(*args, **kwargs)

    monkeypatch.setattr(wlsmv, "estimate", spy)
    _threads.set_kernel_threads(3)
    data = reference_data("sim60")
    al.cfa(data, "f =~ i01 + i02 + i03 + i04 + i05", estimator="WLSMV")
    assert seen == [3]


def test_threaded_wlsmv_fit_equals_one_thread(monkeypatch, restore_kernel_threads):
    """The split Gram matrix and the split catML trace change nothing but the order of a sum."""
    import allyscale as al
    from allyscale._core import wlsmv

    data = reference_data("sim60").iloc[:150]  # N = 150 < q = 225: the influence form
    items = [f"i{j:02d}" for j in (1, 2, 3, 4, 5, 6, 16, 17, 18, 19, 20, 21, 28, 29, 30, 31, 32, 33)]
    model = "\n".join(f"f{f + 1} =~ " + " + ".join(items[6 * f : 6 * f + 6]) for f in range(3))
    monkeypatch.setattr(wlsstats, "_SPLIT_WORK", 0.0)
    monkeypatch.setattr(wlsmv, "_CATML_SPLIT", 0.0)
    monkeypatch.setattr(wlsmv, "_CATML_BLOCK", 153 * 10)  # blocks of 10 cases
    fits = {}
    for n in (1, 3):
        _threads.set_kernel_threads(n)
        wlsmv._clear_cache()
        fits[n] = al.cfa(data, model, estimator="WLSMV")
    assert fits[1].diagnostics["gamma_form"] == "influence"
    keys = ["chisq.scaled", "cfi.scaled", "rmsea.scaled", "cfi.robust", "tli.robust", "rmsea.robust"]
    np.testing.assert_allclose(
        [fits[3].fit_measures[k] for k in keys], [fits[1].fit_measures[k] for k in keys], rtol=1e-12
    )
    np.testing.assert_allclose(fits[3].estimates["se"], fits[1].estimates["se"], rtol=1e-10)
