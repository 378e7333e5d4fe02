"""`python -m gateway.simulator ...`, the same as `movehub simulate ...`."""

from gateway.simulator.cli import main

main()
