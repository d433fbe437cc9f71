"""Modules imported when first used, so that ``from ei_usage import Client`` stays light.

A tool that builds a client and makes one call should not pay at import for what only reports,
listings or the first answer need: the generated client and its models, the report machinery,
``asyncio`` and thread pools. The client refers to those modules through :class:`LazyModule`
(``_calls.compute_time_call(...)`` reads the same either way); the first attribute read imports
the module.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType


class LazyModule:
    """Stands for a module of this package until it is used; each read goes to the module.

    Attributes are not cached here, only the module: a test that patches the module's
    attribute is seen, and a read costs a call more than a plain module's (well under a
    microsecond per request).

    The module is taken from ``importlib.import_module``, never straight from ``sys.modules``:
    there a module another thread is still importing is already listed, half initialized, and
    the first requests of a threaded report would read names it does not have yet. The import
    system's lock makes every thread wait for the whole module.
    """

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None  # not evaluated: a function's annotation

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
