"""Scanning real-world folders: junk never stops a scan, series are grouped and split right."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from surgiplan.errors import InputError
from surgiplan.imaging import load_series, scan_folder
from tests.dicom_factory import SeriesSpec, Sphere, slice_dataset, write_raw, write_series


def _reasons(result) -> dict[str, str]:
    return {p.path.rsplit("/", 1)[-1]: p.reason for p in result.skipped}


def test_junk_files_are_listed_with_reasons_and_never_stop_the_scan(tmp_path):
    paths = write_series(tmp_path / "nested" / "deeper", SeriesSpec())
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "random.bin").write_bytes(np.random.default_rng(1).bytes(5000))
    whole = paths[0].read_bytes()
    (tmp_path / "truncated").write_bytes(whole[: len(whole) - 700])
    (tmp_path / "header_only").write_bytes(whole[:200])
    no_pixels = slice_dataset(SeriesSpec(), 0)
    del no_pixels.PixelData
    del no_pixels.Rows
    write_raw(tmp_path / "structured_report", no_pixels)
    result = scan_folder(tmp_path, workers=1)
    reasons = _reasons(result)
    assert reasons["empty"] == "empty file"
    assert reasons["notes.txt"] == "not DICOM"
    assert reasons["random.bin"] == "not DICOM"
    assert reasons["truncated"].startswith("truncated")
    assert "header_only" in reasons
    assert reasons["structured_report"].startswith("no pixel data")
    assert len(result.series) == 1 and result.series[0].files == 30
    assert result.series[0].is_volume


def test_dicomdir_tree_is_scanned_through_its_folders(tmp_path):
    write_series(tmp_path / "DICOM" / "S0001", SeriesSpec(), names="ordered")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    index = Dataset()
    index.file_meta = meta
    index.FileSetID = "CD"
    index.DirectoryRecordSequence = []
    index.save_as(tmp_path / "DICOMDIR", enforce_file_format=True)
    result = scan_folder(tmp_path)
    assert _reasons(result)["DICOMDIR"].startswith("DICOMDIR")
    assert result.series[0].files == 30


def test_mixed_folder_separates_series_and_orders_them(tmp_path):
    write_series(tmp_path, SeriesSpec(series_number=7, description="late"), seed=1)
    write_series(tmp_path, SeriesSpec(series_number=2, description="early",
                                      offsets_mm=tuple(np.arange(12) * 5.0)), seed=2)
    result = scan_folder(tmp_path)
    assert [s.description for s in result.series] == ["early", "late"]
    assert [s.index for s in result.series] == [1, 2]
    assert [s.files for s in result.series] == [12, 30]


def test_files_without_uids_still_group_by_series_number_and_geometry(tmp_path):
    write_series(tmp_path, SeriesSpec(series_uid=None, sop_class=None, series_number=4), seed=3)
    write_series(tmp_path, SeriesSpec(series_uid=None, sop_class=None, series_number=5,
                                      rows=32, columns=32), seed=4)
    result = scan_folder(tmp_path)
    assert [s.uid for s in result.series] == [None, None]
    assert [s.files for s in result.series] == [30, 30]
    assert all(s.is_volume for s in result.series)
    volume = load_series(result.series[1])
    assert volume.shape == (30, 32, 32)


def test_three_plane_localizer_sharing_one_uid_is_not_a_volume(tmp_path):
    uid = generate_uid()
    planes = [((1, 0, 0), (0, 1, 0)), ((1, 0, 0), (0, 0, -1)), ((0, 1, 0), (0, 0, -1))]
    for n, (row_dir, col_dir) in enumerate(planes):
        spec = SeriesSpec(series_uid=uid, row_dir=row_dir, col_dir=col_dir, offsets_mm=(0.0,),
                          extra={"ImageType": ["ORIGINAL", "PRIMARY", "LOCALIZER"]})
        write_series(tmp_path / f"p{n}", spec)
    result = scan_folder(tmp_path)
    assert len(result.series) == 3
    assert not result.volumes()
    for series in result.series:
        codes = {w.code for w in series.warnings}
        assert {"not_a_volume", "mixed_geometry", "localizer"} <= codes
    with pytest.raises(Exception, match="cannot be imported"):
        load_series(result.series[0])


def test_two_echoes_at_the_same_positions_are_split(tmp_path):
    uid = generate_uid()
    for echo, value in ((1, 300.0), (2, 700.0)):
        spec = SeriesSpec(series_uid=uid, modality="MR", intercept=0.0,
                          spheres=[Sphere((0.0, 0.0, 10.0), 8.0, value)],
                          background=0.0, extra={"EchoNumbers": echo})
        write_series(tmp_path, spec, seed=echo)
    result = scan_folder(tmp_path)
    assert len(result.series) == 2
    assert all(s.uid == uid and s.files == 30 for s in result.series)
    assert all("duplicate_positions" in {w.code for w in s.warnings} for s in result.series)
    maxima = sorted(float(load_series(s).voxels.max()) for s in result.series)
    assert maxima == [300.0, 700.0]


def test_copies_of_the_same_files_count_once(tmp_path):
    write_series(tmp_path / "a", SeriesSpec(), seed=1)
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    result = scan_folder(tmp_path)
    assert len(result.series) == 1
    assert len(result.series[0].images) == 30 and not result.series[0].warnings


def test_stray_duplicate_keeps_the_first_image_per_position(tmp_path):
    spec = SeriesSpec()
    paths = write_series(tmp_path, spec, names="ordered")
    stray = slice_dataset(spec, 4)
    stray.InstanceNumber = 99
    write_raw(tmp_path / "stray", stray)
    result = scan_folder(tmp_path)
    assert len(result.series) == 1
    series = result.series[0]
    assert series.is_volume and len(series.images) == 30
    assert "duplicate_positions" in {w.code for w in series.warnings}
    assert str(tmp_path / "stray") not in {im.path for im in series.images}
    assert len(paths) == 30


def test_bad_folders_raise_clear_errors(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        scan_folder(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        scan_folder(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty"):
        scan_folder(tmp_path / "empty")


def test_parallel_scan_equals_serial_scan(tmp_path):
    write_series(tmp_path, SeriesSpec(offsets_mm=tuple(np.arange(80) * 1.0), rows=16,
                                      columns=16))
    serial = scan_folder(tmp_path, workers=1)
    parallel = scan_folder(tmp_path, workers=2)
    assert [im.path for im in serial.series[0].images] == [
        im.path for im in parallel.series[0].images
    ]


def test_progress_can_cancel_a_scan(tmp_path):
    from surgiplan.errors import Cancelled

    write_series(tmp_path, SeriesSpec(offsets_mm=tuple(np.arange(40) * 1.0), rows=8, columns=8))
    seen = []

    def stop(done, total, label):
        seen.append((done, total, label))
        return False

    with pytest.raises(Cancelled):
        scan_folder(tmp_path, progress=stop, workers=1)
    assert seen and seen[0][1] == 40


def test_raw_datasets_without_preamble_or_file_meta_are_read(tmp_path):
    import pydicom

    spec = SeriesSpec(rows=16, columns=16, offsets_mm=tuple(np.arange(5) * 2.0))
    for k in range(5):
        ds = slice_dataset(spec, k)
        del ds.file_meta
        pydicom.dcmwrite(tmp_path / f"raw{k}", ds, implicit_vr=True, little_endian=True,
                         enforce_file_format=False)
    assert (tmp_path / "raw0").read_bytes()[128:132] != b"DICM"
    result = scan_folder(tmp_path)
    assert not result.skipped
    volume = load_series(result.volumes()[0])
    assert volume.shape == (5, 16, 16)
