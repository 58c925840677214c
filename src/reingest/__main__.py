"""``python -m reingest``: the same as the ``reingest`` command."""

from .cli import main

main()
