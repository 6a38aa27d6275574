"""Callgrind for the instruction-count benchmarks (bench_request_path.py, bench_h2_path.py,
bench_server_instructions.py): the command line, and the instructions a run executed.

Instruction counts are what these benchmarks report because they repeat to a few tens of instructions on a
machine whose wall-clock rates swing by a third; each script runs twice with different lengths and divides
the difference, so start-up cancels out. PYTHONHASHSEED is fixed so that two runs hash alike.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

ENV = dict(os.environ, PYTHONHASHSEED="0")


def command(out: str, argv: list[str]) -> list[str]:
    """`argv` under callgrind, its counts written to `out` (and `out`.PID for processes it forks)."""
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *argv]


def totals(folder: str | Path) -> int:
    """The instructions of the largest process whose callgrind output is in `folder`."""
    text = "".join(p.read_text() for p in Path(folder).glob("callgrind.out*"))
    found = [int(m) for m in re.findall(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)]
    assert found, "no totals in the callgrind output"
    return max(found)


def count(argv: list[str]) -> int:
    """The instructions `argv` executes, run to its end under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = command(os.path.join(tmp, "callgrind.out"), argv)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
        return totals(tmp)
