"""The `mariadb` fixture itself (scripts/mariadb_server.py): a real server that answers, a least-privilege dump user
whose mariadb-dump restores to the same rows, and a server that can go down and come back."""

import os
import subprocess
from pathlib import Path

from scripts.mariadb_server import serve


def option_file(path: Path, user: str, password: str, **where: str | int) -> Path:
    """A client option file of mode 0600: the password is never on a command line."""
    path.touch(mode=0o600)
    path.write_text(f"[client]\nuser={user}\npassword={password}\n" + "".join(f"{k}={v}\n" for k, v in where.items()))
    return path


def test_root_answers_over_the_socket_and_a_dump_user_over_tcp(mariadb, tmp_path):
    assert mariadb.port is None
    assert mariadb.sql("SELECT VERSION(), @@skip_networking, @@character_set_server").startswith("10.11")
    assert mariadb.sql("SELECT 1 UNION SELECT 2") == "1\n2\n"
    # a folder too long for a unix socket path (107 bytes), on 127.0.0.1 at a port of its own
    tcp = serve(tmp_path / ("long-" * 20), tcp=True)
    try:
        assert len(str(tcp.socket)) <= 107 and tcp.port
        tcp.fill("shop")
        tcp.create_user("dump", "dump-pass", ["shop"])
        options = option_file(tmp_path / "tcp.cnf", "dump", "dump-pass", host="127.0.0.1", port=tcp.port)
        answer = subprocess.run(["mariadb", f"--defaults-extra-file={options}", "-N", "-B", "-e",
                                 "SELECT COUNT(*) FROM shop.items; SELECT CURRENT_USER()"],
                                capture_output=True, text=True)
        assert (answer.returncode, answer.stdout, answer.stderr) == (0, "3\ndump@127.0.0.1\n", "")
    finally:
        tcp.stop()
    assert not tcp.socket.parent.exists()


def test_a_dump_by_the_least_privileged_user_restores_everything(mariadb, tmp_path):
    mariadb.fill("shop")
    mariadb.create_user("dump", "dump-pass", ["shop"])
    options = option_file(tmp_path / "dump.cnf", "dump", "dump-pass", socket=mariadb.socket)
    assert os.stat(options).st_mode & 0o777 == 0o600
    dump = subprocess.run(["mariadb-dump", f"--defaults-extra-file={options}", "--single-transaction", "--routines",
                           "--events", "--triggers", "--databases", "shop"], capture_output=True)
    assert (dump.returncode, dump.stderr) == (0, b"")
    # the same dump, loaded as a fresh database beside the original
    mariadb.sql(dump.stdout.replace(b"`shop`", b"`shop_copy`"))
    assert mariadb.contents("shop_copy") == mariadb.contents("shop")
    assert "\t3\t" in mariadb.contents("shop")["audit"]  # the trigger's rows, not doubled by the restore
    assert mariadb.sql("CALL count_items(@n); SELECT @n, with_tax(10)", "shop_copy") == "3\t12.00\n"
    assert mariadb.sql("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop_copy';"
                       "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop_copy'"
                       ) == "items_audit\npurge_audit\n"


def test_a_stopped_server_refuses_connections_and_starts_again(mariadb):
    mariadb.fill("shop", rows=1)
    mariadb.stop()
    down = subprocess.run(["mariadb", "--no-defaults", "--user=root", f"--socket={mariadb.socket}", "-e", "SELECT 1"],
                          capture_output=True, text=True)
    assert down.returncode == 1 and "Can't connect to local server through socket" in down.stderr
    mariadb.start()
    assert mariadb.sql("SELECT COUNT(*) FROM items", "shop") == "1\n"
