"""Reject bad answers to the template's questions before any file is written.

The nox session `new` loads this module too and calls `problem()` before it starts
cookiecutter, so both ways of creating a pipeline apply the same rules.
"""

from __future__ import annotations

import re
import sys

NAME = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


def problem(secretaria: str, pipeline: str) -> str | None:
    """The one sentence that explains what is wrong with the two answers, or None.

    An existing pipeline is refused by cookiecutter itself, which will not write into a
    folder that exists, and by the `new` session before it starts cookiecutter.
    """
    for label, value in (("secretaria", secretaria), ("pipeline", pipeline)):
        if not value.strip():
            return f"the {label} name is empty; answer with lowercase letters, digits and _"
        if NAME.fullmatch(value) is None:
            return (
                f"the {label} name {value!r} is not valid; use only lowercase letters a-z, "
                "digits and single underscores, not at the start or the end"
            )
    if secretaria.startswith("rj_") or secretaria == "rj":
        return f"the secretaria {secretaria!r} must not start with 'rj_'; it is added for you"
    return None


def main() -> int:
    """Validate the rendered answers; exit status 1 makes cookiecutter remove its output."""
    # cookiecutter renders each answer as a JSON string literal, which is Python too, so no
    # answer (quotes, backslashes, newlines) can change this code; unrendered, it still parses.
    answers = {
        "secretaria": {{cookiecutter.secretaria | tojson}},
        "pipeline": {{cookiecutter.pipeline | tojson}},
    }
    message = problem(str(answers["secretaria"]), str(answers["pipeline"]))
    if message is not None:
        sys.stderr.write(f"error: {message}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
