"""Runner of the Home Assistant benchmarks (`scripts/bench events|media`): runs one under Home
Assistant's test harness and prints its result as the final line."""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import tempfile


def main() -> int:
    suite = sys.argv[1]
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
            return 1
        print(out.read_text().strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
