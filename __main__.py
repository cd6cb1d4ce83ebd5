"""Entry point for `python -m charmony`."""

from charmony.cli import main

main()
