"""On-the-fly remotes (`:backend,option=value:path`): their options kept off command lines and out of messages.

Any local user reads every command line (/proc/PID/cmdline), and an obscured password is reversible
(`rclone reveal`). So rclone gets such a remote's options through its environment (readable only by the same user
and root) as a remote with a generated name, and every text shown masks the option values, bar a few harmless ones.
The syntax is rclone's own (fs/fspath): options `[A-Za-z0-9_]+`, a bare option means true, a value quoted with
`'` or `"` may hold `,` and `:` and doubles its quote to contain it.
"""

import hashlib
import re

#: Options whose values are shown. rclone marks none of them Sensitive or IsPassword in any backend
#: (`rclone config providers`; a test checks), and none carries a credential. Every other value is masked, so an
#: option rclone adds tomorrow is masked too.
HARMLESS = frozenset({
    "port", "provider", "vendor", "region", "endpoint", "location_constraint", "storage_class", "env_auth",
    "shell_type", "known_hosts_file", "md5sum_command", "sha1sum_command", "drive_type", "chunk_size",
    "upload_cutoff", "use_insecure_cipher", "disable_hashcheck", "set_modtime", "explicit_tls", "tls",
    "no_check_certificate", "encoding",
})

#: Options whose value is itself a remote (crypt, alias, chunker …): shown redacted in turn.
WRAPPED = frozenset({"remote"})

MASK = "***"

_VALUE = r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|(?:[^,:'"][^,:]*)?"""
_OPTION = re.compile(rf"""(?P<key>[A-Za-z0-9_]+)(?:=(?P<value>{_VALUE}))?(?=[,:]|\Z)""")
#: `:backend,options:` anywhere in a text; only remotes with options can carry a secret.
_REMOTE = re.compile(rf""":(?P<backend>[A-Za-z0-9_-]+)(?P<options>(?:,[A-Za-z0-9_]+(?:=(?:{_VALUE}))?)+):""")
#: Anchored, for a whole argument: `:backend` with or without options, then the path.
_ARGUMENT = re.compile(rf""":(?P<backend>[a-z0-9]+)(?P<options>(?:,[A-Za-z0-9_]+(?:=(?:{_VALUE}))?)*):""")


def options(text: str) -> list[tuple[str, str | None, str]]:
    """`,a=1,b='x:y',c` -> [(key, raw value as written or None, value as rclone reads it)]."""
    found = []
    for match in _OPTION.finditer(text):
        raw = match["value"]
        found.append((match["key"], raw, "true" if raw is None else _unquote(raw)))
    return found


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0]:
        return raw[1:-1].replace(raw[0] * 2, raw[0])
    return raw


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'" if re.search(r"""[,:'"]""", value) else value


def shown(backend: str, option_text: str) -> str:
    """The remote part as it may be shown: `:sftp,host=***,port=22,pass=***` (harmless values kept)."""
    parts = [f":{backend}"]
    for key, raw, value in options(option_text):
        if raw is None:
            parts.append(key)
        elif key.lower() in HARMLESS:
            parts.append(f"{key}={raw}")
        elif key.lower() in WRAPPED:
            parts.append(f"{key}={_quote(redact_remotes(value))}")
        else:
            parts.append(f"{key}={MASK}")
    return ",".join(parts)


def redact_remotes(text: str) -> str:
    """Every on-the-fly remote in `text` with its option values masked (see `shown`)."""
    return _REMOTE.sub(lambda m: shown(m["backend"], m["options"]) + ":", text)


def split(argument: str) -> tuple[str, str, str] | None:
    """(backend, options text, path) of an argument that is an on-the-fly remote path, else None."""
    match = _ARGUMENT.match(argument)
    if not match:
        return None
    return match["backend"], match["options"], argument[match.end():]


def environment(backend: str, option_text: str) -> tuple[str, dict[str, str]]:
    """A remote name for these options and the `RCLONE_CONFIG_<NAME>_<OPTION>` variables that define it.

    The name is a hash of the remote's text, so the same remote has the same name in every call (and rclone
    saving a refreshed token always writes to the same section); the hash of a text holding an obscured password
    (random IV) or a key gives nothing away."""
    digest = hashlib.sha256(f":{backend}{option_text}".encode("utf-8", "surrogateescape")).hexdigest()
    name = f"otf_{digest[:16]}"
    prefix = f"RCLONE_CONFIG_{name.upper()}_"
    variables = {prefix + "TYPE": backend}
    for key, _, value in options(option_text):
        variables[prefix + key.upper()] = value
    return name, variables
