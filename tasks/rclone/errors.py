"""rclone's failures in plain words: the error type, secret masking, and the known causes behind its error texts.

Reads rclone's `--use-json-log` lines; a line that is not JSON counts as an error message of its own.
"""

import json
import re

from tasks.tool_errors import ToolError

from .onthefly import MASK, redact_remotes

#: A second net, for text that is not a well-formed on-the-fly remote: any `name=value` whose name sounds secret,
#: and the password of a URL (`scheme://user:pass@host`).
_SECRET_OPTION = re.compile(r"""(\b[A-Za-z0-9_]*(?:pass|password\d*|key|secret|token|credentials?|cookies?|"""
                            r"""session|private|mnemonic|sas_url|connection_string|authorization)\w*\s*=\s*)"""
                            r"""('(?:[^']|'')*'|"(?:[^"]|"")*"|\\"(?:[^"\\]|\\(?!"))*\\"|[^,:'"\s]+)""",
                            re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+@", re.IGNORECASE)


class RcloneError(ToolError):
    """rclone failed (tasks.tool_errors.ToolError), with its exit code when it ran."""

    def __init__(self, message: str, returncode: int | None = None, needs_action: bool = False):
        super().__init__(message, needs_action)
        self.returncode = returncode


#: How many files an explanation names; the rest are counted.
NAMED_AT_MOST = 20


def redact(text: str) -> str:
    """Mask the option values of every on-the-fly remote in `text` (`:sftp,host=***,port=22,pass=***:path`: the
    backend, harmless options and the path stay, so an administrator recognises it), then anything that still
    looks like a secret."""
    text = redact_remotes(text)
    text = _SECRET_OPTION.sub(lambda m: m[1] + MASK, text)
    return _URL_PASSWORD.sub(lambda m: m[1] + MASK + "@", text)


def json_line(line: str) -> dict:
    """One log line as a dict: `{}` for a blank or non-object line, an error entry for plain text."""
    try:
        entry = json.loads(line)
    except json.JSONDecodeError:
        return {"level": "error", "msg": line.strip()} if line.strip() else {}
    return entry if isinstance(entry, dict) else {}


def describe(entry: dict) -> str:
    """`object: message` of one log entry, redacted (a string object is part of the message, not a file)."""
    obj = entry.get("object")
    text = f"{obj}: {entry.get('msg', '')}" if obj and entry.get("objectType") != "string" else entry.get("msg", "")
    return redact(text.strip())


def first_names(names: list[str], total: int | None = None, at_most: int = NAMED_AT_MOST) -> str:
    """`a, b and 7 more`: the first names of a list and how many more there are (`total`: the exact count, when
    only the first names were kept)."""
    more = (len(names) if total is None else total) - len(names[:at_most])
    return ", ".join(names[:at_most]) + (f" and {more} more" if more > 0 else "")


def explain(stderr: str) -> tuple[str, bool]:
    """rclone's error text reduced to its last meaningful line, with a known cause spelled out; and whether that
    cause needs a person to act."""
    entries = [json_line(line) for line in stderr.split("\n")]
    failures = [describe(e) for e in entries if e.get("msg", "").startswith("Failed to")]
    errors = [describe(e) for e in entries if e.get("level") in ("error", "critical")]
    text = redact((failures or errors or [stderr.strip() or "no error text"])[-1])
    named = list(dict.fromkeys(redact(str(e["object"])) for e in errors_with_files(entries)))
    if named and not all(name in text for name in named[:NAMED_AT_MOST]):
        text += f" (files: {first_names(named)})"
    cause, needs_action = known_cause(stderr)
    return (f"{cause} ({text})" if cause else text), needs_action


def errors_with_files(entries: list[dict]) -> list[dict]:
    """rclone's error entries that name a file in their `object` field (a string object is part of the message)."""
    return [e for e in entries if e.get("level") in ("error", "critical") and e.get("object")
            and e.get("objectType") != "string"]


def known_cause(text: str) -> tuple[str | None, bool]:
    """The cause behind rclone's error text in an administrator's words, and whether a person must act."""
    if "invalid_grant" in text or "token expired" in text:
        name = re.search(r"reconnect (\S+?):", text)
        remote = name[1] if name else "REMOTE"
        return (f"the remote's login token has expired or was revoked; renew it on this server with "
                f"`rclone config reconnect {remote}:`", True)
    for signs, cause, needs_action in KNOWN_CAUSES:
        if any(sign in text for sign in signs):
            return cause, needs_action
    return None, False


#: Error texts of rclone and its backends, what they mean to an administrator, and whether a person must act.
KNOWN_CAUSES = (
    (("didn't find section in config file",), "no such remote in the rclone config file", True),
    (("unable to authenticate", "401 Unauthorized", "InvalidAccessKeyId", "SignatureDoesNotMatch",
      "403 Forbidden"), "login refused: check this remote's user and password or keys with `rclone config`", True),
    (("connection refused", "no such host", "i/o timeout", "network is unreachable"),
     "the server cannot be reached (down, or no network?)", False),
    (("quota", "insufficient storage", "InsufficientStorage", "no space left", "remaining disk space"),
     "the destination is full", True),
)
