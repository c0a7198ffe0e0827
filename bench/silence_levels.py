"""What the busy shop's 12:00 silence of the quality suite would take if the detector
knew the silent hour's level: an experiment on the engine, not the product.

    .venv/bin/python bench/silence_levels.py [--family realistic ...] [--seeds 1 2 3]

The silence starts with a clock hour, so the detector has seen no call of that hour
and only doubts its level (``rules.level_estimate`` with no calls). Here the engine is
run with ``rules.level_estimate`` answering, for that operation and hour only, either
the simulator's true level of the hour relative to the detector's own expectation (no
doubt left: ``known``), or the business-wide part of it, the operation's own wobble
still doubted by its learned spread (``shared``: what reading the other operations'
first minutes of the hour could give at best). Prints the delay of each run beside the
detector's own and the quality bench's target (``bench/detection_quality.py``).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from detection_quality import FAMILIES, START, Family, silence_reference  # bench/, run as a script

from detector import engine, rules
from detector.events import OperationCall
from detector.opconfig import DetectionConfig
from detector.replay import replay
from detector.simulate import (
    DAY,
    REALISTIC_PROFILES,
    _business,
    generate,
    suite_incidents,
    true_rate,
)

PROFILE = next(p for p in REALISTIC_PROFILES if p.operation == "Pos.Sale")
INCIDENT = next(i for i in suite_incidents(START, realistic=True) if i.operation == "Pos.Sale")
# (window start, the detector's expected calls in it, the learned spread) -> the level.
Answer = Callable[[int, float, float], "tuple[float, float] | None"]


@contextmanager
def levels(answer: Answer) -> Iterator[None]:
    """``Engine._silence`` takes the silent hour's level from ``answer``; the quiet loop is
    off (it weighs silences through ``_silence`` too, but each window must be stepped to
    know which one is being judged)."""
    step, estimate, quiet = engine.Engine._step, rules.level_estimate, engine.quiet_windows
    current: list[tuple[int, float] | None] = [None]

    def stepped(self: engine.Engine, st: Any, operation: str, rule: Any, start: int,
                counts: Any, snap: Any = None) -> Any:  # fmt: skip
        if operation == PROFILE.operation and INCIDENT.start <= start < INCIDENT.end:
            current[0] = start, st.baseline.rate(start, self.window, self.calendar)[0]
        try:
            return step(self, st, operation, rule, start, counts, snap)
        finally:
            current[0] = None

    def estimated(
        calls: float, expected: float, spread: float, dispersion: float
    ) -> tuple[float, float]:
        found = None if current[0] is None else answer(*current[0], spread)
        return estimate(calls, expected, spread, dispersion) if found is None else found

    engine.Engine._step = stepped  # type: ignore[method-assign]
    engine.quiet_windows = lambda *args: 0
    rules.level_estimate = estimated
    try:
        yield
    finally:
        engine.Engine._step = step  # type: ignore[method-assign]
        engine.quiet_windows = quiet
        rules.level_estimate = estimate


def delay(family: Family, seed: int, mode: str) -> float:
    """Minutes from the silence's start to ``no_calls`` with the level of ``mode``."""

    def answer(window: int, expected: float, spread: float) -> tuple[float, float] | None:
        if mode == "known":
            level = true_rate(PROFILE, window, seed=seed, realism=family.realism, bursty=False)
            return math.log(level / expected), 0.0
        if mode == "shared":
            business = _business(seed, window - window % DAY, family.realism)
            return float(business[window % DAY // 3600]), spread
        return None

    records = generate(
        REALISTIC_PROFILES,
        suite_incidents(START, realistic=True),
        START,
        INCIDENT.end,
        seed=seed,
        realism=family.realism,
    )
    calls = [OperationCall.model_validate(r) for r in records]
    with levels(answer):
        for change in replay(calls, DetectionConfig()):
            at = change.at.timestamp()
            if change.operation == PROFILE.operation and at >= INCIDENT.start:
                return (at - INCIDENT.start) / 60
    return math.inf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bursty = [f.name for f in FAMILIES if f.realism.minute_shape]
    parser.add_argument("--family", nargs="+", choices=bursty, default=bursty)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5, 6])
    args = parser.parse_args()
    print(
        "Pos.Sale silent from 12:00, minutes to no_calls, seed by seed: the detector / "
        "the hour's level known / its business-wide part known / the target"
    )
    for family in (f for f in FAMILIES if f.name in args.family):
        figures = []
        for seed in args.seeds:
            own, known, shared = (delay(family, seed, m) for m in ("own", "known", "shared"))
            target = silence_reference(PROFILE, INCIDENT, seed, family.realism) / 60
            figures.append(f"{own:.0f}/{known:.0f}/{shared:.0f}/{target:.1f}")
        print(f"  {family.name:<14} {'  '.join(figures)}")


if __name__ == "__main__":
    main()
