"""Secrets in an encrypted keyring file (`secrets_backend: keyring`), for hosts that keep no plain-text secrets.

The file is keyrings.cryptfile's (each value AES-encrypted under a key derived with Argon2 from a master
password); it works on a headless server, without a desktop session. The master password comes from the
environment (KEYRING_CRYPTFILE_PASSWORD) or from a file only its owner can read (`keyring.password_file`; systemd's
LoadCredential= fits), never from the config.
"""

import dataclasses
import os
from pathlib import Path

from tasks import file_safety

#: The keyring's service name every secret of this tool is stored under.
SERVICE = "offsite-backup"
PASSWORD_VARIABLE = "KEYRING_CRYPTFILE_PASSWORD"


class KeyringError(Exception):
    """The keyring cannot be used; the message says why and what to do."""


@dataclasses.dataclass(frozen=True)
class KeyringSettings:
    file: Path
    password_file: Path | None


def read(names: set[str], settings: KeyringSettings, environ=os.environ) -> dict[str, str]:
    """The values of `names` the keyring holds (a name it lacks is left out)."""
    keyring = _open(settings, environ, create=False)
    found = {name: keyring.get_password(SERVICE, name) for name in sorted(names)}
    return {name: value for name, value in found.items() if value}


def store(name: str, value: str, settings: KeyringSettings, environ=os.environ) -> None:
    """Put `value` under `name`; the keyring file is created (only its owner may read it) when missing."""
    _open(settings, environ, create=True).set_password(SERVICE, name, value)


def _open(settings: KeyringSettings, environ, create: bool):
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    path = settings.file
    if not create and not os.path.lexists(path):
        raise KeyringError(f"keyring {path} does not exist: store each secret with `doit secret_set name=NAME`")
    unsafe = file_safety.problems(path, "keyring", link_allowed=False) if os.path.lexists(path) else []
    if unsafe:
        raise KeyringError("; ".join(unsafe))
    keyring = CryptFileKeyring()
    keyring.file_path = str(path)
    password, where = _master_password(settings, environ)
    try:
        keyring.keyring_key = password  # opens the file, or creates it
    except ValueError:
        raise KeyringError(f"the master password from {where} does not open the keyring {path}") from None
    return keyring


def _master_password(settings: KeyringSettings, environ) -> tuple[str, str]:
    from tasks.secrets import SecretsError, read_private

    if environ.get(PASSWORD_VARIABLE):
        return environ[PASSWORD_VARIABLE], f"${PASSWORD_VARIABLE}"
    if settings.password_file is None:
        raise KeyringError(f"no master password for the keyring {settings.file}: set {PASSWORD_VARIABLE} or "
                           "keyring.password_file")
    try:
        password = read_private(settings.password_file, "keyring password file").rstrip("\n")
    except SecretsError as error:
        raise KeyringError(str(error)) from None
    if not password.strip():
        raise KeyringError(f"keyring password file {settings.password_file} is empty")
    return password, str(settings.password_file)
