"""`python -m btcwatch`."""

from btcwatch.cli import main

main()
