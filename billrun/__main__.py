"""`python -m billrun` is the `billrun` command."""

from billrun.cli import main

main()
