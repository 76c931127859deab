"""API keys and tokens: read from the environment or from a private secrets file, never from config.yaml.

A `Secrets` object never shows its values (repr, str), and `mask` scrubs them from any text before that text
is logged, written to a result file or sent.
"""

import os
import stat
from pathlib import Path

from tasks import file_safety


class SecretsError(Exception):
    """The secrets file cannot be used; the message says why and how to fix it."""


class Secrets:
    def __init__(self, values: dict[str, str], source: str):
        self._values = dict(values)
        self.source = source  # where they were looked for, for messages

    def __repr__(self) -> str:
        return f"Secrets({sorted(self._values)} from {self.source})"

    __str__ = __repr__

    def __contains__(self, name: str) -> bool:
        return bool(self._values.get(name))

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name) or default

    def mask(self, text: str) -> str:
        for value in sorted(self._values.values(), key=len, reverse=True):
            if len(value) >= 4:
                text = text.replace(value, "***")
        return text


def load(names: set[str], secrets_file: Path, environ=os.environ, keyring=None) -> Secrets:
    """Each of `names` from the environment, else from `secrets_file` (NAME=value lines, if it exists), else from
    the encrypted `keyring` (tasks.keyring_store settings; None: not used).

    The file is refused when group or others may read it, as ssh does with private keys; when it is a symbolic
    link; when it does not belong to the running user (root: to root); or when a folder on the way to it could be
    changed by another user (tasks.file_safety).
    """
    from_file = _read_file(secrets_file) if os.path.lexists(secrets_file) else {}
    values = {name: environ.get(name) or from_file.get(name, "") for name in names}
    source = f"the environment or {secrets_file}"
    missing = {name for name, value in values.items() if not value}
    if keyring is not None:
        from tasks import keyring_store  # its crypto libraries only where a keyring is used

        source = f"the environment, {secrets_file} or the keyring {keyring.file}"
        if missing:
            try:
                values.update(keyring_store.read(missing, keyring, environ))
            except keyring_store.KeyringError as error:
                raise SecretsError(str(error)) from None
    return Secrets({name: value for name, value in values.items() if value}, source)


def read_private(path: Path, what: str) -> str:
    """The text of a file only its owner may read (chmod 600), checked on the descriptor that is read."""
    unsafe = file_safety.problems(path, what, link_allowed=False, file_rules=False)
    if unsafe:
        raise SecretsError("; ".join(unsafe))
    try:  # the file's own checks on the descriptor that is read: it cannot be swapped after them
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise SecretsError(f"{what} {path} cannot be read: {error.strerror}") from None
    info = os.fstat(descriptor)
    unsafe = file_safety.file_problems(path, info, what)
    if stat.S_ISREG(info.st_mode) and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        # chmod 600 also takes away what chmod go-w would
        unsafe = [line for line in unsafe if "writable by other users" not in line]
        unsafe.append(f"{what} {path} is readable by other users (mode {stat.filemode(info.st_mode)}): "
                      f"run `chmod 600 {path}`")
    if unsafe:
        os.close(descriptor)
        raise SecretsError("; ".join(unsafe))
    os.set_blocking(descriptor, True)
    with open(descriptor, encoding="utf-8") as handle:
        try:
            return handle.read()
        except UnicodeDecodeError as error:
            raise SecretsError(f"{what} {path} is not UTF-8 text (byte {error.object[error.start]:#04x})") \
                from None


def _read_file(path: Path) -> dict[str, str]:
    text = read_private(path, "secrets file")
    values = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not equals or not name.strip():
            raise SecretsError(f"{path}: line {number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values
