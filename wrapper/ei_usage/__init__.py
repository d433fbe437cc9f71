"""Typed client for Edge Impulse organization usage: white-label compute time and metrics."""

from ._version import __version__

__all__ = ["__version__"]
