"""Storing a secret in the encrypted keyring (`secrets_backend: keyring`) without showing it anywhere."""

import getpass
import sys

from doit.exceptions import TaskFailed

from tasks import config_secrets, keyring_store
from tasks.kinds import Kind


def secret_set(plan):
    """`doit secret_set name=NAME`: asks for the value without echoing it (or reads one line from a pipe), and
    stores it; prints only the name."""
    name, known = plan.run.name, sorted(config_secrets.every_name() | plan.config.backup_secrets)
    if name not in known:
        return TaskFailed(f"give the secret's name: doit secret_set name=NAME, NAME one of {', '.join(known)}")
    if plan.config.keyring is None:
        return TaskFailed(f"{plan.run.config_path} does not use the keyring: set `secrets_backend: keyring` there "
                          f"first (or put {name} in the environment or the secrets file)")
    value = getpass.getpass(f"{name} (not shown): ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not value.strip():
        return TaskFailed(f"no value given for {name}; nothing was stored")
    try:
        keyring_store.store(name, value, plan.config.keyring)
    except keyring_store.KeyringError as error:
        return TaskFailed(str(error))
    print(f"{name} stored in the keyring {plan.config.keyring.file}")
    return True


KINDS = (
    Kind("secret_set", "store a secret in the encrypted keyring, asking for it unseen: secret_set name=NAME",
         secret_set, per_backup=False),
)
