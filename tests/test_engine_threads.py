"""The split Gram matrix of WLSMV's influence form: the same matrix with one or several threads."""

from __future__ import annotations

import numpy as np
import pytest

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
    assert 1 <= _threads.kernel_threads() <= 4
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
