"""Load `config.yaml`, validate it against `tasks.schema`, and turn it into plain, typed settings.

Every problem is reported at once, each with its place (`backup_copy_list[2] (contabo1).rclone_path: …`), so an
administrator fixes the file in one go. A problem blocks only what it touches: `read` keeps the backups and the
notification settings no problem touches, so a chat token never stands between an administrator and a restore;
a full run refuses to start while there is any problem (tasks.graph). Nothing here touches a source, a remote or
the network.

The job runs as root, so what it reads its settings from or runs must be safe from other users (tasks.file_safety):
a config file someone else could change is a problem of the whole file (nothing of it is used), a secrets file
(or a CA file) of the notifications, an rclone.binary or rclone.config of the backups that use it. A password in
a config file that others may read is a warning (it does not stop the run).
"""

import dataclasses
import re
from pathlib import Path

from tasks import channels, config_files, config_secrets, config_yaml, file_safety, render, schema, secrets, validation
from tasks.config_backups import (
    Backup,
    DatabaseSettings,
    Destination,
    RcloneSettings,
    RetentionPolicy,
    backups_of,
    rclone_settings,
)
from tasks.config_yaml import PROJECT_ROOT, ConfigError, project_path
from tasks.keyring_store import KeyringSettings

DEFAULT_CONFIG = PROJECT_ROOT / "var" / "config.yaml"

__all__ = ["ConfigError", "Config", "Backup", "DatabaseSettings", "Destination", "Notifications", "RcloneSettings",
           "RetentionPolicy", "load", "read"]


@dataclasses.dataclass(frozen=True)
class Notifications:
    channels: dict[str, dict]      # channel name -> its validated settings; only the configured ones
    recipients: tuple[str, ...]
    notify_on_success: bool
    attempts: int
    retry_wait_seconds: float
    timeout_seconds: float
    secrets: secrets.Secrets


@dataclasses.dataclass(frozen=True)
class Config:
    """The usable parts of a config file and every problem found in it (none: the whole file is sound)."""

    path: Path
    log_level: str
    log_file: Path
    check_timeout_seconds: int
    stall_timeout_seconds: int
    run_timeout_hours: float
    lock_wait_seconds: int
    parallel_destinations: int
    rclone: RcloneSettings                  # the global rclone settings (what the status page is copied with)
    status_page: str | None                 # where the status page is copied after every full run
    backups: tuple[Backup, ...]             # the entries no problem touches
    notifications: Notifications | None     # None: a problem touches them, nothing can be sent
    problems: tuple[str, ...] = ()          # `place: message`, or one message when the file cannot be read
    unusable_backups: tuple[str, ...] = ()  # names of the entries a problem touches
    warnings: tuple[str, ...] = ()          # worth fixing, but nothing is blocked by them
    keyring: KeyringSettings | None = None  # where `doit secret_set` stores secrets (secrets_backend: keyring)
    backup_secrets: frozenset[str] = frozenset()  # the secrets the backup entries name (database passwords)

    def report(self) -> str:
        """Every problem, one per line, under the file's name (printable: see tasks.render)."""
        return render.printable_lines([f"{self.path}: {len(self.problems)} problem(s):",
                                       *(f"  {line}" for line in self.problems)])

    def warning_report(self) -> str:
        """Every warning, one per line (printable)."""
        return render.printable_lines(f"WARNING: {self.path}: {line}" for line in self.warnings)


def load(path: Path = DEFAULT_CONFIG) -> Config:
    """The whole config, or ConfigError naming every problem: for what needs all of it (a full run)."""
    found = read(path)
    if found.problems:
        raise ConfigError(found.report())
    return found


def read(path: Path = DEFAULT_CONFIG) -> Config:
    """The config with its problems listed and the parts they touch left out; never raises for its content."""
    path = Path(path)
    unsafe = file_safety.problems(path, "config file")
    if unsafe:  # someone else could have written any of it: nothing of it is used
        return _nothing_usable(path, *unsafe)
    try:
        document, found = config_yaml.read(path)
    except ConfigError as error:
        return _nothing_usable(path, str(error))
    rule_problems, normalized = validation.problems(document)
    found += rule_problems + config_files.untrusted(document)
    settings = validation.sound_parts(document, [position for position, _ in found]) if found else normalized
    if settings is None:
        return _nothing_usable(path, *validation.described(found, document))
    keyring = config_secrets.keyring_settings(settings)
    notifications, notification_problems = _notifications(settings, found, keyring)
    found += notification_problems
    backups, backup_problems = backups_of(settings, keyring)
    found += backup_problems
    entries = document.get(validation.BACKUPS)
    named = {entry.get("name") for entry in (entries if isinstance(entries, list) else ()) if isinstance(entry, dict)}
    unusable = {name for name in named if isinstance(name, str) and re.fullmatch(schema.NAME_PATTERN, name)}
    unusable -= {backup.name for backup in backups}
    return Config(
        path=path,
        log_level=settings["log_level"],
        log_file=project_path(settings["log_file"]),
        check_timeout_seconds=settings["check_timeout_seconds"],
        stall_timeout_seconds=settings["stall_timeout_seconds"],
        run_timeout_hours=settings["run_timeout_hours"],
        lock_wait_seconds=settings["lock_wait_seconds"],
        parallel_destinations=settings["parallel_destinations"],
        rclone=rclone_settings(settings["rclone"], {}),
        status_page=settings.get("status_page"),
        backups=backups,
        notifications=notifications,
        problems=tuple(validation.described(found, document)),
        unusable_backups=tuple(sorted(unusable)),
        warnings=(*config_files.exposed_passwords(path, document), *validation.recipient_warnings(settings)),
        keyring=keyring,
        backup_secrets=frozenset(config_secrets.backup_secret_names(document)),
    )


def _nothing_usable(path: Path, *problems: str) -> Config:
    """A file that cannot be read at all: defaults where the run needs values, no backups, no notifications."""
    defaults = validation.sound_parts({}, [])
    return Config(path=path, log_level=defaults["log_level"], log_file=project_path(defaults["log_file"]),
                  check_timeout_seconds=defaults["check_timeout_seconds"],
                  stall_timeout_seconds=defaults["stall_timeout_seconds"],
                  run_timeout_hours=defaults["run_timeout_hours"],
                  lock_wait_seconds=defaults["lock_wait_seconds"],
                  parallel_destinations=defaults["parallel_destinations"],
                  rclone=rclone_settings(defaults["rclone"], {}), status_page=None, backups=(), notifications=None,
                  problems=problems)


def _notifications(settings: dict, found: list, keyring: KeyringSettings | None) -> tuple[Notifications | None, list]:
    """The notification settings and the problems of their secrets; None when any problem touches them."""
    configured = {name: module for name, module in channels.registry().items() if name in settings["notifications"]}
    try:
        loaded = secrets.load(config_secrets.names(configured), project_path(settings["secrets_file"]),
                              keyring=keyring)
    except secrets.SecretsError as error:
        return None, [(("keyring",) if keyring else ("secrets_file",), str(error))]
    problems = config_secrets.problems(settings, configured, loaded)
    if problems or any(position[0] in validation.NOTIFICATION_KEYS for position, _ in found):
        return None, problems
    return Notifications(
        channels={name: settings["notifications"][name] for name in configured},
        recipients=tuple(settings["email"]),
        notify_on_success=settings["notify_on_success"],
        attempts=settings["notifications"]["attempts"],
        retry_wait_seconds=settings["notifications"]["retry_wait_seconds"],
        timeout_seconds=settings["notifications"]["timeout_seconds"],
        secrets=loaded,
    ), []
