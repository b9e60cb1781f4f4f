"""`python -m mobile_sim` → the `mobile-sim` command line."""

from mobile_sim.cli import main

main()
