"""Run deptry's command line once per pipeline, all in this one process.

Usage: python _deptry_batch.py < jobs.json, where jobs is a list of {"folder", "package",
"output"}: deptry checks `folder` against its own pyproject.toml, with the folder's package
as first party, and writes its JSON report to `output`. Run by the project's interpreter,
so that deptry maps packages to modules with what is installed there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from deptry.cli import cli  # type: ignore[import-untyped]  # deptry ships no type hints


def main() -> int:
    """Check every job; a job whose report is missing afterwards failed."""
    start = Path.cwd()
    for job in json.load(sys.stdin):
        os.chdir(start / job["folder"])  # deptry's default excludes are relative to it
        arguments = [".", "--config", "pyproject.toml", "--no-ansi"]
        arguments += ["--known-first-party", job["package"], "--json-output", job["output"]]
        try:
            cli.main(args=arguments, prog_name="deptry", standalone_mode=False)
        except SystemExit:
            pass  # deptry exits 1 when it finds issues; the report says which
        except Exception as error:
            sys.stderr.write(f"deptry failed in {job['folder']}: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
