"""Check a config document against tasks.schema and decide what its problems make unusable.

Cerberus finds the rule violations; this module adds the checks a rule cannot express, names each problem by its
place and the backup's name (`backup_copy_list[2] (contabo1).days`), adds to each rule message what the key means
(its `meta.doc` and `meta.example`, so the administrator sees what a valid value looks like), and keeps the parts no
problem touches: a broken backup entry makes only that backup unusable, a broken notification section only the
notifications.
"""

import json
import re

import cerberus
import cerberus.errors

from tasks import channels, schema
from tasks.config_yaml import Position

#: The keys that make up the notification settings: a problem in any of them turns the notifications off.
NOTIFICATION_KEYS = ("email", "notify_on_success", "secrets_file", "secrets_backend", "keyring", "notifications")

BACKUPS = "backup_copy_list"

#: The schema with the backup list optional, to read the sound parts of a document whose backups are all broken.
_SOUND_PARTS_SCHEMA = {**schema.SCHEMA, BACKUPS: {**schema.SCHEMA[BACKUPS], "required": False, "minlength": 0,
                                                  "default": []}}


def rules_at(position: Position) -> dict | None:
    """The schema's rules for the key at `position`, or None for a key it does not know."""
    rules = {"type": "dict", "schema": schema.SCHEMA}
    for part in position:
        inner = rules.get("schema")
        if isinstance(part, int):  # an item of a list: the list's `schema` holds the item's rules
            rules = inner if rules.get("type") == "list" else None
        else:
            rules = inner.get(part) if rules.get("type") == "dict" and isinstance(inner, dict) else None
        if not isinstance(rules, dict):
            return None
    return rules


def hint(position: Position) -> str:
    """What the key at `position` means and, where the schema has one, an example value; "" when unknown."""
    meta = (rules_at(position) or {}).get("meta", {})
    if "doc" not in meta:
        return ""
    doc = meta["doc"].rstrip(".")
    doc = doc[0].lower() + doc[1:] if doc[1:2].islower() else doc
    return doc + (f"; e.g. {json.dumps(meta['example'], ensure_ascii=False)}" if "example" in meta else "")


class _HintingMessages(cerberus.errors.BasicErrorHandler):
    """Cerberus' messages, each followed by the key's hint; the checks of `Validator` already say what is valid."""

    def _format_message(self, field, error):
        message = super()._format_message(field, error)
        extra = "" if error.code == cerberus.errors.CUSTOM.code else hint(tuple(error.document_path))
        return f"{message} ({extra})" if extra else message


