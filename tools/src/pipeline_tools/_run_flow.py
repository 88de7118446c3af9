"""Run one flow once; executed by the pipeline's own interpreter, so it uses only the stdlib.

Usage: python _run_flow.py MODULE FUNCTION [key=value ...]; a value that parses as JSON is
passed decoded (numbers, lists, true/false/null), anything else as a string, and Prefect
then validates it against the flow's signature.
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any


def parse_parameters(pairs: list[str]) -> dict[str, Any]:
    """Turn key=value words into flow parameters."""
    parameters: dict[str, Any] = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            parameters[key] = json.loads(raw)
        except ValueError:
            parameters[key] = raw
    return parameters


def main(argv: list[str]) -> int:
    """Import the flow and call it; a failed flow run exits with status 1."""
    module_name, function_name, *pairs = argv
    flow = getattr(importlib.import_module(module_name), function_name)
    state = flow(**parse_parameters(pairs), return_state=True)
    print(f"flow run finished: {state.name}")
    return 0 if state.is_completed() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
