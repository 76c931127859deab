"""What a copy or a comparison found, and the reading of rclone check's `--combined` report (pure: no process)."""

import dataclasses
from pathlib import Path

from .errors import json_line


@dataclasses.dataclass(frozen=True)
class CopyOutcome:
    """What one `rclone copy` reported: counts from its per-file lines and its final stats."""

    returncode: int
    copied: int          # files uploaded, new or replacing a different file
    replaced: int        # of those, files that existed at the destination and differed
    checks: int          # files found at the destination and compared
    bytes: int           # uploaded and copied on the server
    errors: int
    messages: tuple[str, ...]  # rclone's error messages, redacted, first ones only
    server_side_copies: int = 0      # files copied on the server (--copy-dest), not uploaded
    server_side_bytes: int = 0

    @property
    def uploaded_bytes(self) -> int:
        """What crossed the network: rclone's `bytes` counts server-side copies too."""
        return max(self.bytes - self.server_side_bytes, 0)

    @property
    def identical(self) -> int:
        """Files already at the destination and unchanged (checked, not replaced)."""
        return self.checks - self.replaced

    @property
    def accounted(self) -> int:
        """Files of the list that are now at the destination: copied or found identical."""
        return self.copied + self.identical


class SourceGrew(Exception):
    """A copy would put more bytes at the destination than were selected."""


class SizeCap:
    """Watches a copy's log for more bytes than were selected: a listed file swapped for a bigger one since the
    walk. Counts the files landed (their sizes on rclone's `Copied` lines) plus those in flight (sizes in its
    stats, known when a transfer starts, so a huge file trips it long before it is sent). Retried transfers are
    not counted twice, as rclone's own byte counter would."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.landed = 0
        self._recent = [set(), set()]  # landed since the last two stats lines: may still be listed in flight

    def see(self, entry: dict) -> None:
        """Raise SourceGrew when the copy goes over the cap."""
        if entry.get("msg", "").startswith("Copied (") and isinstance(entry.get("size"), int):
            self.landed += max(entry["size"], 0)
            self._recent[-1].add(entry.get("object"))
        stats = entry.get("stats")
        flying = 0
        if isinstance(stats, dict):
            recent = self._recent[0] | self._recent[1]
            flying = sum(max(t.get("size") or 0, 0) for t in stats.get("transferring") or ()
                         if isinstance(t, dict) and t.get("name") not in recent)
            self._recent = [self._recent[1], set()]
        if self.landed + flying > self.max_bytes:
            raise SourceGrew(self.message())

    def message(self, stopped_by_rclone: bool = False) -> str:
        why = ("rclone stopped at its --max-transfer cap, where retried uploads count too" if stopped_by_rclone
               else "a listed file replaced by a bigger one?")
        return (f"the source grew after it was selected: more than {self.max_bytes} bytes to copy ({why}); "
                "the copy was stopped")


@dataclasses.dataclass(frozen=True)
class CheckOutcome:
    """What `rclone check` or `rclone checksum` found, file by file: exact counts, and the names of the first
    `NAMED_AT_MOST` files of each kind (a million bad files must not be held in memory)."""

    matched: int
    differ: tuple[str, ...]    # content (or size) differs
    missing: tuple[str, ...]   # not at the destination
    errors: tuple[str, ...]    # could not be read or compared
    hash_checked: bool         # False: no common hash, only sizes were compared
    differ_count: int | None = None   # exact numbers; None: as many as named
    missing_count: int | None = None
    errors_count: int | None = None

    def __post_init__(self):
        for kind in ("differ", "missing", "errors"):
            if getattr(self, f"{kind}_count") is None:
                object.__setattr__(self, f"{kind}_count", len(getattr(self, kind)))

    @property
    def clean(self) -> bool:
        return not (self.differ_count or self.missing_count or self.errors_count)

    def describe(self, named_at_most: int = 20) -> str:
        """`2 differ (a, b); 1 missing (c)`: exact counts and the first names of each kind."""
        parts = []
        for label, names, count in (("differ", self.differ, self.differ_count),
                                    ("missing", self.missing, self.missing_count),
                                    ("unreadable", self.errors, self.errors_count)):
            if count:
                shown = names[:named_at_most]
                more = ", …" if count > len(shown) else ""
                parts.append(f"{count} {label} ({', '.join(shown)}{more})" if shown else f"{count} {label}")
        return "; ".join(parts)


#: Names kept of each kind of file a check found; the counts stay exact.
NAMED_AT_MOST = 1000


class _Kind:
    """Counts every file of one kind, keeps the first names."""

    def __init__(self, keep: int):
        self.count, self.names, self.keep = 0, [], keep

    def add(self, name: str) -> None:
        self.count += 1
        if len(self.names) < self.keep:
            self.names.append(name)


def read_check(report: Path, stderr: str, named_at_most: int = NAMED_AT_MOST) -> CheckOutcome:
    """The outcome of a check from its `--combined` report (`= `, `* `, `+ `, `! ` lines) and its log.

    The report is read line by line and only counted, bar the first names of each problem: it has one line per
    listed file. The log tells what the report cannot: whether hashes were compared at all, and which unreadable
    files are simply gone. A report rclone never wrote reads as empty.
    """
    unchecked = "No common hash found" in stderr or "hashes could not be checked" in stderr
    # a file listed but gone when read ("does not exist") is missing, not unreadable
    gone = {entry.get("object") for entry in map(json_line, stderr.splitlines())
            if "does not exist" in entry.get("msg", "") or "not found" in entry.get("msg", "")}
    matched = 0
    differ, missing, errors = _Kind(named_at_most), _Kind(named_at_most), _Kind(named_at_most)
    try:
        with open(report, encoding="utf-8", errors="surrogateescape", newline="\n") as lines:
            for line in lines:
                mark, name = line[:2], line[2:].removesuffix("\n")
                if mark == "= ":
                    matched += 1
                elif mark == "* ":
                    differ.add(name)
                elif mark == "+ ":
                    missing.add(name)
                elif mark == "! ":
                    (missing if name in gone else errors).add(name)
    except FileNotFoundError:
        pass
    return CheckOutcome(matched=matched, differ=tuple(differ.names), missing=tuple(missing.names),
                        errors=tuple(errors.names), hash_checked=not unchecked, differ_count=differ.count,
                        missing_count=missing.count, errors_count=errors.count)
