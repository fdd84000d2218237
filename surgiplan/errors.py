"""Domain exceptions shared by the core, the CLI and the app.

Every exception raised on bad input derives from :class:`SurgiPlanError` and carries a message a
user can act on: what is wrong and the way out. The CLI prints it on one line and exits with
code 2; the app shows it in a dialog.
"""

from __future__ import annotations


class SurgiPlanError(Exception):
    """Base class of every user-facing error."""


class InputError(SurgiPlanError):
    """The input (folder, file, option) cannot be used as given."""


class DicomImportError(InputError):
    """A DICOM series cannot be turned into a volume."""


class UnsupportedTransferSyntaxError(DicomImportError):
    """Pixel data is encoded in a syntax no installed decoder handles."""


class OutputError(SurgiPlanError):
    """A result cannot be written where it was asked to go."""


class Cancelled(SurgiPlanError):
    """Long work was cancelled by the user."""
