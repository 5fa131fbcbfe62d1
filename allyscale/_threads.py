"""BLAS/OpenMP threads inside allyscale's numerical entry points.

allyscale's matrices are small (tens to a few hundred rows and columns), and threaded BLAS
makes small products *slower*: the threads synchronise on every call, and when other
processes use the cores (a shared server, Monte Carlo workers beside a notebook) a
multi-threaded BLAS waits for descheduled threads. On psych's bfi, ML with FIML took 43 s
through the Python API against 3.4 s single-threaded while other processes were running.
The command line pins BLAS to one thread for the whole process; a library must not change
a user's global setting, so the public entry points that run numerical kernels are
wrapped in :func:`blas_limited` instead: inside the call BLAS (and OpenMP) use
``blas_threads()`` threads (default 1); on return the user's own settings are restored.

Only the outermost call sets and restores the limit (a process-wide count, safe when
several Python threads call allyscale at once); nested calls (``validate`` → ``cfa`` →
``polychoric``) only count. The limiter reuses one
:class:`threadpoolctl.ThreadpoolController`, so entering and leaving costs tens of
microseconds rather than the milliseconds of scanning the loaded libraries each time
(``benchmarks/bench_threads.py`` measures both).

Set the number of threads with :func:`set_blas_threads` (``None``: leave BLAS alone) or
the environment variable ``ALLYSCALE_BLAS_THREADS`` (an integer, or ``none``).

A few kernels are large enough to split coarsely instead: the N x N Gram matrix of WLSMV's
influence form at N <= q (p = 200 items: 20,700 statistics) costs N^2 q operations, and
its blocks of columns (and the blocks of cases of the catML trace) are independent
single-threaded BLAS calls. They can run in :func:`kernel_threads` Python threads (the
environment variable ``ALLYSCALE_KERNEL_THREADS`` or :func:`set_kernel_threads`), each
block on one BLAS thread, so there is no fine-grained synchronisation to stall on a busy
machine. The default is 1: on the 2-vCPU machine of ``benchmarks/bench_engine.py`` two
threads did not make the 200-item fit faster (2.29-2.95 s against 2.48-2.68 s, 130 MB more
memory), as two vCPUs of one core share its floating-point units. Monte Carlo and search
workers set it to 1 whatever the setting (their parallelism is the processes).
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy  # noqa: F401 - load numpy's BLAS before the controller looks for libraries
import scipy.linalg  # noqa: F401 - and scipy's, which may be a different library

__all__ = ["blas_limited", "blas_threads", "set_blas_threads", "limit_blas", "kernel_threads", "set_kernel_threads"]

F = TypeVar("F", bound=Callable[..., Any])

_UNSET = object()
_setting: Any = _UNSET  # int, None (leave alone), or unset: read the environment
_lock = threading.Lock()
_depth = 0  # calls currently inside a limited region, over all Python threads
_limiter: Any = None  # the active threadpoolctl limiter of the outermost call
_controller: Any = None
_modules_seen = -1  # len(sys.modules) when the controller was made (new imports may load a BLAS)


def _from_env() -> int | None:
    raw = os.environ.get("ALLYSCALE_BLAS_THREADS", "").strip().lower()
    if raw in ("", "1"):
        return 1
    if raw in ("none", "off", "0"):
        return None
    try:
        value = int(raw)
    except ValueError:
        from allyscale.errors import SpecificationError

        raise SpecificationError(f"ALLYSCALE_BLAS_THREADS must be a positive integer or 'none', got {raw!r}") from None
    if value < 1:
        return None
    return value


def blas_threads() -> int | None:
    """The number of BLAS/OpenMP threads allyscale's calls run with (``None``: not limited)."""
    return _from_env() if _setting is _UNSET else _setting


def set_blas_threads(n: int | None) -> None:
    """Set the BLAS/OpenMP threads used inside allyscale's calls (default 1; ``None``: leave BLAS as it is).

    This changes only what happens inside allyscale's functions; outside them BLAS keeps
    whatever the user (or ``threadpoolctl``) set.
    """
    global _setting
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        from allyscale.errors import SpecificationError

        raise SpecificationError(f"blas threads must be a positive integer or None, got {n!r}")
    _setting = n


_kernel_setting: int | None = None  # None: the environment, else the usable cores


def kernel_threads() -> int:
    """Python threads for the coarsely split large kernels (see the module docstring)."""
    if _kernel_setting is not None:
        return _kernel_setting
    raw = os.environ.get("ALLYSCALE_KERNEL_THREADS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            from allyscale.errors import SpecificationError

            raise SpecificationError(f"ALLYSCALE_KERNEL_THREADS must be a positive integer, got {raw!r}")
        return value
    return 1


def set_kernel_threads(n: int | None) -> None:
    """Set the threads of the large split kernels (``None``: back to the environment, default 1)."""
    global _kernel_setting
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        from allyscale.errors import SpecificationError

        raise SpecificationError(f"kernel threads must be a positive integer or None, got {n!r}")
    _kernel_setting = n


def _get_controller():
    global _controller, _modules_seen
    try:  # threadpoolctl >= 3.6 keeps one, rebuilt when new modules (hence maybe new libraries) were imported
        from threadpoolctl import get_cached_controller

        return get_cached_controller()
    except ImportError:
        pass
    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController

        _modules_seen = len(sys.modules)
        _controller = ThreadpoolController()
    return _controller


def _release_openblas_control() -> None:
    """Let any Python thread set OpenBLAS limits again (threadpoolctl >= 3.6 gives one thread control)."""
    try:
        from threadpoolctl import OpenBLASController
    except ImportError:
        return
    clear = getattr(OpenBLASController, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def _enter() -> None:
    global _depth, _limiter
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        try:
            n = blas_threads()
            if n is None:
                return
            controller = _get_controller()
            # nothing to do when every library already runs with at most n threads
            if any((lib.num_threads or 0) > n for lib in controller.lib_controllers):
                _limiter = controller.limit(limits=n)
        except BaseException:
            _depth -= 1
            raise


def _exit() -> None:
    global _depth, _limiter
    with _lock:
        _depth -= 1
        if _depth == 0 and _limiter is not None:
            limiter, _limiter = _limiter, None
            # the last call to leave may run in another Python thread than the first to enter: take control of
            # OpenBLAS for the restore, then give it back
            _release_openblas_control()
            try:
                limiter.restore_original_limits()
            finally:
                _release_openblas_control()


class limit_blas:
    """Context manager: BLAS/OpenMP limited to :func:`blas_threads` inside, restored on exit (nestable)."""

    def __enter__(self) -> limit_blas:
        _enter()
        return self

    def __exit__(self, *exc: object) -> None:
        _exit()


def blas_limited(func: F) -> F:
    """Decorator for public entry points running numerical kernels (see the module docstring)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _enter()
        try:
            return func(*args, **kwargs)
        finally:
            _exit()

    return wrapper  # type: ignore[return-value]
