"""De-identification of the report: a stable case reference, and identifiers only when asked.

By default the report names the patient by a reference derived from the scan (a short hash of
the study UID and the voxel content), never by name, ID or birth date; the source folder name
is left out too (folders are often named after the patient). With ``identify=True`` the
identifying DICOM attributes the case still holds are listed on the cover.

As a safety net, every text of a de-identified report is scrubbed of the identifying values the
case holds in memory (:func:`scrubbed`): a name typed into a landmark label or a folder name
carrying the patient's ID never reaches the PDF, the HTML or the bundle.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from typing import Any

from surgiplan.case.model import Case
from surgiplan.imaging.volume import IDENTIFYING_KEYWORDS

REMOVED = "[removed]"
"""What replaces an identifying value found in a de-identified report's text."""
MIN_PART_LENGTH = 3
"""Shortest identifying text scrubbed (a name's parts, ``DOE^JOHN``, count on their own)."""
NOT_SCRUBBED = ("PatientSex",)
"""Identifying attributes too short to look for in text (``M``, ``F``); never shown unasked."""
IDENTIFIER_LABELS = {
    "PatientName": "Patient name",
    "PatientID": "Patient ID",
    "PatientBirthDate": "Birth date",
    "PatientSex": "Sex",
    "PatientAge": "Age",
    "OtherPatientIDs": "Other patient IDs",
    "AccessionNumber": "Accession number",
    "InstitutionName": "Institution",
    "ReferringPhysicianName": "Referring physician",
    "StudyDate": "Study date",
    "StudyID": "Study ID",
}


def case_reference(case: Case) -> str:
    """A de-identified, stable reference of the case's scan, e.g. ``"SP-3F9A0C1B2D"``.

    The first 10 hex digits of SHA-256 over the study UID and the voxel content hash: the same
    scan always gets the same reference, and the reference does not reveal either input.
    """
    source = case.provenance.source
    study = str(source.get("study_uid") or case.volume.metadata.get("study_uid") or "")
    content = str(source.get("content_sha256") or "")
    if not study and not content:
        content = source.get("series_uid") or case.provenance.created
    digest = hashlib.sha256(f"surgiplan-case|{study}|{content}".encode()).hexdigest()
    return f"SP-{digest[:10].upper()}"


def identifiers(case: Case) -> tuple[tuple[str, str], ...]:
    """(label, value) of every identifying attribute the case holds, in DICOM keyword order.

    Empty when the case was saved de-identified (the default) or the scan carried none.
    Only the caller that was asked for identified output may show these.
    """
    values = dict(case.volume.identity.values)
    for key in IDENTIFYING_KEYWORDS:
        found = case.volume.metadata.get(key) or case.provenance.source.get(key)
        if found and key not in values:
            values[key] = str(found)
    return tuple((IDENTIFIER_LABELS.get(key, key), _readable(key, values[key]))
                 for key in IDENTIFYING_KEYWORDS if values.get(key))


def _readable(key: str, value: str) -> str:
    """``DOE^JOHN`` as ``DOE JOHN``; a DICOM date ``19700101`` as ``1970-01-01``."""
    if key.endswith("Name"):
        return " ".join(part for part in value.split("^") if part)
    if key.endswith("Date") and re.fullmatch(r"\d{8}", value):
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def identifying_values(case: Case) -> tuple[str, ...]:
    """Every text that would identify the patient: each value as stored and as shown, and the
    parts of person names (at least :data:`MIN_PART_LENGTH` characters); longest first."""
    found: set[str] = set()
    for key, value in _raw_identity(case).items():
        value = str(value).strip()
        if key in NOT_SCRUBBED or not value:
            continue
        found.update((value, _readable(key, value)))
        if key.endswith("Name"):
            found.update(re.split(r"[\^\s,]+", value))
    return tuple(sorted((v for v in found if len(v) >= MIN_PART_LENGTH), key=len, reverse=True))


def _raw_identity(case: Case) -> dict[str, str]:
    values = dict(case.volume.identity.values)
    for key in IDENTIFYING_KEYWORDS:
        for where in (case.volume.metadata, case.provenance.source):
            if where.get(key):
                values.setdefault(key, str(where[key]))
    return values


def scrub_text(text: str, values: Iterable[str]) -> str:
    """``text`` with every occurrence of ``values`` (case-insensitive) replaced by
    :data:`REMOVED`."""
    for value in values:
        if value and value.lower() in text.lower():
            text = re.sub(re.escape(value), REMOVED, text, flags=re.IGNORECASE)
    return text


def scrubbed(obj: Any, values: tuple[str, ...]) -> Any:
    """A copy of ``obj`` (dataclasses, tuples, lists, dicts, strings) with identifying
    ``values`` removed from every string; other values are returned as they are."""
    if not values:
        return obj
    if isinstance(obj, str):
        return scrub_text(obj, values)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {f.name: scrubbed(getattr(obj, f.name), values)
                   for f in dataclasses.fields(obj) if f.init}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, tuple):
        return tuple(scrubbed(v, values) for v in obj)
    if isinstance(obj, list):
        return [scrubbed(v, values) for v in obj]
    if isinstance(obj, dict):
        return {scrubbed(k, values): scrubbed(v, values) for k, v in obj.items()}
    return obj


HEAD_WORDS = ("head", "brain", "skull", "face", "facial", "neck", "orbit", "sinus", "cranial",
              "cerebr", "dental", "mandib", "maxill")
"""Words of a body part or study description that mean the scan may hold the face."""
SURFACE_TISSUES = ("skin", "fat", "muscle", "soft_tissue")
"""Tissues whose surfaces reach the body surface (and show a face)."""


def holds_face(case: Case) -> bool:
    """Whether the scan may include the patient's face: its DICOM body part, study or series
    description or protocol names the head or neck (:data:`HEAD_WORDS`)."""
    meta = case.volume.metadata
    text = " ".join(str(meta.get(key) or "") for key in (
        "BodyPartExamined", "StudyDescription", "series_description", "ProtocolName")).lower()
    return any(word in text for word in HEAD_WORDS)


def face_surfaces(case: Case) -> tuple[str, ...]:
    """The structures whose surface can show the patient's face (a rebuilt face can identify
    a patient: the reason head scans are defaced before sharing): on a scan that
    :func:`holds_face`, those of :data:`SURFACE_TISSUES`; none otherwise."""
    if not holds_face(case):
        return ()
    return tuple(name for name, model in case.twin.structures.items()
                 if model.info.tissue in SURFACE_TISSUES)
