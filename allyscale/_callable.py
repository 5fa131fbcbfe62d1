"""Modules that are also their main function: ``allyscale.cfa`` is the module and ``al.cfa(data, model)`` works.

Ten public functions share their module's name (``cfa``, ``efa``, ``polychoric``, ``invariance``, ``mtmm``,
``reliability``, ``dfi``, ``irt``, ``shorten``, ``simulate``). Python binds a package attribute to a submodule
when the submodule is imported, so a function and a module cannot both be ``allyscale.cfa``. allyscale keeps the
module — ``import allyscale.cfa as m`` gives the module, ``from allyscale.cfa import CFAResult`` works — and makes
it callable: calling it calls the function of the same name, whose signature it reports
(``inspect.signature(al.cfa)``). A module opts in with one line at its end::

    make_callable(__name__, cfa)
"""

from __future__ import annotations

import inspect
import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["make_callable"]


class CallableModule(types.ModuleType):
    """A module whose call is its main function (``__wrapped__``)."""

    __wrapped__: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.__wrapped__)


def make_callable(module_name: str, function: Callable[..., Any]) -> None:
    """Make the module ``module_name`` callable as ``function``."""
    module = sys.modules[module_name]
    module.__class__ = CallableModule
    setattr(module, "__wrapped__", function)  # noqa: B010 - a module attribute mypy cannot see
