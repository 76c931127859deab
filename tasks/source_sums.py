"""This run's sums of the selected source files, computed once whatever the number of destinations.

One read of each file gives its sha256 (SHA256SUMS, what every destination is sealed with) and the md5 or sha1 a
destination checks its copy with: the copies are proven against the very content that was sealed. The hashing runs
in a watched child, in the background from the first destination that asks, so a copy without a reference folder
runs meanwhile.
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from tasks import integrity, progress, sealing, watchdog
from tasks.job import Job, Stop


class SourceSums:
    """`with SourceSums(job, kinds) as sums:` … `sums.start()` (at most once) … `sums.wait()` -> {"hashed",
    "problems"}, or {"stopped": why} when the source stopped answering or the run reached its time limit."""

    def __init__(self, job: Job, check_kinds):
        self.job = job
        self.also = sorted({kind for kind in check_kinds if kind in integrity.SECOND_HASHES})
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._future: Future | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> "SourceSums":
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)

    def start(self) -> None:
        with self._lock:
            if self._future is None:
                self._future = self._pool.submit(_hash, self.job, self.also)

    def wait(self) -> dict:
        self.start()
        return self._future.result()


def _hash(job: Job, also: list[str]) -> dict:
    payload = {"source": str(job.backup.source_dir), "list_file": str(job.state_file("files")),
               "sums_file": str(job.state_file(integrity.SUMS_NAME)),
               "also": {kind: str(sealing.sums_file(job, kind)) for kind in also}}

    def show_count(files: int, done: int) -> None:
        show(progress.hashing(files, done, job.result.files, job.result.bytes))

    try:
        with progress.of(job).showing("hashing") as show:
            return watchdog.run_child("hash", payload, job.run.stall_timeout, job.run.deadline, on_count=show_count)
    except watchdog.Stalled as error:
        return {"stopped": watchdog.why_stopped(error, f"source folder {job.backup.source_dir}", "hashed")}


def require_all_hashed(job: Job, hashed: dict) -> None:
    if "stopped" in hashed:
        raise Stop("CRITICAL", hashed["stopped"])
    job.result.metrics["sealed_files"] = hashed["hashed"]
    if hashed["problems"]:
        raise Stop("ERROR", f"{len(hashed['problems'])} files changed or vanished during the copy, so their copy "
                            "cannot be vouched for: " + "; ".join(hashed["problems"][:20]))
