"""Pixel values: every syntax, sign, bit depth, rescale and photometric comes out right."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

from surgiplan.imaging import load_series, scan_folder
from tests.dicom_factory import (
    SeriesSpec,
    Sphere,
    modality_values,
    slice_dataset,
    sphere_centroid_lps,
    write_raw,
    write_series,
)


def _load(folder, workers=1):
    result = scan_folder(folder, workers=workers)
    assert len(result.volumes()) == 1
    return load_series(result.volumes()[0], workers=workers)


def _expected(spec: SeriesSpec) -> np.ndarray:
    order = np.argsort(spec.offsets_mm)
    return np.stack([modality_values(spec, int(k)) for k in order])


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless])
@pytest.mark.parametrize("workers", [1, 2])
def test_lossless_syntaxes_equal_the_uncompressed_import(tmp_path, syntax, workers):
    spec = SeriesSpec(spheres=[Sphere((2.0, 3.0, 14.0), 9.0, 80.0), Sphere((-9, -9, 30), 4, 900)])
    write_series(tmp_path / "raw", spec)
    write_series(tmp_path / "packed", spec, syntax=syntax)
    reference = _load(tmp_path / "raw")
    packed = _load(tmp_path / "packed", workers=workers)
    np.testing.assert_array_equal(packed.voxels, reference.voxels)
    np.testing.assert_array_equal(packed.voxels, _expected(spec))
    np.testing.assert_allclose(packed.affine_lps, reference.affine_lps)


def test_signed_12_bit_storage_is_sign_extended(tmp_path):
    spec = SeriesSpec(signed=True, bits_stored=12, intercept=0.0, background=-1000.0,
                      spheres=[Sphere((0.0, 0.0, 10.0), 8.0, 1500.0)])
    paths = write_series(tmp_path, spec, names="ordered")
    for k, path in enumerate(paths):  # keep only 12 bits: no sign in the container's high bits
        ds = slice_dataset(spec, k)
        ds.PixelData = (spec_values := modality_values(spec, k).astype(np.int16)).view(
            np.uint16).__and__(0x0FFF).astype(np.uint16).tobytes()
        assert spec_values.min() == -1000
        write_raw(path, ds)
    volume = _load(tmp_path)
    assert set(np.unique(volume.voxels)) == {-1000, 1500}


def test_unsigned_high_bits_beyond_bits_stored_are_masked(tmp_path):
    spec = SeriesSpec(bits_stored=12, intercept=-1024.0)
    paths = write_series(tmp_path, spec, names="ordered")
    for k, path in enumerate(paths):
        ds = slice_dataset(spec, k)
        stored = (modality_values(spec, k) + 1024).astype(np.uint16) | 0xF000  # overlay bits
        ds.PixelData = stored.tobytes()
        write_raw(path, ds)
    volume = _load(tmp_path)
    assert set(np.unique(volume.voxels)) == {-1000, 1000}


def test_per_slice_rescale_gives_float_values(tmp_path):
    slopes = {k: 0.5 + 0.25 * (k % 3) for k in range(30)}
    spec = SeriesSpec(modality="MR", intercept=0.0, background=0.0,
                      spheres=[Sphere((0.0, 0.0, 10.0), 8.0, 600.0)])
    paths = write_series(tmp_path, spec, names="ordered")
    for k, path in enumerate(paths):
        ds = slice_dataset(spec, k)
        ds.RescaleSlope = f"{slopes[k]:g}"
        ds.PixelData = np.round(modality_values(spec, k) / slopes[k]).astype(np.uint16).tobytes()
        write_raw(path, ds)
    volume = _load(tmp_path)
    assert volume.voxels.dtype == np.float32
    np.testing.assert_allclose(volume.voxels, _expected(spec), atol=0.5)


def test_monochrome1_without_rescale_is_inverted(tmp_path):
    spec = SeriesSpec(modality="MR", intercept=0.0, background=100.0, bits_stored=12,
                      photometric="MONOCHROME1", spheres=[Sphere((0.0, 0.0, 10.0), 8.0, 3000.0)])
    write_series(tmp_path, spec)
    volume = _load(tmp_path)
    assert set(np.unique(volume.voxels)) == {100, 3000}


def _enhanced_dataset(spec: SeriesSpec, order: list[int], slopes: list[float]) -> Dataset:
    ds = slice_dataset(spec, 0)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
                    "RescaleSlope", "RescaleIntercept", "InstanceNumber"):
        delattr(ds, keyword)
    ds.NumberOfFrames = len(order)
    shared = Dataset()
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = [*spec.row_dir, *spec.col_dir]
    measures.PixelSpacing = list(spec.pixel_spacing_mm)
    measures.SliceThickness = 2.0
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames, pixels = [], []
    for n, k in enumerate(order):
        item, position, transform, content = Dataset(), Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [float(v) for v in spec.slice_origin(k)]
        transform.RescaleSlope, transform.RescaleIntercept = slopes[n], -1024.0
        content.InStackPositionNumber = k + 1
        item.PlanePositionSequence = Sequence([position])
        item.PixelValueTransformationSequence = Sequence([transform])
        item.FrameContentSequence = Sequence([content])
        frames.append(item)
        pixels.append(np.round((modality_values(spec, k) + 1024) / slopes[n]).astype(np.uint16))
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = np.stack(pixels).tobytes()
    return ds


@pytest.mark.parametrize("compressed", [False, True])
def test_enhanced_multiframe_uses_functional_groups(tmp_path, compressed):
    spec = SeriesSpec(rows=32, columns=32, offsets_mm=tuple(np.arange(20) * 2.0),
                      spheres=[Sphere((-5.0, 0.0, 2.0), 7.0, 500.0)])
    rng = np.random.default_rng(3)
    order = [int(k) for k in rng.permutation(20)]
    slopes = [1.0 if n % 2 else 2.0 for n in range(20)]
    ds = _enhanced_dataset(spec, order, slopes)
    if compressed:
        frames = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(20, 32, 32)
        ds.compress(JPEG2000Lossless, frames, generate_instance_uid=False)
    write_raw(tmp_path / "enhanced.dcm", ds)
    result = scan_folder(tmp_path)
    assert len(result.series) == 1 and result.series[0].files == 1
    volume = load_series(result.volumes()[0])
    assert volume.shape == (20, 32, 32)
    np.testing.assert_allclose(volume.voxels, _expected(spec), atol=1.0)
    np.testing.assert_allclose(sphere_centroid_lps(volume, 0), (-5.0, 0.0, 2.0), atol=0.3)


def test_undecodable_syntax_names_the_syntax_and_the_remedy(tmp_path, monkeypatch):
    spec = SeriesSpec(rows=16, columns=16, offsets_mm=(0.0, 2.0, 4.0))
    paths = write_series(tmp_path, spec, names="ordered")
    for path in paths:  # claim JPEG Extended but carry garbage: nothing can decode it
        ds = slice_dataset(spec, paths.index(path))
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.51"
        from pydicom.encaps import encapsulate

        ds.PixelData = encapsulate([b"\xff\xd8garbage\xff\xd9"])
        ds["PixelData"].VR = "OB"
        write_raw(path, ds)
    monkeypatch.setattr("shutil.which", lambda name: None)
    result = scan_folder(tmp_path, workers=1)
    from surgiplan.errors import UnsupportedTransferSyntaxError

    warning = next(w for w in result.series[0].warnings
                   if w.code == "unsupported_transfer_syntax")
    assert "JPEG Extended" in warning.message and "dcmtk" in warning.message
    with pytest.raises(UnsupportedTransferSyntaxError, match="JPEG Extended.*dcmtk"):
        load_series(result.volumes()[0], workers=1)


def test_identity_is_kept_apart_and_never_printed(tmp_path):
    write_series(tmp_path, SeriesSpec(patient_name="Secret^Person"))
    volume = _load(tmp_path)
    assert volume.identity.values["PatientName"] == "Secret^Person"
    text = repr(volume) + str(volume.identity) + repr(volume.metadata)
    assert "Secret" not in text and "ID-12345" not in text and "ACC-999" not in text
    assert "19700101" not in text and "1970-01-01" not in text  # the birth date (a bare
    # "1970" can occur by chance inside the random UIDs of the metadata)
    assert generate_uid  # uid helper importable for other tests


def test_values_beyond_int16_fall_back_to_float32(tmp_path):
    spec = SeriesSpec(modality="MR", intercept=0.0, background=10.0,
                      spheres=[Sphere((0.0, 0.0, 10.0), 8.0, 50_000.0)])
    write_series(tmp_path, spec)
    volume = _load(tmp_path)
    assert volume.voxels.dtype == np.float32
    assert set(np.unique(volume.voxels)) == {10.0, 50_000.0}


@pytest.mark.parametrize("syntax", [None, RLELossless])
def test_cancel_stops_a_parallel_import(tmp_path, syntax):
    from surgiplan.errors import Cancelled

    write_series(tmp_path, SeriesSpec(offsets_mm=tuple(np.arange(60) * 1.0)), syntax=syntax)
    candidate = scan_folder(tmp_path).volumes()[0]
    with pytest.raises(Cancelled):
        load_series(candidate, workers=2, progress=lambda done, total, label: False)
