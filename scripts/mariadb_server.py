"""A private MariaDB server (Debian's mariadbd) in a temporary folder, for the tests and the benchmark.

It never reads /etc/mysql nor touches /var/lib/mysql or the system service: its data, socket, pid file and log live
in its own folder, and it listens on a unix socket only, or on 127.0.0.1 when asked (never any other address).
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.rclone_servers import free_port

MARIADBD = "/usr/sbin/mariadbd"
#: sun_path holds 108 bytes with the final NUL; mariadbd refuses a longer socket path ("too long (> 107)").
SOCKET_PATH_MAX = 107
#: Debian's own server defaults (50-server.cnf), which --no-defaults leaves out: latin1 would refuse emoji.
CHARSET = ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"]
#: Small InnoDB: a data directory of 26 MiB instead of 114 MiB (the default redo log is 96 MiB; pytest keeps three
#: runs of tmp_path), a buffer pool of 16 MiB instead of 128 MiB. Start-up is as fast either way.
INNODB = ["--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M"]
#: What a dump user needs for `mariadb-dump --single-transaction --routines --events --triggers`, on each database
#: (MariaDB 10.11). Without SELECT, SHOW VIEW or EVENT the dump fails; without TRIGGER the triggers are left out
#: without a word; LOCK TABLES only matters without --single-transaction (MyISAM, Aria).
DUMP_GRANTS = "SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT"


def quoted_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quoted_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MariaDBServer:
    """mariadbd on a data directory of its own in `folder`, root@localhost without a password over its socket.
    `tcp`: also on 127.0.0.1 at a free port (`.port`), else --skip-networking (`.port` is None)."""

    def __init__(self, folder: Path, tcp: bool = False):
        self.folder = folder
        self.datadir = folder / "data"
        # its own temporary folder: servers bootstrapped at once in the shared /tmp collide on their temporary
        # tables' names (measured: "Could not remove temporary table '/tmp/#sql-temptable-…'", install aborted)
        self.tmpdir = folder / "tmp"
        self.log = folder / "mariadbd.err"
        self.port = free_port() if tcp else None
        self.process = None
        self._socket_dir = None
        socket = folder / "mariadbd.sock"
        if len(str(socket).encode()) > SOCKET_PATH_MAX:  # a long pytest tmp_path; a short folder of its own
            self._socket_dir = Path(tempfile.mkdtemp(prefix="mdb-"))
            socket = self._socket_dir / "mariadbd.sock"
        self.socket = socket

    def _user(self) -> list[str]:
        # mariadbd refuses to run as root unless told so; as anyone else --user is pointless
        return ["--user=root"] if os.geteuid() == 0 else []

    def install(self) -> None:
        """A fresh data directory: the system tables only (no test database), root@localhost without a password
        (`normal`, not `socket`: so any local account of the tests can log in as root)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tmpdir.mkdir(exist_ok=True)
        result = subprocess.run(
            ["mariadb-install-db", "--no-defaults", *self._user(), f"--datadir={self.datadir}",
             f"--tmpdir={self.tmpdir}", "--auth-root-authentication-method=normal", "--skip-test-db",
             "--skip-name-resolve", *INNODB],
            capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode:
            raise RuntimeError(f"mariadb-install-db failed (exit {result.returncode}): {result.stdout[-2000:]}"
                               f"{result.stderr[-2000:]}")

    def start(self, seconds: float = 30) -> None:
        if not self.datadir.exists():
            self.install()
        self.socket.parent.mkdir(mode=0o700, exist_ok=True)
        network = ([f"--port={self.port}", "--bind-address=127.0.0.1"] if self.port
                   else ["--skip-networking"])
        self.process = subprocess.Popen(
            [MARIADBD, "--no-defaults", *self._user(), f"--datadir={self.datadir}", f"--tmpdir={self.tmpdir}",
             f"--socket={self.socket}",
             *network, f"--pid-file={self.folder / 'mariadbd.pid'}", f"--log-error={self.log}",
             "--skip-name-resolve", *CHARSET, *INNODB],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds
        while not (self.socket.exists() and self._client(["-e", "SELECT 1"]).returncode == 0):
            if self.process.poll() is not None or time.monotonic() > deadline:
                why = (f"exited (exit {self.process.returncode})" if self.process.poll() is not None
                       else f"did not answer within {seconds} s")
                self.stop()
                raise RuntimeError(f"mariadbd {why}:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self, seconds: float = 30) -> None:
        """A clean shutdown (SIGTERM), killed if it takes longer than `seconds`."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no error log)"
        return "\n".join(text.splitlines()[-lines:])

    def _client(self, args: list[str], statement: str | bytes = b"") -> subprocess.CompletedProcess:
        # bytes, not text=True: universal newlines would turn a \r in a column into \n
        result = subprocess.run(
            ["mariadb", "--no-defaults", "--user=root", f"--socket={self.socket}", "--default-character-set=utf8mb4",
             "-N", "-B", *args], input=statement if isinstance(statement, bytes) else statement.encode(),
            capture_output=True)
        result.stdout, result.stderr = (out.decode(errors="backslashreplace") for out in (result.stdout, result.stderr))
        return result

    def sql(self, statement: str | bytes, database: str | None = None) -> str:
        """The output of `statement` (one or more, DELIMITER allowed; bytes for a dump, which holds binary columns
        as they are) as root: one line a row, tab-separated, NULL as `NULL`; binary columns are best selected as
        HEX(column)."""
        result = self._client(["--database", database] if database else [], statement)
        if result.returncode:
            raise RuntimeError(f"mariadb failed (exit {result.returncode}): {result.stderr.strip()}")
        return result.stdout

    def create_user(self, name: str, password: str, grants_on: list[str]) -> None:
        """A least-privilege dump user: DUMP_GRANTS on each of `grants_on`, and SELECT on mysql.proc, without which
        mariadb-dump --routines leaves the stored procedures and functions out without a word (MariaDB 10.x lets only
        their definer or a reader of mysql.proc see them). No PROCESS, RELOAD or other global privilege is needed."""
        hosts = ["localhost", "127.0.0.1"] if self.port else ["localhost"]
        statements = []
        for host in hosts:
            account = f"{quoted_string(name)}@{quoted_string(host)}"
            statements.append(f"CREATE USER {account} IDENTIFIED BY {quoted_string(password)};")
            statements += [f"GRANT {DUMP_GRANTS} ON {quoted_name(database)}.* TO {account};" for database in grants_on]
            statements.append(f"GRANT SELECT ON mysql.proc TO {account};")
        self.sql("\n".join(statements))

    def fill(self, database: str, rows: int = 3) -> None:
        """An InnoDB database `database` of sample data that a dump has to get right: `items` with NULLs, unicode
        and binary payloads (NUL, quotes, backslash, newline, bytes that are not UTF-8), `audit` written by a
        trigger on `items`, a view, a stored procedure, a function and a (disabled) event."""
        values = ",\n".join(
            f"('item {n} ünïcødé 😀', {'NULL' if n % 2 else quoted_string(f'note {n}')}, "
            f"{'NULL' if n % 3 == 2 else f'0x00{n:02x}FF27225C0A0D'}, {n * 10 + 0.25})"
            for n in range(rows))
        self.sql(f"""
            CREATE DATABASE {quoted_name(database)} CHARACTER SET utf8mb4;
            USE {quoted_name(database)};
            CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, note TEXT NULL,
                                payload BLOB NULL, price DECIMAL(10, 2) NOT NULL) ENGINE=InnoDB;
            CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, item_id INT NOT NULL, name VARCHAR(100))
                ENGINE=InnoDB;
            CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW
                INSERT INTO audit (item_id, name) VALUES (NEW.id, NEW.name);
            {f"INSERT INTO items (name, note, payload, price) VALUES {values};" if rows else ""}
            CREATE VIEW priced AS SELECT id, name, price FROM items WHERE price > 0;
            DELIMITER //
            CREATE PROCEDURE count_items(OUT total INT) BEGIN SELECT COUNT(*) INTO total FROM items; END //
            DELIMITER ;
            CREATE FUNCTION with_tax(price DECIMAL(10, 2)) RETURNS DECIMAL(10, 2) DETERMINISTIC
                RETURN price * 1.2;
            CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit;
            """)

    def contents(self, database: str) -> dict[str, str]:
        """Every table and view of `database` by name, its rows in order (binary columns as they come), to compare a
        database with its restored copy."""
        names = self.sql("SHOW FULL TABLES", database).splitlines()
        return {name: self.sql(f"SELECT * FROM {quoted_name(name)} ORDER BY 1", database)
                for name, _ in (line.split("\t") for line in names)}


def serve(folder: Path, tcp: bool = False) -> MariaDBServer:
    """A started server with a fresh data directory in `folder`."""
    server = MariaDBServer(folder, tcp)
    server.start()
    return server
