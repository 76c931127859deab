"""Which dated folders to keep: a pure function over folder names, so every rule is tested without I/O.

Only folders named exactly `<name>_YYYY-MM-DD` with a real calendar date up to today are ever candidates. Other
backups' folders, look-alikes (`<name>_2026-13-45`) and folders dated in the future are neither deleted nor
counted as keepers.
"""

import dataclasses
import datetime
import re

from tasks.config import RetentionPolicy


@dataclasses.dataclass(frozen=True)
class RetentionPlan:
    keep: tuple[str, ...]        # newest first
    delete: tuple[str, ...]      # newest first
    ignored: tuple[str, ...]     # look like ours but are not valid dates up to today: never touched
    incomplete: tuple[str, ...]  # kept although they have no SHA256SUMS (within the window the rules span)


def folder_name(backup: str, day: datetime.date) -> str:
    return f"{backup}_{day.isoformat()}"


def dated_folders(backup: str, names, today: datetime.date) -> tuple[dict[str, datetime.date], list[str]]:
    """Split `names` into this backup's dated folders (name -> date) and suspicious look-alikes."""
    pattern = re.compile(re.escape(backup) + r"_(\d{4}-\d{2}-\d{2})")
    dated, ignored = {}, []
    for name in names:
        match = pattern.fullmatch(name)
        if not match:
            continue
        try:
            day = datetime.date.fromisoformat(match[1])
        except ValueError:
            ignored.append(name)
            continue
        if day > today:
            ignored.append(name)
        else:
            dated[name] = day
    return dated, sorted(ignored)


def plan(backup: str, names, today: datetime.date, policy: RetentionPolicy, complete: set[str]) -> RetentionPlan:
    """Keep today's folder, and of the complete folders (those in `complete`) the `policy.last` newest and the
    newest of each of the last days/weeks/months.

    Incomplete folders (an interrupted copy, no SHA256SUMS) never count as keepers, so they never push out a
    complete one. They are kept while they lie within the folders the rules would keep if every folder counted,
    and deleted once they fall out of that window, so they cannot pile up.
    """
    dated, ignored = dated_folders(backup, names, today)
    newest_first = sorted(dated, key=dated.get, reverse=True)
    keep = _kept_by_rules([name for name in newest_first if name in complete], dated, policy)
    window = _kept_by_rules(newest_first, dated, policy)
    incomplete = {name for name in newest_first if name not in complete and (name in window or dated[name] == today)}
    keep |= incomplete | {name for name in newest_first if dated[name] == today}
    return RetentionPlan(
        keep=tuple(n for n in newest_first if n in keep),
        delete=tuple(n for n in newest_first if n not in keep),
        ignored=tuple(ignored),
        incomplete=tuple(n for n in newest_first if n in incomplete),
    )


def _kept_by_rules(newest_first: list[str], dated: dict, policy: RetentionPolicy) -> set[str]:
    keep = set(newest_first[: policy.last])
    for count, period in ((policy.days, _day), (policy.weeks, _iso_week), (policy.months, _month)):
        keep.update(_newest_per_period(newest_first, dated, period, count))
    return keep


def _newest_per_period(newest_first, dated, period, count) -> list[str]:
    """restic's (0.16 and later) keep-daily/weekly/monthly: the newest folder of each of the last `count` periods
    that have one and, while fewer periods have one than `count`, the oldest folder too, so a young history keeps
    its first day instead of only its last."""
    kept, seen = [], set()
    for name in newest_first:
        if len(seen) >= count:
            break
        key = period(dated[name])
        if key not in seen:
            seen.add(key)
            kept.append(name)
    if 0 < len(seen) < count and newest_first[-1] not in kept:
        kept.append(newest_first[-1])
    return kept


def _day(day: datetime.date):
    return day


def _iso_week(day: datetime.date):
    return day.isocalendar()[:2]


def _month(day: datetime.date):
    return day.year, day.month
