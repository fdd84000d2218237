"""Mesh files read back with trimesh: geometry, frame notes, colours, named nodes."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import trimesh

from surgiplan.errors import InputError, OutputError
from surgiplan.twin.mesh import SurfaceMesh
from surgiplan.twin.mesh_export import GLTF_FROM_LPS, MESH_FORMATS, write_mesh, write_scene


@pytest.fixture
def organ() -> SurfaceMesh:
    ico = trimesh.creation.icosphere(subdivisions=3, radius=20.0)
    ico.apply_translation((-60.0, 35.0, -810.0))
    return SurfaceMesh(ico.vertices, ico.faces)


@pytest.fixture
def kidney() -> SurfaceMesh:
    box = trimesh.creation.box(extents=(30.0, 50.0, 60.0))
    box.apply_translation((70.0, 40.0, -790.0))
    return SurfaceMesh(box.vertices, box.faces)


def bounds(points: np.ndarray) -> np.ndarray:
    return np.array([points.min(axis=0), points.max(axis=0)])


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply"])
def test_round_trip_keeps_geometry_in_lps_mm(tmp_path, organ, suffix):
    path = write_mesh(organ, tmp_path / f"liver{suffix}", colour=(0.8, 0.3, 0.2))
    loaded = trimesh.load(path, process=True)  # merges the vertices STL repeats
    assert len(loaded.vertices) == organ.n_vertices and len(loaded.faces) == organ.n_triangles
    np.testing.assert_allclose(loaded.bounds, bounds(organ.vertices_lps_mm), atol=1e-3)
    assert loaded.is_watertight and loaded.volume > 0


def test_binary_stl_header_and_count(tmp_path, organ):
    data = write_mesh(organ, tmp_path / "liver.stl").read_bytes()
    assert data[:80].startswith(b"SurgiPlan SPACE=LPS units=mm")
    assert not data.startswith(b"solid")  # not mistaken for ASCII STL
    assert struct.unpack("<I", data[80:84])[0] == organ.n_triangles
    assert len(data) == 84 + 50 * organ.n_triangles


def test_ply_carries_vertex_colour_and_frame(tmp_path, organ):
    path = write_mesh(organ, tmp_path / "liver.ply", colour=(1.0, 0.5, 0.0))
    assert b"comment SurgiPlan SPACE=LPS" in path.read_bytes()[:300]
    loaded = trimesh.load(path, process=False)
    np.testing.assert_array_equal(np.unique(loaded.visual.vertex_colors, axis=0),
                                  [[255, 128, 0, 255]])


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_gltf_keeps_mm_geometry_under_a_metre_y_up_node(tmp_path, organ, suffix):
    path = write_mesh(organ, tmp_path / f"liver{suffix}", colour=(0.8, 0.3, 0.2))
    scene = trimesh.load(path)
    (geometry,) = scene.geometry.values()
    np.testing.assert_allclose(geometry.bounds, bounds(organ.vertices_lps_mm), atol=1e-3)
    (node,) = scene.graph.nodes_geometry
    np.testing.assert_allclose(scene.graph[node][0], GLTF_FROM_LPS, atol=1e-12)
    world = organ.vertices_lps_mm @ GLTF_FROM_LPS[:3, :3].T
    np.testing.assert_allclose(scene.to_geometry().bounds, bounds(world), atol=1e-6)
    # superior (+z LPS) is up (+y glTF), anterior (-y LPS) faces the viewer (+z glTF)
    np.testing.assert_allclose(GLTF_FROM_LPS[:3, :3] @ [0, 0, 1], [0, 0.001, 0])
    np.testing.assert_allclose(GLTF_FROM_LPS[:3, :3] @ [0, -1, 0], [0, 0, 0.001])


def test_glb_scene_has_one_named_coloured_node_per_structure(tmp_path, organ, kidney):
    path = write_scene([("liver", organ, (0.8, 0.3, 0.2)), ("kidney_left", kidney, None)],
                       tmp_path / "twin.glb")
    scene = trimesh.load(path)
    assert sorted(scene.graph.nodes_geometry) == ["kidney_left", "liver"]
    liver = scene.geometry[scene.graph["liver"][1]]
    np.testing.assert_allclose(np.asarray(liver.visual.material.baseColorFactor)[:3],
                               [204, 76, 51], atol=1)
    kidney_mesh = scene.geometry[scene.graph["kidney_left"][1]]
    np.testing.assert_allclose(kidney_mesh.bounds, bounds(kidney.vertices_lps_mm), atol=1e-3)


@pytest.mark.parametrize("suffix", [".stl", ".obj", ".ply"])
def test_merged_files_concatenate_geometry(tmp_path, organ, kidney, suffix):
    path = write_scene([("liver", organ, (0.8, 0.3, 0.2)), ("kidney", kidney, (0.5, 0.2, 0.6))],
                       tmp_path / f"twin{suffix}")
    loaded = trimesh.load(path, process=True, force="mesh")
    assert len(loaded.faces) == organ.n_triangles + kidney.n_triangles
    assert len(loaded.vertices) == organ.n_vertices + kidney.n_vertices
    both = np.vstack([organ.vertices_lps_mm, kidney.vertices_lps_mm])
    np.testing.assert_allclose(loaded.bounds, bounds(both), atol=1e-3)
    if suffix == ".obj":
        text = path.read_text()
        assert "o liver" in text and "o kidney" in text


def test_unknown_suffix_names_the_choices(tmp_path, organ):
    with pytest.raises(OutputError, match=r"\.stl.*\.gltf"):
        write_mesh(organ, tmp_path / "liver.vtk")
    assert MESH_FORMATS == (".stl", ".obj", ".ply", ".glb", ".gltf")


def test_failed_write_leaves_the_existing_file(tmp_path, organ):
    with pytest.raises(OutputError, match="does not exist"):
        write_mesh(organ, tmp_path / "missing" / "liver.stl")
    target = tmp_path / "liver.stl"
    target.write_bytes(b"old")
    with pytest.raises(InputError):
        write_mesh(organ, target, colour=(2.0, 0.0, 0.0))
    assert target.read_bytes() == b"old"


def test_bad_scenes_are_refused(tmp_path, organ):
    with pytest.raises(InputError, match="unique"):
        write_scene([("liver", organ, None), ("liver", organ, None)], tmp_path / "a.glb")
    with pytest.raises(InputError, match="no meshes"):
        write_scene([], tmp_path / "a.glb")
    empty = SurfaceMesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))
    with pytest.raises(InputError, match="no triangles"):
        write_mesh(empty, tmp_path / "a.stl")
