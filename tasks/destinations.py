"""A backup's several destinations: each is worked on as if it were the only one, and their outcomes are told as one.

A backup with one destination is worked on as it always was: its job is the destination's job. With several, each
destination gets a job of its own (the backup seen at that destination, with its own result), the steps run on
them side by side, at most `parallel_destinations` at once so one slow remote leaves the others a worker, and a
Stop ends only that destination. `merge` then tells them as one result: the status is the worst of them, the reason
says how many were ok, every alert says where it happened, and each destination's outcome stays in
`result.destinations` for the summary.
"""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from tasks import rclone as rc
from tasks import results
from tasks.config import Backup
from tasks.job import Job, Stop, perform


def where(backup: Backup) -> str:
    """The destination a message names: its rclone_path, secrets masked."""
    return rc.redact(backup.rclone_path)


def several(backup: Backup) -> bool:
    return len(backup.destinations) > 1


class Fanout:
    """The jobs of a backup's destinations, and the steps run on each that is still going."""

    def __init__(self, job: Job, parallel: int):
        self.job, self.parallel = job, parallel
        if not several(job.backup):
            self.jobs = [job]
            return
        self.jobs = [dataclasses.replace(job, backup=job.backup.at(index), result=_copy_of(job.result))
                     for index in range(len(job.backup.destinations))]

    def going(self) -> list[Job]:
        """The destinations no step has failed or skipped yet."""
        return [job for job in self.jobs if job.result.succeeded]

    def run(self, step, also_failed: bool = False) -> None:
        """`step(job)` on each destination still going (`also_failed`: and those a step failed, not those
        skipped); with several, each Stop ends that destination only."""
        if len(self.jobs) == 1:  # its Stop ends the backup, as it always did
            step(self.jobs[0])
            return
        going = [job for job in self.jobs if job.result.succeeded or (also_failed and job.result.status == "failed")]
        with ThreadPoolExecutor(max_workers=max(1, min(self.parallel, len(going)))) as pool:
            list(pool.map(lambda job: perform(job, step), going))

    def merge(self) -> None:
        """Tell the destinations' outcomes as the backup's result (nothing to do with one destination)."""
        if len(self.jobs) == 1:
            return
        merge(self.job.result, [(where(job.backup), job.result) for job in self.jobs])


def _copy_of(result: results.Result) -> results.Result:
    """A destination's own result, starting from what the backup found before the destinations went separate."""
    return dataclasses.replace(result, alerts=[], metrics={}, pruned=[], destinations=[])


def merge(into: results.Result, outcomes: list[tuple[str, results.Result]]) -> None:
    """The status is the worst of the destinations'; the reason says how many were ok and why the worst one was
    not; an alert that happened at several destinations is said once, naming them; a measurement every destination
    that ran agrees on (the rclone version, what was copied) is the backup's too."""
    said: dict[tuple[str, str], list[str]] = {}
    for place, result in outcomes:
        for alert in result.alerts:
            said.setdefault((alert.level, alert.message), []).append(place)
    for (level, message), places in said.items():
        into.alert(level, f"at {', '.join(places)}: {message}")
    ok = sum(result.succeeded for _, result in outcomes)
    worst_place, worst = max(outcomes, key=lambda outcome: results.STATUSES.index(outcome[1].status))
    reason = f"{ok} of {len(outcomes)} destinations ok"
    if worst.status != "ok":
        reason += f"; at {worst_place}: {worst.reason}"
    ran = any(result.status != "skipped" for _, result in outcomes)  # a destination skipped is one that failed
    status = "failed" if ran and worst.status == "skipped" else worst.status
    into.escalate(status, reason)
    if into.status == status:
        into.reason = reason
    into.destinations = [{"where": place, "status": result.status, "reason": result.reason,
                          "destination": result.destination, "pruned": result.pruned, "metrics": result.metrics,
                          "duration_s": result.duration_s} for place, result in outcomes]
    into.destination = " + ".join(result.destination for _, result in outcomes)
    shared = [result.metrics for _, result in outcomes if result.status != "skipped"]
    into.metrics.update({key: value for key, value in shared[0].items()
                         if all(other.get(key) == value for other in shared[1:])} if shared else {})


def outcome_at(result: results.Result, index: int) -> tuple[str, str]:
    """(status, reason) of a check's result at destination number `index`: its own entry when the backup has
    several, else the whole result."""
    if result.destinations and index < len(result.destinations):
        entry = result.destinations[index]
        return entry["status"], entry["reason"]
    return result.status, result.reason


def pick(backup: Backup, wanted: str | None) -> Backup:
    """The backup seen at the destination `dest=` names: its number (1 is the first), its remote's name or its
    rclone_path; the first when not given. Stop naming the choices when it names none, or several."""
    if not wanted:
        return backup
    choices = [(index, item.rclone_path) for index, item in enumerate(backup.destinations)]
    found = [index for index, path in choices
             if wanted in (str(index + 1), path, rc.redact(path), rc.remote_name(path))]
    if len(found) == 1:
        return backup.at(found[0])
    listed = "; ".join(f"dest={index + 1}: {rc.redact(path)}" for index, path in choices)
    problem = "matches several destinations" if found else "names no destination"
    raise Stop("ERROR", f"dest={wanted} {problem} of {backup.name} ({listed})")
