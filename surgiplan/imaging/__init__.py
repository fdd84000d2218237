"""DICOM import: scan folders into series candidates, load one into a :class:`Volume`.

Example
-------
>>> from surgiplan.imaging import scan_folder, load_series
>>> result = scan_folder("path/to/cd-export")          # doctest: +SKIP
>>> volume = load_series(result.volumes()[0])           # doctest: +SKIP
>>> volume.ijk_to_lps([[0, 0, 0]])                      # doctest: +SKIP
"""

from surgiplan.imaging.export import write_nifti, write_nrrd, write_volume
from surgiplan.imaging.geometry import SeriesWarning
from surgiplan.imaging.headers import ImageRef, SkippedFile
from surgiplan.imaging.loader import load_series
from surgiplan.imaging.scan import ScanResult, scan_folder
from surgiplan.imaging.series import SeriesCandidate
from surgiplan.imaging.volume import PatientIdentity, Volume

__all__ = [
    "ImageRef",
    "PatientIdentity",
    "ScanResult",
    "SeriesCandidate",
    "SeriesWarning",
    "SkippedFile",
    "Volume",
    "load_series",
    "scan_folder",
    "write_nifti",
    "write_nrrd",
    "write_volume",
]
