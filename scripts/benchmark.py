"""Benchmark: the tool against the plain tools it stands on (find, raw rclone), as ratios on this machine.

    .venv/bin/python scripts/benchmark.py --repeat 5                      # every section: the full run
    .venv/bin/python scripts/benchmark.py --repeat 5 --only full,day2     # some sections
    .venv/bin/python scripts/benchmark.py --repeat 1 --out /tmp/perf.md --files 2000 --big-files 10000 \
        --full-files 500 --day2-files 50                                  # smoke test, about 2 minutes

Sections (--only): selection (200,000 files against find, worst ratio of the repeats; against rclone size),
memory (peak RSS of the selection over 1,000,000 files), list (doit list, 100 backups), full (25,000 files /
200 MiB to a local folder, verify checksum and off, against rclone copy + check and rclone copy), day2 (an
unchanged 200 MiB source to S3 on day 2 against uploading it, --bwlimit), fixed (what one more backup costs, and
the rclone processes it starts), parallel (4 bandwidth-limited backups, doit -n 4 against serial), destinations
(one backup to 3 destinations side by side against one after the other, and against 3 backups of one source),
restic (a restic run of ours against the same restic commands, and what a second run adds after 1 % changed).

Builds its own trees under --work (kept between runs, so a second run skips building), prints one table of
medians and ratios, and writes it below `<!-- results -->` of --out (docs/performance.md). Not a test: timings
depend on the machine. Needs only what scripts/setup.sh installs; the S3 server listens on 127.0.0.1 only.
"""

import argparse
import collections
import datetime
import itertools
import json
import os
import platform
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from scripts.rclone_servers import RcloneServer  # noqa: E402
from tasks import watchdog  # noqa: E402

BIN = Path(sys.executable).parent
RCLONE, DOIT = str(BIN / "rclone"), str(BIN / "doit")
DAY = 86400
DAYS = 7
KIB, MIB = 1024, 1024 ** 2
ROWS = []


def run(command) -> None:
    """Run an argv list (failing loudly) or call a function."""
    if callable(command):
        command()
        return
    finished = subprocess.run(command, capture_output=True, text=True)
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{finished.stdout}{finished.stderr}")


def timed(commands: dict, repeat: int, before=None) -> dict[str, list[float]]:
    """Wall times of each command, `repeat` rounds after one untimed warm-up round (page cache warm). The commands
    take turns, so a slow spell of this machine's disk hits them alike; `before(name)` resets state before each."""
    times = {name: [] for name in commands}
    for attempt in range(repeat + 1):
        for name, command in commands.items():
            if before:
                before(name)
            started = time.perf_counter()
            run(command)
            if attempt:
                times[name].append(time.perf_counter() - started)
    return times


def medians(times: dict[str, list[float]], *names: str) -> list[float]:
    return [statistics.median(times[name]) for name in names]


def row(measure: str, ours: float, reference_name: str, reference: float, target: str, met: bool,
        unit: str = "s") -> None:
    ratio = ours / reference if reference else float("nan")
    ROWS.append((measure, f"{ours:.2f} {unit}", f"{reference_name}: {reference:.2f} {unit}", f"{ratio:.2f}",
                 target, "yes" if met else "**no**"))
    print(f"{measure:60} ours {ours:8.2f} {unit:3} | {reference_name} {reference:8.2f} | ratio {ratio:5.2f} | "
          f"target {target} {'met' if met else 'NOT MET'}", flush=True)


def build_tree(root: Path, files: int, size: tuple[int, int], seed: int, young_share: float = 0.12,
               per_folder: int = 100) -> Path:
    """`files` files in nested folders of `per_folder`, sizes uniform in `size`, modification times spread over
    400 days (`young_share` of them younger than DAYS days)."""
    built = root.with_name(root.name + ".complete")  # beside the tree: a run with `days: 0` copies every file
    if built.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng, now = random.Random(seed), time.time()
    print(f"building {root} ({files:,} files)", flush=True)
    for n in range(files):
        d, f = divmod(n, per_folder)
        folder = root / f"d{d // 100:03}" / f"d{d:05}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"file{f:04}.dat"
        path.write_bytes(rng.randbytes(rng.randint(*size)) if size[1] else b"")
        age = rng.uniform(0, DAYS) if rng.random() < young_share else rng.uniform(DAYS + 1, 400)
        os.utime(path, (now - age * DAY, now - age * DAY))
    built.touch()
    return root


