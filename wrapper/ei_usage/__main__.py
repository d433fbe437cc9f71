"""``python -m ei_usage``: say what this package is and which API operations it wraps."""

from __future__ import annotations

import pkgutil

from . import __version__


def main() -> None:
    """Print the version and the vendored Edge Impulse operations."""
    from edge_impulse_api_client.api import organizations

    print(f"ei-usage {__version__}")
    print("Edge Impulse operations in the generated client:")
    for module in pkgutil.iter_modules(organizations.__path__):
        print(f"  {module.name}")


if __name__ == "__main__":
    main()
