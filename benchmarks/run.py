"""Runner of the Home Assistant benchmarks (`scripts/bench events|media`): runs one under Home
Assistant's test harness and prints its result line. `events` runs three times
(BENCH_RUNS) and prints the line of the run with the median p99, then the spread of p50, p95
and p99 over the runs."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import tempfile


def _figures(line: str) -> dict[str, float]:
    return {
        key: float(value)
        for key, value in (part.split("=", 1) for part in line.split()[1:] if "=" in part)
        if value.replace(".", "", 1).isdigit()
    }


def _network(argv: list[str]) -> list[str]:
    """`--network loopback|wan` for the emulator (BENCH_NETWORK); the rest for pytest."""
    rest, network = [], os.environ.get("BENCH_NETWORK", "loopback")
    args = iter(argv)
    for arg in args:
        if arg == "--network":
            network = next(args, "loopback")
        elif arg.startswith("--network="):
            network = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    if network not in ("loopback", "wan"):
        raise SystemExit(f"--network: loopback or wan, not {network!r}")
    os.environ["BENCH_NETWORK"] = network
    return rest


def main() -> int:
    sys.argv[2:] = _network(sys.argv[2:])
    suite = sys.argv[1]
    if suite != "events":
        return _once(suite)
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    lines = []
    for n in range(runs):
        line = _capture(suite)
        if line is None:
            return 1
        print(f"run {n + 1}: {line}", file=sys.stderr)
        lines.append(line)
    figures = [_figures(line) for line in lines]
    if any(f.get("lost") or f.get("duplicated") for f in figures):
        print("events benchmark: an event was lost or doubled", file=sys.stderr)
        return 1
    order = sorted(range(runs), key=lambda i: figures[i].get("p99_ms", 0.0))
    print(lines[order[runs // 2]])
    spread = " ".join(
        f"{key}={min(f[key] for f in figures):g}-{max(f[key] for f in figures):g}"
        for key in ("p50_ms", "p95_ms", "p99_ms")
        if all(key in f for f in figures)
    )
    print(f"spread of {runs} runs: {spread}")
    return 0


def _capture(suite: str) -> str | None:
    """One run's result line, or None when it failed."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.txt"
        env = {**os.environ, "BOTSLAB_BENCH_OUT": str(out)}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                f"benchmarks/bench_{suite}.py",
                "-q",
                "-p",
                "no:cacheprovider",
                "--no-header",
                "-o",
                "addopts=",
                *sys.argv[2:],
            ],
            cwd=root,
            env=env,
            check=False,
        )
        if proc.returncode != 0 or not out.exists():
            print(f"{suite} benchmark failed", file=sys.stderr)
            return None
        return out.read_text().strip()


def _once(suite: str) -> int:
    line = _capture(suite)
    if line is None:
        return 1
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
