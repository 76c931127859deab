"""Today's dated folder and its seal: unsealed while it changes, compared with the source, sealed with SHA256SUMS.

A folder holding SHA256SUMS counts as complete; so the file is removed before a copy changes the folder and
written again only after the copy was verified. Beside it, SHA256SUMS.hmac authenticates it with this host's key
(tasks.host_key): written before SHA256SUMS, removed after it, so a complete folder is an authenticated one.
"""

from pathlib import Path

from tasks import host_key, integrity, sealed_folder
from tasks import rclone as rc
from tasks.job import Job, Stop


class Mismatch(Stop):
    """The copy does not match: `paths`, the files that differ or are missing (empty when more than could be
    named)."""

    def __init__(self, message: str, paths: tuple[str, ...], **metrics):
        super().__init__("ERROR", message, **metrics)
        self.paths = paths


def unseal(job: Job, folder: str, present: bool = True) -> str:
    """Make `folder` ready for the copy: an earlier run today may have sealed it, so keep its sums (returned, once
    they proved authentic) and remove its SHA256SUMS (first: the folder is incomplete from then on) and
    SHA256SUMS.hmac while it changes; delete the `.partial` files an interrupted upload left. A folder the
    destination did not list (`present`: False; a day's first run) needs none of it."""
    shown = rc.redact(folder)
    if not present:
        return ""
    try:
        earlier_sums = ""
        if job.rclone.read_text(rc.join(folder, integrity.SUMS_NAME)) is not None:  # absent on a day's first run
            exact, tag = sealed_folder.read_seal(job, folder)
            unproven = sealed_folder.authenticate(job, shown, exact, tag) if exact else None
            if unproven:  # this host's key must never vouch for sums it cannot prove
                job.result.alert("WARNING", f"{integrity.SUMS_NAME} of {shown} is not authenticated ({unproven}); "
                                            "its sums are dropped: this run seals only what it copies and checks")
            else:
                earlier_sums = (exact or b"").decode("utf-8", "surrogateescape")
            job.rclone.delete_file(rc.join(folder, integrity.SUMS_NAME))
            job.rclone.delete_file(rc.join(folder, integrity.HMAC_NAME))
        job.rclone.delete_partials(folder)
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot prepare {shown} for the copy: {error}") from None
    return earlier_sums


def check_hash(job: Job) -> str | None:
    """The hash today's folder is checked with against this run's own sums, computed in the same read as the
    sha256 it is sealed with: sha256 where the remote hashes it (or `verify: download` reads the copy back), else
    md5 or sha1; None: it is compared with the source (a remote with another hash, or none, or `verify: off`)."""
    if job.backup.verify != "checksum":
        return "sha256" if job.backup.verify == "download" else None
    hashes = job.rclone.features(job.backup.rclone_path).hashes
    return next((kind for kind in ("sha256", *integrity.SECOND_HASHES) if kind in hashes), None)


def sums_file(job: Job, kind: str) -> Path:
    """This run's sums of `kind`: SHA256SUMS, or MD5SUMS / SHA1SUMS for the check only."""
    return job.state_file(integrity.SUMS_NAME if kind == "sha256" else f"{kind.upper()}SUMS")


def verify(job: Job, folder: str) -> bool:
    """Compare the copy, file by file (unless `verify: off`), with this run's own sums (`check_hash`), else with
    the source by the hash they share, else by size. True when it is as `verify` asks; Mismatch names what
    differs."""
    backup, result = job.backup, job.result
    if backup.verify == "off":
        result.metrics["verified"] = "off"
        return True
    download = backup.verify == "download"
    try:
        kind = check_hash(job)
        outcome = (job.rclone.checksum(sums_file(job, kind), folder, download, job.destination_file("check"), kind)
                   if kind else
                   job.rclone.check(backup.source_dir, folder, job.state_file("files"), False,
                                    job.destination_file("check")))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"verification of {rc.redact(folder)} could not run: {error}") from None
    if not outcome.clean:
        named = outcome.differ_count == len(outcome.differ) and outcome.missing_count == len(outcome.missing)
        raise Mismatch(f"verification of {rc.redact(folder)} failed: " + outcome.describe(),
                       outcome.differ + outcome.missing if named and not outcome.errors_count else (),
                       differ=outcome.differ_count, missing=outcome.missing_count)
    if outcome.matched != result.files:  # a comparison that saw fewer files proves nothing about the others
        raise Stop("ERROR", f"verification of {rc.redact(folder)} compared {outcome.matched} of the "
                            f"{result.files} listed files")
    result.metrics["verified"] = "download" if download else kind or ("hash" if outcome.hash_checked else "size")
    if not outcome.hash_checked:
        copied_on_server = (" Files copied on the server were proven unchanged by sha256 against "
                            f"{integrity.SUMS_NAME} of the folder they came from." if
                            result.metrics.get("server_side_files") else "")
        result.alert("WARNING", "content not hash-checked: the remote offers no common hash with the source, so "
                                "only sizes were compared (`verify: download` reads the copy back)." + copied_on_server)
    return True


def seal(job: Job, folder: str, earlier_sums: str) -> bool:
    """Write SHA256SUMS.hmac, then SHA256SUMS last: from then on the folder counts as complete, and authenticated.
    The sums of an earlier run today are kept for the files this run did not copy again. True once written."""
    sums_file = job.state_file(integrity.SUMS_NAME)
    if earlier_sums:  # into a file of this destination's own: the source's sums serve every destination
        new = integrity.parse(sums_file.read_text(encoding="utf-8", errors="surrogateescape"))
        earlier = {path: digest for path, digest in integrity.parse(earlier_sums).items()
                   if not sealed_folder.malformed(path)}
        merged = {**earlier, **new}
        sums_file = job.destination_file(f"sealed.{integrity.SUMS_NAME}")
        sums_file.write_text(integrity.render(merged), encoding="utf-8", errors="surrogateescape")
        job.result.metrics["sealed_files"] = len(merged)
    try:
        key = host_key.load_or_create(job.run.state_dir)
    except host_key.HostKeyError as error:
        raise Stop("ERROR", f"cannot seal {rc.redact(folder)}: {error}") from None
    tag_file = job.destination_file(integrity.HMAC_NAME)
    tag_file.write_bytes(host_key.tag(key, sums_file.read_bytes()))
    try:
        job.rclone.upload(tag_file, rc.join(folder, integrity.HMAC_NAME))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot write {integrity.HMAC_NAME} into {rc.redact(folder)}: {error}") from None
    try:
        job.rclone.upload(sums_file, rc.join(folder, integrity.SUMS_NAME))
    except rc.RcloneError as error:
        raise Stop("ERROR", f"cannot write {integrity.SUMS_NAME} into {rc.redact(folder)}: {error}") from None
    return True
