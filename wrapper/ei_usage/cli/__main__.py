"""``python -m ei_usage.cli``: the same as the ``ei-usage`` command."""

from . import main

main()
