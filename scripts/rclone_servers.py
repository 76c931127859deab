"""`rclone serve sftp|webdav|s3` on 127.0.0.1 (never any other address), for the tests and the benchmark.

Here and not in tests/conftest.py so that scripts/benchmark.py runs after scripts/setup.sh alone: nothing here
needs pytest, only the rclone of the virtualenv this interpreter belongs to.
"""

import socket
import subprocess
import sys
import time
from pathlib import Path

RCLONE = str(Path(sys.executable).parent / "rclone")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"rclone serve exited early (exit {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def obscure(password: str) -> str:
    return subprocess.run([RCLONE, "obscure", password], capture_output=True, text=True, check=True).stdout.strip()


class RcloneServer:
    """`rclone serve sftp|webdav|s3` on 127.0.0.1 over a temporary folder, with a named remote `offsite` in its
    own rclone.conf. sftp offers md5/sha1 and free space; webdav (rclone's) offers neither, but copies on the
    server; s3 offers md5 and copies on the server, in the bucket `bucket` (a folder of the root)."""

    user, password = "backup", "s3cret-serve-pass"
    access_key, secret_key = "BACKUPTESTKEY", "s3cret-serve-key"

    def __init__(self, kind: str, root: Path, config_dir: Path):
        self.kind = kind
        self.root = root
        self.port = free_port()
        self.rclone_config = config_dir / "rclone.conf"
        self.process = None

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        login = (["--auth-key", f"{self.access_key},{self.secret_key}"] if self.kind == "s3"
                 else ["--user", self.user, "--pass", self.password])
        if self.kind == "s3":
            (self.root / "bucket").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [RCLONE, "serve", self.kind, str(self.root), "--addr", f"127.0.0.1:{self.port}", *login,
             "--config", "/dev/null"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # an unread pipe fills up and blocks it
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def write_rclone_config(self, password: str | None = None, **options: str) -> Path:
        """The remote `offsite`; `options` are more lines of it (e.g. vendor="other" for a WebDAV server that
        keeps no modification times)."""
        # everything rclone would otherwise detect and save into its config on first contact
        where = {"sftp": f"host = 127.0.0.1\nport = {self.port}\nshell_type = unix\nmd5sum_command = md5sum\n"
                         "sha1sum_command = sha1sum\n",
                 "webdav": f"url = http://127.0.0.1:{self.port}/\n",
                 "s3": f"provider = Rclone\nendpoint = http://127.0.0.1:{self.port}\n"}[self.kind]
        login = (f"access_key_id = {self.access_key}\nsecret_access_key = {password or self.secret_key}\n"
                 if self.kind == "s3" else f"user = {self.user}\npass = {obscure(password or self.password)}\n")
        options = {"vendor": "rclone", **options} if self.kind == "webdav" else options
        extra = "".join(f"{name} = {value}\n" for name, value in options.items())
        self.rclone_config.parent.mkdir(parents=True, exist_ok=True)
        self.rclone_config.write_text(f"[offsite]\ntype = {self.kind}\n{where}{login}{extra}")
        return self.rclone_config


def combined_config(path: Path, servers: dict[str, RcloneServer]) -> Path:
    """One rclone.conf naming each server's remote by its key (several destinations of one backup), from each
    server's own written config (its `offsite` section)."""
    sections = [server.rclone_config.read_text().replace("[offsite]", f"[{name}]", 1)
                for name, server in servers.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(sections))
    return path


def serve(kind: str, folder: Path) -> RcloneServer:
    """A started server of `kind` over `folder`/KIND-root, its rclone.conf in `folder`/KIND-rclone."""
    server = RcloneServer(kind, folder / f"{kind}-root", folder / f"{kind}-rclone")
    server.start()
    server.write_rclone_config()
    return server