def fresh(*folders: Path) -> None:
    """Empty folders, and the disk's write-back done: the last run's writes must not slow down the next one."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    os.sync()


def write_config(path: Path, backups: list[dict], **settings) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"log_file": str(path.parent / "bench.log"), "min_free_gb": 0, **settings,
                "backup_copy_list": backups}
    path.write_text(yaml.safe_dump(document))
    return path


def doit(config: Path, *args: str) -> list[str]:
    return [DOIT, "-f", str(PROJECT / "dodo.py"), *args, f"config={config}"]


def selection(work: Path, repeat: int, files: int) -> None:
    """The target holds every time, so the worst round counts (both commands of a round ran back to back)."""
    tree = build_tree(work / f"tree-{files}", files, (0, 2000), seed=1)
    payload = {"source": str(tree), "newer_than": time.time() - DAYS * DAY, "exclude": [],
               "list_file": str(work / "list")}
    times = timed({"ours": lambda: watchdog.run_child("select", payload, 600),
                   "find": ["find", str(tree), "-type", "f", "-mtime", f"-{DAYS}", "-printf", "%s\n"],
                   "size": [RCLONE, "size", "--max-age", f"{DAYS}d", str(tree), "--config", "/dev/null"]}, repeat)
    ours, find = times["ours"], times["find"]
    worst = max(range(repeat), key=lambda n: ours[n] / find[n])
    print(f"selection: ratios to find {', '.join(f'{o / f:.2f}' for o, f in zip(ours, find, strict=True))}")
    row(f"selection, {files:,} files (walk, age filter, sum, list), worst of {repeat}", ours[worst], "find",
        find[worst], "<= 1.3 every time", all(o <= 1.3 * f for o, f in zip(ours, find, strict=True)))
    ours, size = medians(times, "ours", "size")
    row(f"selection, {files:,} files, against rclone size --max-age", ours, "rclone size", size, "<= 0.5",
        ours <= 0.5 * size)


def full_run(work: Path, repeat: int, files: int) -> None:
    """A whole one-backup run (checks, selection, copy, verify, seal, retention) against the rclone commands a
    shell script would run for the same copy."""
    tree = build_tree(work / f"full-tree-{files}", files, (1_000, 15_777), seed=2)  # 8 KiB on average
    mib = sum(p.stat().st_size for p in tree.rglob("*.dat")) / MIB
    folder, ours_dst, raw_dst = work / "full", work / "full" / "dst-ours", work / "full" / "dst-raw"
    copy, check = (shlex.join([RCLONE, command, str(tree), str(raw_dst)]) for command in ("copy", "check"))
    for verify, reference_name, reference in (("checksum", "rclone copy + check", f"{copy} && {check}"),
                                              ("off", "rclone copy", copy)):
        config = write_config(folder / "config.yaml", [
            {"name": "full", "source_dir": str(tree), "rclone_path": str(ours_dst), "days": 0,
             "max_size_mb": 100_000, "verify": verify}])
        times = timed({"ours": doit(config), "raw": ["sh", "-c", reference]}, repeat,
                      before=lambda _: fresh(ours_dst, raw_dst))
        ours, raw = medians(times, "ours", "raw")
        row(f"full run, {files / 1000:g}k files / {mib:.0f} MiB, verify: {verify}, local destination", ours,
            reference_name, raw, "<= 1.05", ours <= 1.05 * raw)


def day2(work: Path, repeat: int, files: int, bwlimit: str) -> None:
    """Day 2 of an unchanged source on S3: each file is copied on the server from yesterday's sealed folder, so
    nothing crosses the (bandwidth-limited) network; the reference uploads it all into a new folder."""
    tree = build_tree(work / f"day2-tree-{files}", files, (100 * KIB, 100 * KIB), seed=4)
    server = RcloneServer("s3", work / "day2" / "s3-root", work / "day2" / "s3-rclone")
    bucket, flags, today = server.root / "bucket", ["--bwlimit", bwlimit], datetime.date.today()
    todays, uploaded = bucket / "ours" / f"day2_{today}", []
    shutil.rmtree(bucket, ignore_errors=True)  # dated folders of earlier benchmark runs
    server.start()
    rclone_config = str(server.write_rclone_config())
    config = write_config(work / "day2" / "config.yaml", [
        {"name": "day2", "source_dir": str(tree), "rclone_path": "offsite:bucket/ours", "max_size_mb": 100_000}],
        rclone={"config": rclone_config, "flags": flags})

    def restart(name: str | None = None) -> None:  # it caches listings, and its disk changed behind its back
        if name:
            shutil.rmtree(todays if name == "ours" else bucket / "raw", ignore_errors=True)
        server.stop()
        server.start()

    def ours() -> None:
        run(doit(config))
        result = json.loads((config.parent / "results" / "backup-day2.json").read_text())
        metrics = result.get("metrics", {})
        uploaded.append(metrics.get("uploaded_bytes"))
        print(f"day2: {result.get('status')}, " + (", ".join(f"{key} {metrics.get(key)}" for key in (
            "server_side_copy", "uploaded_bytes", "server_side_bytes", "server_side_files"))
            if "uploaded_bytes" in metrics else f"no metrics.uploaded_bytes in {json.dumps(result)[:2000]}"))

    try:
        run(doit(config))  # day 1, untimed; its folder then becomes yesterday's
        todays.rename(todays.with_name(f"day2_{today - datetime.timedelta(days=1)}"))
        restart()
        times = timed({"ours": ours, "raw": [RCLONE, "copy", str(tree), "offsite:bucket/raw", *flags, "--config",
                                             rclone_config]}, repeat, before=restart)
    finally:
        server.stop()
    mib, (ours_time, raw) = files * 100 * KIB / MIB, medians(times, "ours", "raw")
    row(f"day-2 run, {files:,} unchanged files / {mib:.0f} MiB to S3 (--bwlimit {bwlimit})", ours_time,
        "rclone copy", raw, "<= 0.15", ours_time <= 0.15 * raw)
    worst = float("nan") if None in uploaded[1:] else max(uploaded[1:])  # of the timed runs
    row("day-2 run: bytes uploaded (most of the timed runs)", worst / MIB, "selected", mib, "0 B", worst == 0,
        unit="MiB")


def fixed_cost(work: Path, repeat: int) -> None:
    """What one more backup costs beyond its copy: (10 backups - 1 backup) / 9 on trees of 3 tiny files, in
    units of one rclone process start (`rclone version`); then which rclone processes one backup starts."""
    folder = work / "fixed"
    wrapper, calls = folder / "rclone-wrapper", folder / "rclone-calls"
    for n, f in itertools.product(range(10), range(3)):
        (folder / f"src{n}").mkdir(parents=True, exist_ok=True)
        (folder / f"src{n}" / f"f{f}.txt").write_text(f"tiny file {f} of backup {n}\n")
    backups = [{"name": f"tiny{n}", "source_dir": str(folder / f"src{n}"), "rclone_path": str(folder / f"dst{n}")}
               for n in range(10)]
    configs = {"one": backups[:1], "ten": backups}

    def reset(_=None) -> None:
        fresh(*(folder / f"dst{n}" for n in range(10)))

    times = timed({name: doit(write_config(folder / name / "config.yaml", chosen))
                   for name, chosen in configs.items()} | {"rclone version": [RCLONE, "version"]}, repeat, reset)
    t1, t10, process = medians(times, "one", "ten", "rclone version")
    print(f"fixed: 1 backup {t1:.2f} s, 10 backups {t10:.2f} s")
    row("per-backup fixed cost of a full run on a tiny tree (checks + selection + seal + prune)", (t10 - t1) / 9,
        "rclone version", process, "<= 0.3 s", (t10 - t1) / 9 <= 0.3)
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{calls}"\nexec "{RCLONE}" "$@"\n')
    wrapper.chmod(0o755)
    counted = {}
    for name, chosen in configs.items():
        reset()
        calls.unlink(missing_ok=True)
        run(doit(write_config(folder / name / "config.yaml", chosen, rclone={"binary": str(wrapper)})))
        counted[name] = calls.read_text().split()
    per_backup = (len(counted["ten"]) - len(counted["one"])) / 9
    print(f"rclone processes: {len(counted['one'])} for 1 backup, {len(counted['ten'])} for 10 "
          f"({per_backup:g} per further backup)\n  one backup: {' '.join(counted['one'])}\n  10 backups: "
          f"{dict(collections.Counter(counted['ten']))}", flush=True)


def listing(work: Path, repeat: int) -> None:
    folder = work / "list-bench"
    config = write_config(folder / "config.yaml", [
        {"name": f"backup{n:03}", "source_dir": f"/mnt/usb/b{n}", "rclone_path": f"offsite:b{n}", "days": 1}
        for n in range(100)])
    trivial = folder / "trivial_dodo.py"
    trivial.write_text("def task_hello():\n    return {'actions': ['true'], 'doc': 'hello'}\n")
    times = timed({"ours": doit(config, "list"), "trivial": [DOIT, "-f", str(trivial), "list"]}, repeat)
    ours, reference = medians(times, "ours", "trivial")
    row("doit list with 100 backups", ours, "trivial dodo.py", reference, "<= 1.5", ours <= 1.5 * reference)


def memory(work: Path, files: int) -> None:
    tree = build_tree(work / f"tree-{files}", files, (0, 0), seed=3, per_folder=1000)
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
    config = write_config(folder / "config.yaml", backups)
    times = timed({"serial": doit(config), "threads": doit(config, "-n", "4")}, repeat,
                  before=lambda _: fresh(*(folder / f"dst{n}" for n in range(4))))
    serial, threads = medians(times, "serial", "threads")
    row("4 bandwidth-limited backups, doit -n 4 vs serial", threads, "serial", serial, "<= 0.4",
        threads <= 0.4 * serial)


def destinations(work: Path, repeat: int) -> None:
    """One backup to three destinations: side by side (parallel_destinations: 3) against one after the other,
    each bandwidth-limited; and the source walked and hashed once against three backups of it."""
    folder = work / "destinations"
    source = folder / "src-40"
    if not source.exists():
        make = random.Random(7)
        source.mkdir(parents=True)
        for f in range(40):
            (source / f"f{f}.bin").write_bytes(make.randbytes(100_000))
    targets = [folder / f"dst{n}" for n in range(3)]
    slow = [{"rclone_path": str(target), "rclone": {"flags": ["--bwlimit", "1M"]}} for target in targets]
    configs = {workers: write_config(folder / f"config-{workers}.yaml", [
        {"name": "d", "source_dir": str(source), "destinations": slow}], parallel_destinations=workers)
        for workers in (1, 3)}
    times = timed({"one after the other": doit(configs[1]), "side by side": doit(configs[3])}, repeat,
                  before=lambda _: fresh(*targets))
    serial, side = medians(times, "one after the other", "side by side")
    row("one backup to 3 bandwidth-limited destinations, parallel_destinations 3 vs 1", side, "1 at a time",
        serial, "<= 0.5", side <= 0.5 * serial)
    tree = build_tree(work / "destinations-tree", 5_000, (KIB, 64 * KIB), seed=8)
    one = write_config(folder / "one.yaml", [{"name": "d", "source_dir": str(tree), "max_size_mb": 100_000,
                                              "destinations": [{"rclone_path": str(t)} for t in targets]}],
                       parallel_destinations=3)
    three = write_config(folder / "three.yaml", [{"name": f"d{n}", "source_dir": str(tree), "max_size_mb": 100_000,
                                                  "rclone_path": str(t)} for n, t in enumerate(targets)])
    times = timed({"one backup": doit(one), "three backups": doit(three, "-n", "3")}, repeat,
                  before=lambda _: fresh(*targets))
    ours, reference = medians(times, "one backup", "three backups")
    row("5k files to 3 local destinations: one backup (hashed once) vs 3 backups (doit -n 3)", ours,
        "3 backups", reference, "<= 1.0", ours <= reference)


def restic(work: Path, repeat: int, files: int) -> None:
    """A restic backup run of ours (snapshot, forget --prune, check, stats) against the same restic commands in a
    shell script; then the bytes a second run adds after 1 % of the files changed, against the bytes changed."""
    binary = shutil.which("restic")
    if not binary:
        raise RuntimeError("restic is not installed (apt install restic)")
    tree = build_tree(work / f"full-tree-{files}", files, (1_000, 15_777), seed=2)
    folder = work / "restic"
    ours_repo, raw_repo = folder / "repo-ours", folder / "repo-raw"
    env = {**os.environ, "RESTIC_PASSWORD": "benchmark-only-password"}
    os.environ["RESTIC_PASSWORD"] = env["RESTIC_PASSWORD"]  # the doit runs read it from the environment
    config = write_config(folder / "config.yaml", [
        {"name": "snap", "source_dir": str(tree), "rclone_path": str(ours_repo), "engine": "restic",
         "restic": {"read_data_subset": "0"}}])
    restic_cli = f"{shlex.quote(binary)} -r {shlex.quote(str(raw_repo))} -q"
    reference = (f"cd {shlex.quote(str(tree))} && {restic_cli} backup . --tag backup:snap && {restic_cli} forget "
                 f"--prune --tag backup:snap --keep-last 2 && {restic_cli} check && {restic_cli} stats --mode "
                 "raw-data > /dev/null")

    def fresh_repositories(_=None) -> None:
        fresh(ours_repo, raw_repo)
        for repository in (ours_repo, raw_repo):
            subprocess.run([binary, "init", "-q", "-r", str(repository)], env=env, check=True)

    times = timed({"ours": doit(config), "raw": ["sh", "-c", reference]}, repeat, before=fresh_repositories)
    ours, raw = medians(times, "ours", "raw")
    row(f"restic run, {files / 1000:g}k files (snapshot, forget --prune, check, stats)", ours,
        "the same restic commands", raw, "<= 1.10", ours <= 1.10 * raw)
    changed_tree = folder / "tree-copy"
    shutil.rmtree(changed_tree, ignore_errors=True)
    shutil.copytree(tree, changed_tree)
    second = write_config(folder / "second.yaml", [
        {"name": "snap", "source_dir": str(changed_tree), "rclone_path": str(ours_repo), "engine": "restic",
         "restic": {"read_data_subset": "0"}}])
    fresh_repositories()
    run(doit(second))
    rng, changed = random.Random(9), 0
    for path in rng.sample(sorted(changed_tree.rglob("*.dat")), files // 100):
        data = bytearray(path.read_bytes())
        data[: min(len(data), 512)] = rng.randbytes(min(len(data), 512))
        path.write_bytes(bytes(data))
        changed += len(data)
    run(doit(second))
    added = json.loads((second.parent / "results" / "backup-snap.json").read_text())["metrics"]["snapshot"]
    row("restic second run, 1 % of files changed: bytes added", added["data_added"] / MIB, "bytes of the changed files",
        changed / MIB, "<= 2", added["data_added"] <= 2 * changed, unit="MiB")


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
    parser.add_argument("--files", type=int, default=200_000, help="files of the selection tree")
    parser.add_argument("--big-files", type=int, default=1_000_000, help="files of the memory tree")
    parser.add_argument("--full-files", type=int, default=25_000, help="files of the full run (8 KiB on average)")
    parser.add_argument("--day2-files", type=int, default=2_000, help="files of the day-2 run (100 KiB each)")
    parser.add_argument("--bwlimit", default="5M", help="rclone --bwlimit of the day-2 run")
    parser.add_argument("--only", default="selection,memory,list,full,day2,fixed,parallel,destinations,restic")
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "performance.md")
    options = parser.parse_args()
    options.work.mkdir(parents=True, exist_ok=True)
    chosen = options.only.split(",")
    started = time.time()
    work, repeat = options.work, options.repeat
    fewer = min(repeat, max(3, repeat // 2))  # the slow sections
    sections = {
        "selection": lambda: selection(work, repeat, options.files),
        "memory": lambda: memory(work, options.big_files),
        "list": lambda: listing(work, repeat),
        "full": lambda: full_run(work, repeat, options.full_files),
        "day2": lambda: day2(work, fewer, options.day2_files, options.bwlimit),
        "fixed": lambda: fixed_cost(work, repeat),
        "parallel": lambda: parallel(work, fewer),
        "destinations": lambda: destinations(work, fewer),
        "restic": lambda: restic(work, fewer, options.full_files),
    }
    unknown = set(chosen) - set(sections)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; known: {', '.join(sections)}")
    for name, section in sections.items():
        if name in chosen:
            try:
                section()
            except Exception as error:  # a failed run is a finding too: report it, go on to the next section
                first = str(error).splitlines()
                print(f"{name}: {error}", flush=True)
                ROWS.append((name, "failed", " ".join(first[1:3])[:300], "", "", "**no**"))
    table = ["| measure | ours | reference | ratio | target | met |", "| --- | --- | --- | --- | --- | --- |"]
    table += ["| " + " | ".join(cells) + " |" for cells in ROWS]
    if options.out.exists() and set(chosen) != set(sections):  # keep the earlier rows of the sections not run
        measured = {cells[0] for cells in ROWS}
        earlier = [line for line in options.out.read_text().split("<!-- results -->")[-1].splitlines()
                   if line.startswith("| ") and not line.startswith(("| measure", "| ---"))
                   and line.split(" | ")[0][2:] not in measured]
        table[2:2] = earlier
    command = "scripts/benchmark.py " + " ".join(sys.argv[1:])
    report = (f"Machine: {machine()}.\n\nCommand: `.venv/bin/python {command.strip()}` "
              f"({time.time() - started:.0f} s, medians of {repeat} runs after a warm-up, {fewer} for day2 and "
              f"parallel; {time.strftime('%Y-%m-%d')}).\n\n" + "\n".join(table) + "\n")
    print("\n" + report)
    options.out.write_text(options.out.read_text().split("<!-- results -->")[0] + "<!-- results -->\n\n" + report
                           if options.out.exists() and "<!-- results -->" in options.out.read_text()
                           else "# Performance\n\n<!-- results -->\n\n" + report)


if __name__ == "__main__":
    main()
