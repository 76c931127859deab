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


def join(base: str, child: str) -> str:
    """`remote:` + x -> `remote:x`; `remote:a/` + x -> `remote:a/x`; `/mnt/a` + x -> `/mnt/a/x`."""
    if not child or "/" in child or child in (".", ".."):
        raise ValueError(f"refusing to build a path below {redact(base)!r} from {child!r}")
    if base.endswith((":", "/")):
        return base + child
    return f"{base}/{child}"
