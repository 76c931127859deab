"""What a copy or a comparison found, and the reading of rclone check's `--combined` report (pure: no process)."""

import dataclasses

from .errors import json_line


@dataclasses.dataclass(frozen=True)
class CopyOutcome:
    """What one `rclone copy` reported: counts from its per-file lines and its final stats."""

    returncode: int
    copied: int          # files uploaded, new or replacing a different file
    replaced: int        # of those, files that existed at the destination and differed
    checks: int          # files found at the destination and compared
    bytes: int
    errors: int
    messages: tuple[str, ...]  # rclone's error messages, redacted, first ones only

    @property
    def identical(self) -> int:
        """Files already at the destination and unchanged (checked, not replaced)."""
        return self.checks - self.replaced

    @property
    def accounted(self) -> int:
        """Files of the list that are now at the destination: copied or found identical."""
        return self.copied + self.identical


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """What `rclone check` or `rclone checksum` found, file by file."""

    matched: int
    differ: tuple[str, ...]    # content (or size) differs
    missing: tuple[str, ...]   # not at the destination
    errors: tuple[str, ...]    # could not be read or compared
    hash_checked: bool         # False: no common hash, only sizes were compared

    @property
    def clean(self) -> bool:
        return not (self.differ or self.missing or self.errors)

    def describe(self, named_at_most: int = 20) -> str:
        """`2 differ (a, b); 1 missing (c)`: counts and the first names of each kind."""
        parts = []
        for label, names in (("differ", self.differ), ("missing", self.missing), ("unreadable", self.errors)):
            if names:
                more = ", …" if len(names) > named_at_most else ""
                parts.append(f"{len(names)} {label} ({', '.join(names[:named_at_most])}{more})")
        return "; ".join(parts)


def read_check(report: str, stderr: str) -> CheckOutcome:
    """The outcome of a check from its `--combined` report (`= `, `* `, `+ `, `! ` lines) and its log.

    The log tells what the report cannot: whether hashes were compared at all, and which unreadable files are
    simply gone.
    """
    marks = {"=": [], "*": [], "+": [], "!": []}
    for line in report.splitlines():
        if line[:2] in ("= ", "* ", "+ ", "! "):
            marks[line[0]].append(line[2:])
    unchecked = "No common hash found" in stderr or "hashes could not be checked" in stderr
    # a file listed but gone when read ("does not exist") is missing, not unreadable
    gone = {entry.get("object") for entry in map(json_line, stderr.splitlines())
            if "does not exist" in entry.get("msg", "") or "not found" in entry.get("msg", "")}
    differ = tuple(marks["*"])
    missing = tuple(marks["+"] + [path for path in marks["!"] if path in gone])
    errors = tuple(path for path in marks["!"] if path not in gone)
    return CheckOutcome(matched=len(marks["="]), differ=differ, missing=missing, errors=errors,
                        hash_checked=not unchecked)
