"""Integration-health detector: the pure core (contracts, windows, detection) and the CLI.

Modules here take counts and timestamps and return decisions; they never read a clock,
a socket or Kafka, so the same code runs live in the Faust worker and in offline replay.
The shell modules (``cli``, ``settings``) are the only ones that touch the outside world.
"""

__version__ = "0.1.0"
