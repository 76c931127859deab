"""One way to show a moment, everywhere a person reads one (log, summary, alerts, result files, mail): local time
with seconds and the UTC offset, e.g. `2026-11-22 07:30:12 +0100`."""

import datetime

FORMAT = "%Y-%m-%d %H:%M:%S %z"


def stamp(moment: datetime.datetime | None = None) -> str:
    """`moment` (default: now) in local time, as FORMAT."""
    return (moment or datetime.datetime.now()).astimezone().strftime(FORMAT)
