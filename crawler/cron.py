"""Crontab expressions and time zones, read into APScheduler triggers: shared by the
configuration (checked when sources.yaml is read) and ``docwatch schedule``."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# crontab numbers days of the week from Sunday (0 or 7); APScheduler 3 from Monday (0).
# Numbers are rewritten as names, which both read the same way.
_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NUMERIC_DAYS = re.compile(r"(?P<start>\*|\d+)(?:-(?P<end>\d+))?(?:/(?P<step>\d+))?")


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; a :class:`ValueError` naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    hint = next((z for z in sorted(available_timezones()) if z.lower() == name.lower()), None)
    suggestion = f"; did you mean {hint!r}?" if hint else \
        " (expected an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York')"
    raise ValueError(f"unknown time zone {name!r}{suggestion}")


def _crontab_weekdays(field: str) -> str:
    """Rewrite a crontab day-of-week field (0/7 = Sunday) for APScheduler 3 (names)."""
    days: list[str] = []
    for item in field.split(","):
        match = _NUMERIC_DAYS.fullmatch(item)
        if match is None:  # names (mon-fri), "last fri", ...: the same in both
            days.append(item)
            continue
        start, end, step = match["start"], match["end"], match["step"]
        if start == "*" and step is None:
            days.append("*")
            continue
        if start == "*":
            if end is not None:
                raise ValueError(f"bad day of week {item!r}")
            low, high = 0, 6
        else:
            low = int(start)
            high = int(end) if end is not None else (7 if step else low)
        if low > 7 or high > 7:
            raise ValueError(f"day of week {item!r} is out of range (0-7, 0 and 7 are Sunday)")
        if low > high:
            raise ValueError(f"bad day of week range {item!r}")
        if step is not None and int(step) == 0:
            raise ValueError(f"bad day of week step {item!r}")
        days.extend(_CRON_DAY_NAMES[d] for d in range(low, high + 1, int(step or 1)))
    return ",".join(dict.fromkeys(days))


def make_trigger(cron: str, timezone: str) -> BaseTrigger:
    """The trigger for a crontab expression in ``timezone``.

    ``cron`` is five crontab fields (minute hour day month weekday), six with the
    seconds first, or a macro such as ``@daily``. Raises :class:`ValueError` with a
    message that names the offending value.
    """
    tz = parse_timezone(timezone)
    fields = _MACROS.get(cron.strip().lower(), cron).split()
    if len(fields) == 5:
        second, (minute, hour, day, month, weekday) = "0", fields
    elif len(fields) == 6:
        second, minute, hour, day, month, weekday = fields
    else:
        raise ValueError(f"invalid cron expression {cron!r}: expected 5 fields (minute hour "
                         f"day month weekday) or 6 (second first), got {len(fields)}")
    try:
        weekdays = _crontab_weekdays(weekday)
        common = {"second": second, "minute": minute, "hour": hour, "month": month,
                  "timezone": tz}
        trigger: BaseTrigger
        if not day.startswith("*") and not weekday.startswith("*"):
            # crontab: when both are restricted, a day matching either one is a run day.
            trigger = OrTrigger([CronTrigger(day=day, **common),
                                 CronTrigger(day_of_week=weekdays, **common)])
        else:
            trigger = CronTrigger(day=day, day_of_week=weekdays, **common)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {cron!r}: {exc}") from None
    if trigger.get_next_fire_time(None, dt.datetime.now(tz)) is None:
        raise ValueError(f"cron expression {cron!r} never fires")
    return trigger


def next_fire_times(cron: str, timezone: str, n: int,
                    after: dt.datetime | None = None) -> list[dt.datetime]:
    """The next ``n`` times ``cron`` fires in ``timezone``, from ``after`` (default: now) on."""
    trigger = make_trigger(cron, timezone)
    moment = after or dt.datetime.now(parse_timezone(timezone))
    times: list[dt.datetime] = []
    fire = trigger.get_next_fire_time(None, moment)
    while fire is not None and len(times) < n:
        times.append(fire)
        after_fire = fire + dt.timedelta(microseconds=1)
        fire = trigger.get_next_fire_time(fire, after_fire)
    return times
