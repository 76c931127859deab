"""rclone paths: `remote:folder`, `:backend,opt=v:folder` (on the fly) or a local folder."""

from tasks.schema import REMOTE_PATTERN

from .errors import redact


def remote_name(path: str) -> str | None:
    """The configured remote a destination uses, or None for a local folder or an on-the-fly remote."""
    match = REMOTE_PATTERN.match(path)
    if not match or match["remote"].startswith(":"):
        return None
    return match["remote"]


def is_local(path: str) -> bool:
    return REMOTE_PATTERN.match(path) is None


def root_of(path: str) -> str:
    """The top of the remote (what `about` measures); a local folder measures its own file system."""
    match = REMOTE_PATTERN.match(path)
    return f"{match['remote']}:" if match else path


def join(base: str, *children: str) -> str:
    """`remote:` + x -> `remote:x`; `remote:a/` + x -> `remote:a/x`; `/mnt/a` + x + y -> `/mnt/a/x/y`."""
    for child in children:
        if not child or "/" in child or child in (".", ".."):
            raise ValueError(f"refusing to build a path below {redact(base)!r} from {child!r}")
    below = "/".join(children)
    if base.endswith((":", "/")):
        return base + below
    return f"{base}/{below}"
