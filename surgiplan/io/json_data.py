"""Reading the JSON tables SurgiPlan ships or users supply, with errors a user can act on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from surgiplan.errors import InputError


def read_json(path: str | Path, what: str) -> Any:
    """The parsed JSON document at ``path``.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file is, for messages (e.g. ``"instrument catalogue"``).

    Raises
    ------
    InputError
        When the file is missing, unreadable or not valid JSON (with the line number).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"cannot read the {what} {path}: file not found (check the path or "
                         "restore the file)") from None
    except OSError as exc:
        raise InputError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} {path} is not valid JSON (line {exc.lineno}): {exc.msg}"
                         ) from None
