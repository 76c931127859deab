"""The secrets a config needs: which, where they are looked for (the keyring's settings), and what is missing."""

from tasks import channels, schema, secrets, validation
from tasks.config_yaml import project_path
from tasks.keyring_store import KeyringSettings


def keyring_settings(settings: dict) -> KeyringSettings | None:
    """The keyring's file and master password file, when `secrets_backend: keyring`."""
    if settings["secrets_backend"] != "keyring":
        return None
    password_file = settings["keyring"].get("password_file")
    return KeyringSettings(file=project_path(settings["keyring"]["file"]),
                           password_file=project_path(password_file) if password_file else None)


def every_name() -> set[str]:
    """Every secret a channel could need, configured or not (what `doit secret_set` accepts)."""
    return names(channels.registry())


def backup_secret_names(document: dict) -> set[str]:
    """The secrets the backup entries name (a database's or a restic repository's password), sound or not:
    `doit secret_set` stores them even while a missing one makes its entry unusable."""
    entries = document.get(validation.BACKUPS)
    found = set()
    for entry in (entry for entry in (entries if isinstance(entries, list) else ()) if isinstance(entry, dict)):
        for section, rules, used in (("database", schema.DATABASE_SCHEMA, isinstance(entry.get("database"), dict)),
                                     ("restic", schema.RESTIC_SCHEMA, entry.get("engine") == "restic")):
            settings = entry.get(section) if isinstance(entry.get(section), dict) else {}
            name = settings.get("password_secret", rules["password_secret"]["default"])
            if used and isinstance(name, str):
                found.add(name)
    return found


def names(configured: dict) -> set[str]:
    """The secrets the `configured` channels need."""
    needed = {name for module in configured.values() for name in module.SECRETS}
    return needed | ({"SMTP_PASSWORD"} if "smtp" in configured else set())


def problems(settings: dict, configured: dict, found: secrets.Secrets) -> list:
    """A configured channel without its secrets or recipients would fail at the end of the run: say so now."""
    missing = []
    for name, module in configured.items():
        missing += [(("notifications", name), f"needs {secret}, set in {found.source}")
                    for secret in module.SECRETS if secret not in found]
        if getattr(module, "NEEDS_RECIPIENTS", False) and not settings["email"]:
            missing.append((("notifications", name), "`email` lists no recipient"))
    smtp = settings["notifications"].get("smtp")
    if smtp and smtp.get("username") and "SMTP_PASSWORD" not in found:
        missing.append((("notifications", "smtp"), f"username is set, so it needs SMTP_PASSWORD, set in "
                                                   f"{found.source}"))
    return missing
