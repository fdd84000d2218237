"""File helpers shared by every writer."""

from surgiplan.io.atomic import atomic_path

__all__ = ["atomic_path"]
