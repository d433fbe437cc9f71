"""Modules imported when first used, so that ``from ei_usage import Client`` stays light.

A tool that builds a client and makes one call should not pay at import for what only reports,
listings or the first answer need: the generated client and its models, the report machinery,
``asyncio`` and thread pools. The client refers to those modules through :class:`LazyModule`
(``_calls.compute_time_call(...)`` reads the same either way); the first attribute read imports
the module.
"""

import importlib
import sys
from typing import Any


class LazyModule:
    """Stands for a module of this package until it is used; each read goes to the module.

    Reads are not cached here: a test that patches the module's attribute is seen, and a read
    costs a dict look-up more than a plain module's (well under a microsecond per request).
    """

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        module = sys.modules.get(self._name)
        if module is None:
            module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
