"""Progress reporting without any GUI toolkit.

Long core operations accept a ``progress`` callable ``(done, total, label) -> bool | None``.
Returning ``False`` asks the operation to stop: it then raises :class:`surgiplan.errors.Cancelled`.
The CLI draws a text bar from it; the app forwards it to a progress dialog with a cancel button.
"""

from __future__ import annotations

from collections.abc import Callable

from surgiplan.errors import Cancelled

ProgressCallback = Callable[[int, int, str], "bool | None"]


def report(progress: ProgressCallback | None, done: int, total: int, label: str) -> None:
    """Forward one progress step, raising :class:`Cancelled` when the receiver asks to stop."""
    if progress is None:
        return
    if progress(done, total, label) is False:
        raise Cancelled(f"{label}: cancelled by the user")
