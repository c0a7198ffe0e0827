"""Integration-health detector: the pure core (contracts, windows, detection, rendering).

Modules here take counts and timestamps and return decisions; they never read a clock,
the environment, a file, a socket or Kafka, so the same code runs live in the Faust
worker and in offline replay. The shell (``agents``: the CLI, settings, Faust agents,
web) does all of that; an import-linter contract in ``pyproject.toml`` keeps it so.
"""

__version__ = "0.1.0"
