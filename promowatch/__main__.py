"""`python -m promowatch` = the `promowatch` command."""

from promowatch.cli import main

main()
