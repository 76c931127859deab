"""A database server as a backup's source: each chosen database dumped (tasks.dump_tool) into the backup's staging
folder, which the run then copies, verifies, seals and prunes like any folder; the staging folder is emptied after
every run, so the only copies of a dump are the sealed ones.

The check (the source check of `check_mounts`) proves before anything runs that the server answers, that every
chosen database exists and that the dump user may dump its tables and views (its schema, dumped to nowhere),
and that the staging folder has room for the data as the server counts it. A dump is named after its database,
percent-encoded where the name is not a plain file name (tasks.dump_tool.file_name). A dump that fails names the
database and the server's words, and fails the backup: nothing is copied or pruned.
"""

import shutil
import time

from tasks import file_safety, render
from tasks.dump_tool import DumpError, MariaDB
from tasks.job import Job, Stop
from tasks.summary import format_bytes


def server(job: Job) -> MariaDB:
    """The backup's server; its option files go to the private file lists folder."""
    try:
        file_safety.private_folder(job.run.lists_dir, "file lists folder")
    except file_safety.Unsafe as error:
        raise Stop("ERROR", str(error)) from None
    return MariaDB(job.backup.database, job.run.lists_dir, job.run.timeout)


def chosen(job: Job, present: list[str]) -> list[str]:
    """The databases to dump: those `databases` names, else every one but `exclude_databases`."""
    settings = job.backup.database
    if settings.databases:
        return list(settings.databases)
    return [name for name in present if name not in settings.exclude_databases]


def check(job: Job) -> None:
    """The server answers, every chosen database exists and can be dumped, the staging folder has room."""
    database = server(job)
    try:
        present = database.databases()
        names = chosen(job, present)
        missing = [name for name in names if name not in present]
        if missing:
            raise Stop("ERROR", f"database {', '.join(missing)} does not exist on {_where(job)} (it has: "
                                f"{', '.join(present) or 'none the user may see'}): fix `database.databases`")
        if not names:
            raise Stop("WARNING", f"no database to dump on {_where(job)}: every one is in exclude_databases")
        for name in names:
            database.can_dump(name)
        estimate = sum(size for name, size in database.sizes().items() if name in names)
    except DumpError as error:
        raise Stop("CRITICAL" if error.needs_action else "ERROR", f"{_where(job)}: {error}") from None
    job.result.metrics.update(databases=len(names), estimated_bytes=estimate)
    staging = _staging(job)
    free = shutil.disk_usage(staging).free
    if free < estimate:
        raise Stop("CRITICAL", f"only {format_bytes(free)} free for the dumps in {staging}, the databases hold "
                               f"{format_bytes(estimate)}: free space there or set `database.staging_dir`")


def dry_run(job: Job) -> None:
    names = chosen(job, _listed(job))
    job.result.reason = (f"dry run: would dump {len(names)} databases ({', '.join(names)}) from {_where(job)}, then "
                         "copy them like files")
    job.result.alert("INFO", job.result.reason)


def dump_all(job: Job) -> None:
    """Each chosen database into the staging folder; Stop naming the first that fails."""
    staging = _staging(job)
    clear(job)
    database, dumps = server(job), []
    for name in chosen(job, _listed(job)):
        started = time.monotonic()
        try:
            path = database.dump(name, staging, job.run.stall_timeout, job.run.deadline)
        except DumpError as error:
            raise Stop("CRITICAL" if error.needs_action else "ERROR",
                       f"the dump of database {name} failed: {error}", database=name) from None
        dumps.append({"database": name, "bytes": path.stat().st_size,
                      "seconds": round(time.monotonic() - started, 3)})
    job.result.metrics["dumps"] = dumps
    job.log.info("dumped %s", render.dumps_words(dumps))


def clear(job: Job) -> None:
    """Empty the staging folder: dumps live there only while a run copies them. Never through a symbolic link
    planted in its place (the check refuses such a folder; this runs after a failure too)."""
    staging = job.backup.source_dir
    if not staging.is_symlink() and staging.is_dir():
        for entry in staging.iterdir():
            entry.unlink() if entry.is_file() or entry.is_symlink() else shutil.rmtree(entry)


def _listed(job: Job) -> list[str]:
    try:
        return server(job).databases()
    except DumpError as error:
        raise Stop("CRITICAL" if error.needs_action else "ERROR", f"{_where(job)}: {error}") from None


def _staging(job: Job):
    staging = job.backup.source_dir
    try:
        file_safety.private_folder(staging.parent, "staging folder")
        file_safety.private_folder(staging, "staging folder")
    except file_safety.Unsafe as error:
        raise Stop("ERROR", str(error)) from None
    return staging


def _where(job: Job) -> str:
    settings = job.backup.database
    return f"the database server at {settings.socket or f'{settings.host}:{settings.port}'}"
