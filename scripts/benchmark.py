"""Benchmark: the tool against the plain tools it stands on (find, raw rclone), as ratios on this machine.

    .venv/bin/python scripts/benchmark.py [--work DIR] [--repeat N] [--files N] [--big-files N] [--only a,b]

Builds its own synthetic trees under --work (default /tmp/backup-benchmark; kept between runs, so a second run
skips building), prints one table of medians and ratios, and writes it to docs/performance.md.
Not a test: timings depend on the machine. Everything runs locally; the sftp server listens on 127.0.0.1 only.
"""

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from tasks import watchdog  # noqa: E402
from tests.conftest import RcloneServer  # noqa: E402

BIN = Path(sys.executable).parent
RCLONE, DOIT = str(BIN / "rclone"), str(BIN / "doit")
DAY = 86400
DAYS = 7
ROWS = []


def median_time(command_or_function, repeat: int, before=None) -> float:
    """Median wall time of `repeat` runs (after one untimed warm-up run); `before` resets state between runs."""
    times = []
    for attempt in range(repeat + 1):
        if before:
            before()
        started = time.perf_counter()
        if callable(command_or_function):
            command_or_function()
        else:
            finished = subprocess.run(command_or_function, capture_output=True, text=True)
            if finished.returncode != 0:
                raise RuntimeError(f"{' '.join(command_or_function)} failed:\n{finished.stdout}{finished.stderr}")
        if attempt:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def row(measure: str, ours: float, reference_name: str, reference: float, target: str, met: bool,
        unit: str = "s") -> None:
    ratio = ours / reference if reference else float("nan")
    ROWS.append((measure, f"{ours:.2f} {unit}", f"{reference_name}: {reference:.2f} {unit}", f"{ratio:.2f}",
                 target, "yes" if met else "**no**"))
    print(f"{measure:52} ours {ours:8.2f} {unit:3} | {reference_name} {reference:8.2f} | ratio {ratio:5.2f} | "
          f"target {target} {'met' if met else 'NOT MET'}", flush=True)


def build_tree(root: Path, directories: int, files_per_directory: int, size: tuple[int, int], seed: int,
               young_share: float = 0.12) -> None:
    """Nested folders of files with spread modification times (a share of them younger than DAYS days)."""
    if (root / ".complete").exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    rng, now = random.Random(seed), time.time()
    print(f"building {root} ({directories * files_per_directory:,} files)", flush=True)
    for d in range(directories):
        folder = root / f"d{d // 100:03}" / f"d{d:05}"
        folder.mkdir(parents=True)
        for f in range(files_per_directory):
            path = folder / f"file{f:04}.dat"
            path.write_bytes(rng.randbytes(rng.randint(*size)) if size[1] else b"")
            age = rng.uniform(0, DAYS) if rng.random() < young_share else rng.uniform(DAYS + 1, 400)
            stamp = now - age * DAY
            os.utime(path, (stamp, stamp))
    (root / ".complete").touch()


