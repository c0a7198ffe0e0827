"""Who is told about what: the subscriptions file, validated.

```yaml
timezone: Europe/Moscow            # of the mute windows
group_wait: 30s                    # changes within this wait go out as one mail
repeat_interval: 4h                # an unresolved problem is mailed again after this
subscribers:
  - email: ops@example.com
    integrations: ["website", "app"]          # globs; or operations: ["Website.*"]
    statuses: [many_problems, no_calls]       # default: every problem status
    recovery: true                            # a mail when it is ok again (default)
    mute: ["weekdays 22:00-07:00", "weekends 00:00-24:00"]
  - webhook: http://127.0.0.1:9000/alerts     # the same, as JSON POSTs
    operations: ["*"]
  - alertmanager: http://127.0.0.1:9093       # as alerts, routed by Alertmanager
    operations: ["*"]                         # group_wait 0s, repeat_interval 1m here
```
"""

from __future__ import annotations

import fnmatch
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from detector.errors import ConfigError
from detector.opconfig import parse_duration
from detector.status import PROBLEMS, Status
from detector.timerange import TimeRange

ALERTMANAGER_PREFIX = "alertmanager+"
# Alertmanager does its own grouping; the detector re-posts a standing problem this often
# (seconds) so that its alert stays firing.
ALERTMANAGER_REPEAT = 60


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone") from None
    return value


Zone = Annotated[str, AfterValidator(_known_zone)]


class Subscriber(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook: str | None = Field(None, pattern=r"^https?://")
    alertmanager: str | None = Field(None, pattern=r"^https?://")
    operations: tuple[str, ...] = ()
    integrations: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = tuple(sorted(PROBLEMS))
    recovery: bool = True
    mute: tuple[TimeRange, ...] = ()
    timezone: Zone | None = None  # Of this subscriber's mute windows; default: the file's.
    # This subscriber's own; default: the file's (for Alertmanager: 0 and ALERTMANAGER_REPEAT).
    group_wait: int | None = None
    repeat_interval: int | None = Field(None, ge=1)

    @field_validator("group_wait", "repeat_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_channel(self) -> Subscriber:
        if [self.email, self.webhook, self.alertmanager].count(None) != 2:
            raise ValueError("give exactly one of email, webhook or alertmanager")
        if self.alertmanager and not self.recovery:
            raise ValueError("an alertmanager subscriber needs recovery: its alerts resolve by it")
        if not self.operations and not self.integrations:
            raise ValueError("give operations or integrations (globs; '*' for everything)")
        return self

    @property
    def address(self) -> str:
        """The recipient key: ``mailto:…``, the webhook URL or ``alertmanager+`` its URL."""
        if self.alertmanager:
            return f"{ALERTMANAGER_PREFIX}{self.alertmanager}"
        return f"mailto:{self.email}" if self.email else str(self.webhook)

    def wants(self, operation: str, integration: str | None) -> bool:
        return self.matched_by(operation, integration) is not None

    def matched_by(self, operation: str, integration: str | None) -> str | None:
        """Which of its globs matches, e.g. ``operations 'Website.*'``; None if none."""
        for pattern in self.operations:
            if fnmatch.fnmatchcase(operation, pattern):
                return f"operations {pattern!r}"
        for pattern in self.integrations:
            if integration is not None and fnmatch.fnmatchcase(integration, pattern):
                return f"integrations {pattern!r}"
        return None


class Subscriptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: Zone = "UTC"
    group_wait: int = 30
    repeat_interval: int = 4 * 3600
    subscribers: tuple[Subscriber, ...] = ()

    @field_validator("group_wait", "repeat_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def for_change(self, operation: str, integration: str | None) -> list[Subscriber]:
        return [s for s in self.subscribers if s.wants(operation, integration)]

    def group_wait_of(self, subscriber: Subscriber) -> int:
        if subscriber.group_wait is not None:
            return subscriber.group_wait
        return 0 if subscriber.alertmanager else self.group_wait

    def repeat_interval_of(self, subscriber: Subscriber) -> int:
        if subscriber.repeat_interval is not None:
            return subscriber.repeat_interval
        return ALERTMANAGER_REPEAT if subscriber.alertmanager else self.repeat_interval

    def local_time(self, subscriber: Subscriber, now: float) -> datetime:
        """``now`` in the time zone of the subscriber's mute windows."""
        zone = ZoneInfo(subscriber.timezone) if subscriber.timezone else self.zone
        return datetime.fromtimestamp(now, tz=UTC).astimezone(zone)

    def mute_window(self, subscriber: Subscriber, now: float) -> TimeRange | None:
        """The subscriber's mute window ``now`` is in, if any."""
        if not subscriber.mute:
            return None
        local = self.local_time(subscriber, now)
        minute = local.hour * 60 + local.minute
        return next((w for w in subscriber.mute if w.contains(local.weekday(), minute)), None)

    def by_address(self, address: str) -> Subscriber | None:
        return next((s for s in self.subscribers if s.address == address), None)


def parse_subscriptions(data: dict[str, Any], source: str) -> Subscriptions:
    """Validated subscriptions; a ``ConfigError`` naming the file, the entry and the field."""
    try:
        return Subscriptions.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            if loc[:1] == ["subscribers"] and len(loc) > 1:
                where = f"subscribers[{loc[1]}]" + "".join(f".{p}" for p in loc[2:])
            else:
                where = ".".join(loc) or "file"
            problems.append(f"{source}: {where}: {err['msg']}")
        raise ConfigError("\n".join(problems)) from None
