"""The single place the ei-usage version is written (pyproject.toml reads it from here)."""

__version__ = "0.3.0"