class Validator(cerberus.Validator):
    """Cerberus with the checks a regex cannot express, and messages that say what a valid value looks like."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("error_handler", _HintingMessages)
        super().__init__(*args, **kwargs)

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

    def _check_with_marker_name(self, field, value):
        if isinstance(value, str) and (set(value) & set("/*?[]\\") or value in (".", "..")):
            self._error(field, f"{value!r} is not a plain file name: give the marker's name only, e.g. .nobackup "
                               "(no folder, no * ? [ ])")

    def _check_with_email(self, field, value):
        if isinstance(value, str) and not re.fullmatch(schema.EMAIL_PATTERN, value):
            self._error(field, f"{value!r} is not a mail address: write user@domain (admin@example.com) or, for a "
                               "local mailbox, user@host (root@localhost)")

    def _check_with_rclone_flags(self, field, value):
        for flag in value if isinstance(value, list) else ():
            name = flag.split("=", 1)[0] if isinstance(flag, str) else None
            if name in schema.REFUSED_FLAGS:
                self._error(field, f"{name} is not allowed here: it {schema.REFUSED_FLAGS[name]}")


def problems(document: dict) -> tuple[list[tuple[Position, str]], dict]:
    """Every rule violation, duplicate backup name and channel setting that would expose a credential, as
    (position, message); and the document normalized (defaults filled in), which is all of it when nothing is
    wrong (validating it once more for `sound_parts` would double what `doit list` costs)."""
    validator = Validator(schema.SCHEMA)
    validator.validate(document)
    return (_flatten(validator.errors, ()) + _duplicate_names(document.get(BACKUPS))
            + _destination_forms(document.get(BACKUPS)) + _entry_rules(document.get(BACKUPS))
            + _exposed_credentials(document.get("notifications"))), validator.document


def sound_parts(document: dict, positions: list[Position]) -> dict | None:
    """`document` normalized (defaults filled in) without the parts that `positions` make unusable: a broken
    top-level key falls back to its default, a broken backup entry is left out, a broken global `rclone` section
    leaves out every backup (they all run with it). None if even that does not validate."""
    broken = {position[0] for position in positions}
    kept = {key: value for key, value in document.items() if key not in broken}
    entries = document.get(BACKUPS)
    if "rclone" in broken and isinstance(entries, list):
        kept[BACKUPS] = []  # not the defaults instead: a broken rclone.binary must not become the default binary
    elif isinstance(entries, list) and not any(_is_list_level(position) for position in positions):
        unusable = broken_entries(positions)
        kept[BACKUPS] = [entry for index, entry in enumerate(entries) if index not in unusable]
    validator = Validator(_SOUND_PARTS_SCHEMA)
    return validator.document if validator.validate(kept) else None


def broken_entries(positions: list[Position]) -> set[int]:
    return {position[1] for position in positions if position[0] == BACKUPS and len(position) > 1
            and isinstance(position[1], int)}


def _is_list_level(position: Position) -> bool:
    return position[0] == BACKUPS and (len(position) == 1 or not isinstance(position[1], int))


def place(position: Position, document: dict) -> str:
    """`("backup_copy_list", 2, "days")` -> `backup_copy_list[2] (contabo1).days`: a backup by its position and,
    when it has one, its name, which is what the administrator looks for in the file."""
    text = ""
    for depth, part in enumerate(position):
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
        if depth == 1 and position[0] == BACKUPS and isinstance(part, int):
            name = _entry_name(document, part)
            text += f" ({name})" if name else ""
    return text


def _entry_name(document: dict, index: int) -> str | None:
    entries = document.get(BACKUPS) if isinstance(document, dict) else None
    entry = entries[index] if isinstance(entries, list) and 0 <= index < len(entries) else None
    name = entry.get("name") if isinstance(entry, dict) else None
    return name if isinstance(name, str) and name.strip() else None


def described(found: list[tuple[Position, str]], document: dict) -> list[str]:
    """Each problem as `place: message`, sorted."""
    return sorted(f"{place(position, document)}: {message}" for position, message in found)


def recipient_warnings(settings: dict) -> list[str]:
    """Recipients with no channel that mails them are a setup left half done: the summary would reach nobody."""
    mailers = [name for name, module in channels.registry().items() if getattr(module, "NEEDS_RECIPIENTS", False)]
    if not settings["email"] or any(name in settings["notifications"] for name in mailers):
        return []
    return [f"email lists recipients but no mail channel is configured "
            f"({' or '.join(f'notifications.{name}' for name in mailers)})"]


def _flatten(errors: dict, prefix: Position) -> list[tuple[Position, str]]:
    """Cerberus' nested error tree as (position, message) pairs."""
    found = []
    for key, entries in errors.items():
        for entry in entries:
            if isinstance(entry, dict):
                found.extend(_flatten(entry, (*prefix, key)))
            else:
                found.append(((*prefix, key), entry))
    return found


def _exposed_credentials(notifications) -> list[tuple[Position, str]]:
    """Channel settings that would send a token or password unencrypted over the network: a `base_url` that is
    not https:// (plain http only to this machine), and SMTP `security: none` with a login (a relay on this
    machine only)."""
    found = []
    for name, settings in (notifications.items() if isinstance(notifications, dict) else ()):
        if not isinstance(settings, dict):
            continue
        url = settings.get("base_url")
        problem = channels.address_problem(url) if isinstance(url, str) else None
        if problem:
            found.append((("notifications", name, "base_url"), problem))
    smtp = notifications.get("smtp") if isinstance(notifications, dict) else None
    if isinstance(smtp, dict) and smtp.get("security") == "none" and smtp.get("username"):
        host = smtp.get("host")
        if not (isinstance(host, str) and channels.is_loopback(host)):
            found.append((("notifications", "smtp", "security"),
                          f"`none` would send the password of `username` unencrypted to {host}: use starttls or ssl "
                          "(none only to a relay on this machine: localhost, 127.0.0.1, ::1)"))
    return found


