"""This host's key, and SHA256SUMS authenticated with it.

A random 32-byte key lives in the state folder (`host.key`, mode 0600), made on first use. It never leaves this
host: it is never uploaded, logged or shown. Beside each SHA256SUMS the seal writes `SHA256SUMS.hmac`, the
HMAC-SHA256 of the exact bytes of that SHA256SUMS under the key, so a SHA256SUMS rewritten at the destination by
anyone who cannot read this host's key no longer matches it.

The tag is one line, `HMAC-SHA256 (SHA256SUMS) = <64 hex digits>`; by hand:
`openssl dgst -sha256 -mac HMAC -macopt hexkey:$(od -An -tx1 host.key | tr -d ' \\n') SHA256SUMS`.
"""

import errno
import hashlib
import hmac
import os
import re
import secrets
import stat
import threading
from pathlib import Path

NAME = "host.key"
SIZE = 32

_TAG = re.compile(rb"HMAC-SHA256 \(SHA256SUMS\) = ([0-9a-f]{64})\n?")
_creating = threading.Lock()  # backups sealing in parallel threads make one key, not one each


class HostKeyError(Exception):
    """The host key cannot be used; the message says why and how to fix it (never the key)."""


def path(state_dir: Path) -> Path:
    return Path(state_dir) / NAME


def load(state_dir: Path) -> bytes | None:
    """The key, or None when this host has none. Refused unless it is a plain file (not a link), this user's,
    readable by nobody else, and exactly 32 bytes."""
    where = path(state_dir)
    try:  # O_NONBLOCK: a FIFO planted in its place must not hang the run
        descriptor = os.open(where, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise HostKeyError(f"host key {where} is a symbolic link; it must be a plain file: remove the link "
                               "and put the key itself there") from None
        raise HostKeyError(f"cannot read the host key {where}: {error.strerror}") from None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise HostKeyError(f"host key {where} is not a plain file: remove it and put the key itself there")
        if info.st_uid != os.geteuid():
            raise HostKeyError(f"host key {where} belongs to another user (uid {info.st_uid}): "
                               f"chown it to the user that runs the backups")
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise HostKeyError(f"host key {where} can be read or changed by other users (mode "
                               f"{stat.filemode(info.st_mode)}): run `chmod 600 {where}`")
        key = handle.read(SIZE + 1)
    if len(key) != SIZE:
        raise HostKeyError(f"host key {where} holds {len(key)} bytes, not {SIZE}: it is damaged; put back a copy "
                           "of it (a new key cannot check the folders sealed with the old one)")
    return key


def load_or_create(state_dir: Path) -> bytes:
    """The key; on first use a new random one, created 0600 (O_EXCL|O_NOFOLLOW: never through a link, never over
    an existing file) in the state folder, which is created 0700 if it does not exist."""
    where = path(state_dir)
    with _creating:
        key = load(state_dir)
        if key is not None:
            return key
        key = secrets.token_bytes(SIZE)
        try:
            Path(state_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
            descriptor = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:  # made meanwhile by another process, or a link planted there: load decides
            return _loaded(state_dir)
        except OSError as error:
            raise HostKeyError(f"cannot create the host key {where}: {error.strerror}") from None
        try:
            with os.fdopen(descriptor, "wb") as handle:
                os.fchmod(handle.fileno(), 0o600)  # whatever the umask
                handle.write(key)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            where.unlink(missing_ok=True)  # ours (O_EXCL): a short key must not stay behind
            raise HostKeyError(f"cannot write the host key {where}: {error.strerror}") from None
        _sync_folder(Path(state_dir))
        return key


def _loaded(state_dir: Path) -> bytes:
    key = load(state_dir)
    if key is None:
        raise HostKeyError(f"the host key {path(state_dir)} vanished while it was created")
    return key


def _sync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def tag(key: bytes, sums: bytes) -> bytes:
    """The content of SHA256SUMS.hmac for the exact bytes `sums` of a SHA256SUMS."""
    return b"HMAC-SHA256 (SHA256SUMS) = " + hmac.new(key, sums, hashlib.sha256).hexdigest().encode() + b"\n"


def matches(key: bytes, sums: bytes, found_tag: bytes) -> bool:
    """True when `found_tag` (a SHA256SUMS.hmac's content) authenticates `sums` under `key`; a malformed tag
    does not."""
    found = _TAG.fullmatch(found_tag)
    expected = hmac.new(key, sums, hashlib.sha256).hexdigest().encode()
    return found is not None and hmac.compare_digest(found[1], expected)