def selection(work: Path, repeat: int, files: int) -> None:
    tree = work / f"tree-{files}"
    build_tree(tree, files // 100, 100, (0, 2000), seed=1)
    newer = time.time() - DAYS * DAY
    payload = {"source": str(tree), "newer_than": newer, "exclude": [], "list_file": str(work / "list")}
    ours = median_time(lambda: watchdog.run_child("select", payload, 600), repeat)
    find = median_time(["find", str(tree), "-type", "f", "-mtime", f"-{DAYS}", "-printf", "%s\n"], repeat)
    size = median_time([RCLONE, "size", "--max-age", f"{DAYS}d", str(tree), "--config", "/dev/null"], repeat)
    row(f"selection, {files:,} files (walk, age filter, sum, list)", ours, "find", find, "<= 1.3", ours <= 1.3 * find)
    row(f"selection, {files:,} files, against rclone size --max-age", ours, "rclone size", size, "<= 0.5",
        ours <= 0.5 * size)


def write_config(path: Path, backups: list[dict], **settings) -> Path:
    document = {"log_file": str(path.parent / "bench.log"), "min_free_gb": 0, **settings,
                "backup_copy_list": backups}
    path.write_text(yaml.safe_dump(document))
    return path


def doit(config: Path, *args: str) -> list[str]:
    return [DOIT, "-f", str(PROJECT / "dodo.py"), *args, f"config={config}"]


def whole_run(work: Path, repeat: int) -> None:
    tree = work / "copy-tree"
    build_tree(tree, 250, 100, (2_000, 20_000), seed=2, young_share=0.8)  # ~20k young files, ~200 MB
    (work / "run").mkdir(exist_ok=True)
    server = RcloneServer("sftp", work / "sftp-root", work / "sftp-rclone")
    server.start()
    server.write_rclone_config()
    try:
        for kind, base, raw, flags in (
            ("local folder", str(work / "dst-ours"), str(work / "dst-raw"), []),
            ("sftp on 127.0.0.1", "offsite:ours", "offsite:raw", ["--config", str(server.rclone_config)]),
        ):
            Path(work / "dst-ours").mkdir(exist_ok=True)

            def clean():
                for name in ("dst-ours", "dst-raw"):
                    shutil.rmtree(work / name, ignore_errors=True)
                (work / "dst-ours").mkdir()
                for name in ("ours", "raw"):  # through the server: rclone serve caches what it has seen
                    subprocess.run([RCLONE, "purge", f"offsite:{name}", "--config", str(server.rclone_config)],
                                   capture_output=True)

            timings = {}
            for verify in ("off", "checksum"):
                config = write_config(work / "run" / "config.yaml", [
                    {"name": "bench", "source_dir": str(tree), "rclone_path": base, "days": DAYS,
                     "max_size_mb": 100_000, "verify": verify}],
                    rclone={"config": str(server.rclone_config)})
                timings[verify] = median_time(doit(config), repeat, before=clean)
            copy = [RCLONE, "copy", "--max-age", f"{DAYS}d", str(tree), raw, *flags]
            timings["raw"] = median_time(copy, repeat, before=clean)
            row(f"whole run to a {kind} (verify off, SHA256SUMS on)", timings["off"], "rclone copy", timings["raw"],
                "<= 1.10", timings["off"] <= 1.10 * timings["raw"])
            row(f"verification cost to a {kind} (extra time / copy)", timings["checksum"] - timings["off"],
                "rclone copy", timings["raw"], "reported", True)
        sums = work / "sums"
        listing = work / "list-copy"
        watchdog.run_child("select", {"source": str(tree), "newer_than": time.time() - DAYS * DAY, "exclude": [],
                                      "list_file": str(listing)}, 600)
        hashing = median_time(lambda: watchdog.run_child(
            "hash", {"source": str(tree), "list_file": str(listing), "sums_file": str(sums)}, 600), repeat)
        row("SHA256SUMS hashing of the copied files (part of a run)", hashing, "rclone copy", timings["raw"],
            "reported", True)
    finally:
        server.stop()


def listing(work: Path, repeat: int) -> None:
    folder = work / "list-bench"
    folder.mkdir(exist_ok=True)
    config = write_config(folder / "config.yaml", [
        {"name": f"backup{n:03}", "source_dir": f"/mnt/usb/b{n}", "rclone_path": f"offsite:b{n}", "days": 1}
        for n in range(100)])
    trivial = folder / "trivial_dodo.py"
    trivial.write_text("def task_hello():\n    return {'actions': ['true'], 'doc': 'hello'}\n")
    ours = median_time(doit(config, "list"), repeat)
    reference = median_time([DOIT, "-f", str(trivial), "list"], repeat)
    row("doit list with 100 backups", ours, "trivial dodo.py", reference, "<= 1.5", ours <= 1.5 * reference)


def memory(work: Path, files: int) -> None:
    tree = work / f"tree-{files}"
    build_tree(tree, files // 1000, 1000, (0, 0), seed=3)
    probe = (f"import resource, sys, time; sys.path.insert(0, {str(PROJECT)!r}); from tasks import watchdog; "
             f"watchdog.run_child('select', {{'source': {str(tree)!r}, 'newer_than': None, 'exclude': [], "
             f"'list_file': {str(work / 'big-list')!r}}}, 600); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    peak_kib = int(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout)
    row(f"peak RSS of the selection over {files:,} files", peak_kib / 1024, "limit", 100, "<= 100 MB",
        peak_kib / 1024 <= 100, unit="MB")


def parallel(work: Path, repeat: int) -> None:
    folder = work / "parallel"
    backups = []
    for n in range(4):
        source = folder / f"src{n}"
        if not source.exists():
            make = random.Random(n)
            source.mkdir(parents=True)
            for f in range(20):
                (source / f"f{f}.bin").write_bytes(make.randbytes(100_000))
        backups.append({"name": f"p{n}", "source_dir": str(source), "rclone_path": str(folder / f"dst{n}"),
                        "rclone": {"flags": ["--bwlimit", "1M"]}, "verify": "off"})

    def clean():
        for n in range(4):
            shutil.rmtree(folder / f"dst{n}", ignore_errors=True)
            (folder / f"dst{n}").mkdir()

    config = write_config(folder / "config.yaml", backups)
    serial = median_time(doit(config), repeat, before=clean)
    threads = median_time(doit(config, "-n", "4"), repeat, before=clean)
    row("4 bandwidth-limited backups, doit -n 4 vs serial", threads, "serial", serial, "<= 0.4",
        threads <= 0.4 * serial)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                          if line.startswith("MemTotal")))
    rclone = subprocess.run([RCLONE, "version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (f"{os.cpu_count()} cores ({cpu}), {memory_kib / 1024 ** 2:.0f} GiB, Linux {platform.release()}, "
            f"Python {platform.python_version()}, {rclone}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/backup-benchmark"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--files", type=int, default=200_000)
    parser.add_argument("--big-files", type=int, default=1_000_000)
    parser.add_argument("--only", default="selection,run,list,memory,parallel")
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "performance.md")
    options = parser.parse_args()
    options.work.mkdir(parents=True, exist_ok=True)
    chosen = options.only.split(",")
    started = time.time()
    sections = {
        "selection": lambda: selection(options.work, options.repeat, options.files),
        "run": lambda: whole_run(options.work, max(3, options.repeat // 2)),
        "list": lambda: listing(options.work, options.repeat),
        "memory": lambda: memory(options.work, options.big_files),
        "parallel": lambda: parallel(options.work, max(3, options.repeat // 2)),
    }
    for name, section in sections.items():
        if name in chosen:
            try:
                section()
            except RuntimeError as error:  # a failed run is a finding too: report it, go on
                first = str(error).splitlines()
                print(f"{name}: {error}", flush=True)
                ROWS.append((name, "failed", " ".join(first[1:3])[:300], "", "", "**no**"))
    table = ["| measure | ours | reference | ratio | target | met |", "| --- | --- | --- | --- | --- | --- |"]
    table += ["| " + " | ".join(cells) + " |" for cells in ROWS]
    if options.out.exists() and set(chosen) != set(sections):  # keep the earlier rows of the sections not run
        measured = {cells[0] for cells in ROWS}
        earlier = [line for line in options.out.read_text().splitlines()
                   if line.startswith("| ") and not line.startswith(("| measure", "| ---"))
                   and line.split(" | ")[0][2:] not in measured]
        table[2:2] = earlier
    command = "scripts/benchmark.py " + " ".join(sys.argv[1:])
    report = (f"Machine: {machine()}.\n\nCommand: `.venv/bin/python {command.strip()}` "
              f"({time.time() - started:.0f} s, medians of {options.repeat} runs after a warm-up; "
              f"{time.strftime('%Y-%m-%d')}).\n\n" + "\n".join(table) + "\n")
    print("\n" + report)
    options.out.write_text(options.out.read_text().split("<!-- results -->")[0] + "<!-- results -->\n\n" + report
                           if options.out.exists() and "<!-- results -->" in options.out.read_text()
                           else "# Performance\n\n<!-- results -->\n\n" + report)


if __name__ == "__main__":
    main()