#: Keys of which an entry gives exactly one: (one form, the other, what they name).
ONE_OF = (("rclone_path", "destinations", "destination", "one destination", "several"),
          ("source_dir", "database", "source", "a folder", "a database server; a folder and a database: give each "
                                                             "its own backup entry"))


def _destination_forms(entries) -> list[tuple[Position, str]]:
    """Each entry names its destination one way, `rclone_path` (one) or `destinations` (several), and its source
    one way, `source_dir` or `database`."""
    found = []
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        for one, other, what, one_means, other_means in ONE_OF:
            given = [key for key in (one, other) if isinstance(entry, dict) and key in entry]
            if len(given) != 1:
                found.append(((BACKUPS, index), f"give either `{one}` ({one_means}) or `{other}` ({other_means}), "
                                                "not both" if given else
                              f"no {what}: give `{one}` ({one_means}) or `{other}` ({other_means})"))
    return found


RETENTION_KEYS = ("retention", "retention_days", "retention_weeks", "retention_months")


def _entry_rules(entries) -> list[tuple[Position, str]]:
    """Keys that contradict each other: one place given twice as a destination; restic with an on-the-fly remote
    (its options would reach restic's command line) or with `days`/`mode`; retention keys on an archive, which is
    never pruned; `delete_source_after_archive` without one."""
    found = []
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        if not isinstance(entry, dict):
            continue
        places = [((BACKUPS, index), entry)] + [((BACKUPS, index, "destinations", number), item) for number, item
                                                in enumerate(entry.get("destinations") or ()
                                                             if isinstance(entry.get("destinations"), list) else ())]
        paths = [(position, item.get("rclone_path")) for position, item in places if isinstance(item, dict)
                 and isinstance(item.get("rclone_path"), str)]
        seen = set()
        for position, path in paths:
            if path in seen:
                found.append(((*position, "rclone_path"), f"{path!r} is already a destination of this backup: two "
                                                          "copies in one place are one copy"))
            seen.add(path)
        if entry.get("engine") == "restic":
            found += [((*position, "rclone_path"), "restic would get this on-the-fly remote's options on its command "
                                                   "line, where any local user reads them: define the remote with "
                                                   "`rclone config` and name it here")
                      for position, path in paths if path.startswith(":")]
            found += [((BACKUPS, index, name), f"has no meaning with `engine: restic` ({why}): remove it")
                      for name, why in (("days", "each snapshot holds every file; restic stores only what changed"),
                                        ("mode", "restic keeps snapshots, pruned by the retention keys"))
                      if entry.get(name) not in (None, 0, "dated")]
        if entry.get("mode") != "archive":
            if entry.get("delete_source_after_archive"):
                found.append(((BACKUPS, index, "delete_source_after_archive"),
                              "only with `mode: archive`: a dated backup never deletes source files"))
            continue
        items = entry.get("destinations")
        places = [((BACKUPS, index), entry)] + [((BACKUPS, index, "destinations", number), item) for number, item
                                                in enumerate(items if isinstance(items, list) else ())]
        found += [((*position, name), "`mode: archive` never deletes from the destination: remove this key")
                  for position, section in places if isinstance(section, dict)
                  for name in RETENTION_KEYS if name in section]
    return found


def _duplicate_names(entries) -> list[tuple[Position, str]]:
    """Names become folder and task names, so they must differ even ignoring case; the later entry is the problem."""
    first = {}
    found = []
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            continue
        if name.lower() in first:
            found.append(((BACKUPS, index, "name"), f"'{name}' is already used by {BACKUPS}[{first[name.lower()]}] "
                                                    "(names must be unique, ignoring case)"))
        else:
            first[name.lower()] = index
    return found
