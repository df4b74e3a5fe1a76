"""`python -m propbridge` runs the CLI."""

from propbridge.cli import main

main()
