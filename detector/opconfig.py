"""Per-operation detection configuration: rules matched by glob pattern.

```yaml
timezone: Europe/Moscow          # for time-of-day baselines and "on a Tuesday"
holidays: [2026-05-01, 2026-05-04]   # judged as weekend days, like the weekends around them
rules:                           # the first rule that matches an operation applies
  - operation: "Website.Unsubscribe"
    sensitivity: high            # low | normal | high
  - integration: "crm"
    expect_every: 15m            # no call for 15 min is `no_calls`, whatever was learned
    schedule: "weekdays 09:00-18:00"   # ... but only within these hours
  - operation: "Test.*"
    mute: true                   # never reported as a problem
  - operation: "Crm.Sync"
    stuck_after: 30m             # received/processing longer than this is stuck
    retry_horizon: 1h            # still retrying after this counts as a failure
masking:                         # every entry that matches applies (see detector/masking.py)
  - integration: "crm"
    reveal: [order_email]        # shown unmasked in the log view, the API and mails
    hide: ["customer.*"]         # hidden whole
```
"""

from __future__ import annotations

import fnmatch
import re
from datetime import date
from functools import cached_property
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from detector.errors import config_error
from detector.masking import FieldRules
from detector.timerange import TimeRange

# p-value below which a rule fires, per sensitivity (docs/detection.md, "The false-alarm budget").
P_VALUES = {"low": 1e-6, "normal": 1e-4, "high": 1e-3}
_DURATION = re.compile(r"^(\d+)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 15m, 4h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


class Selector(BaseModel):
    """Which operations an entry of the config is about: globs on operation and integration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operation: str | None = Field(None, description="Glob on the operation name.")
    integration: str | None = Field(None, description="Glob on the integration name.")

    def matches(self, operation: str, integration: str | None) -> bool:
        if self.operation is not None and not fnmatch.fnmatchcase(operation, self.operation):
            return False
        if self.integration is not None:
            return integration is not None and fnmatch.fnmatchcase(integration, self.integration)
        return True


class MaskRule(Selector):
    """Fields of the matching operations' payloads and error messages to show unmasked or
    to hide whole (``error_message`` names the error message)."""

    reveal: frozenset[str] = frozenset()
    hide: frozenset[str] = frozenset()


class Rule(Selector):
    sensitivity: Literal["low", "normal", "high"] = "normal"
    min_volume: int = Field(5, ge=1, description="Fewest calls an error ratio is judged on.")
    mute: bool = False
    expect_every: int | None = Field(None, description="Longest normal gap between calls.")
    schedule: TimeRange | None = None
    stuck_after: int | None = Field(
        None,
        gt=0,
        description="Events received or processing longer than this are stuck; "
        "default: learned from the operation's own processing times (5-15 min).",
    )
    retry_horizon: int = Field(
        900, gt=0, description="An event still retrying after this long counts as failed."
    )

    @field_validator("expect_every", "stuck_after", "retry_horizon", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @property
    def p_value(self) -> float:
        return P_VALUES[self.sensitivity]


class DetectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "UTC"
    holidays: frozenset[date] = Field(
        frozenset(), description="Local dates judged as weekend days (public holidays)."
    )
    rules: tuple[Rule, ...] = ()
    masking: tuple[MaskRule, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone like Europe/Moscow") from None
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def rule_for(self, operation: str, integration: str | None) -> Rule:
        for rule in self.rules:
            if rule.matches(operation, integration):
                return rule
        return DEFAULT_RULE

    def fields_for(self, operation: str, integration: str | None) -> FieldRules:
        """The masking rules of an operation: every ``masking`` entry that matches it."""
        matching = [m for m in self.masking if m.matches(operation, integration)]
        return FieldRules.combine(FieldRules(reveal=m.reveal, hide=m.hide) for m in matching)


DEFAULT_RULE = Rule()


def parse_detection_config(data: dict[str, Any], source: str) -> DetectionConfig:
    """A validated config; a ``ConfigError`` naming the source, the rule and the field."""
    try:
        return DetectionConfig.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, source, ("rules", "masking")) from None
