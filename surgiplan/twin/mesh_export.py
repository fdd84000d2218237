"""Write surface meshes for 3D printing and viewers: STL, OBJ, PLY, glTF (GLB or JSON).

Coordinates and units
---------------------
STL, OBJ and PLY hold the vertices as they are: patient LPS millimetres. STL has no unit
field; 3D printers, slicers and 3D Slicer assume millimetres. Each file names its frame in a
comment or header text (``SPACE=LPS``), the convention 3D Slicer reads (and LPS is also what it
assumes when the text is absent), so a model lines up with the scan it came from.

glTF defines metres and a +Y-up frame. The geometry buffers keep LPS millimetres, and each
structure's node carries the matrix :data:`GLTF_FROM_LPS` (scale 0.001 and the axes
x = patient left, y = superior, z = anterior), so glTF viewers show the patient upright, at
true size, seen from the front. Readers that ignore node transforms still get LPS mm.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import trimesh

from surgiplan.errors import InputError, OutputError
from surgiplan.io import atomic_path
from surgiplan.twin.mesh import SurfaceMesh

MESH_FORMATS = (".stl", ".obj", ".ply", ".glb", ".gltf")
FRAME_NOTE = "SurgiPlan SPACE=LPS units=mm"
GLTF_FROM_LPS = np.array([[0.001, 0.0, 0.0, 0.0],
                          [0.0, 0.0, 0.001, 0.0],
                          [0.0, -0.001, 0.0, 0.0],
                          [0.0, 0.0, 0.0, 1.0]])
"""LPS millimetres to glTF metres, +Y up (superior), +Z towards the viewer (anterior)."""

Colour = tuple[float, float, float]


def mesh_suffix(path: str | os.PathLike[str]) -> str:
    """The mesh format suffix of ``path``; :class:`OutputError` naming the choices otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in MESH_FORMATS:
        raise OutputError(f"unsupported mesh format for {path}: use a name ending in "
                          f"{', '.join(MESH_FORMATS)}")
    return suffix


def write_mesh(mesh: SurfaceMesh, path: str | os.PathLike[str], *,
               colour: Colour | None = None) -> Path:
    """Write one surface; the suffix chooses the format.

    Parameters
    ----------
    mesh : SurfaceMesh
        Vertices ``(n, 3)`` in LPS mm, faces ``(m, 3)`` outward.
    path : path-like
        Ends in ``.stl`` (binary), ``.obj``, ``.ply`` (binary), ``.glb`` or ``.gltf``
        (buffers embedded).
    colour : (3,) floats in 0..1, optional
        Display colour: PLY vertex colours and the glTF material; STL and OBJ carry geometry
        only.

    Returns
    -------
    Path
        The path written (atomically: a failed write leaves any existing file untouched).

    Raises
    ------
    OutputError
        Unknown suffix, or the folder is missing or not writable.
    InputError
        Empty mesh or a colour outside 0..1.
    """
    return write_scene([("surface", mesh, colour)], path)


def write_scene(meshes: Sequence[tuple[str, SurfaceMesh, Colour | None]],
                path: str | os.PathLike[str]) -> Path:
    """Write several named, coloured structures into one file.

    glTF/GLB: one named node (and material colour) per structure. STL: the geometry
    concatenated. OBJ: one ``o <name>`` object per structure. PLY: the geometry concatenated
    with each structure's vertex colour (grey when none is given).

    Parameters
    ----------
    meshes : sequence of (name, SurfaceMesh, colour or None)
        Unique structure names, surfaces in LPS mm, RGB colours in 0..1.
    path : path-like
        Output file; see :data:`MESH_FORMATS`.

    Returns
    -------
    Path
        The path written (atomically).

    Raises
    ------
    OutputError
        Unknown suffix, or the folder is missing or not writable.
    InputError
        No meshes, repeated names, an empty mesh or a colour outside 0..1.
    """
    suffix = mesh_suffix(path)
    parts = [(name, _trimesh(mesh, colour)) for name, mesh, colour in _checked(meshes)]
    data = _encode(parts, suffix)
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def _checked(meshes: Sequence[tuple[str, SurfaceMesh, Colour | None]]) -> list:
    if not meshes:
        raise InputError("there are no meshes to write: build the twin first")
    names = [name for name, _, _ in meshes]
    if len(set(names)) != len(names):
        raise InputError(f"structure names must be unique in one file, got {names}")
    for name, mesh, colour in meshes:
        if mesh.n_triangles == 0:
            raise InputError(f"the surface of {name!r} has no triangles: nothing to write")
        if colour is not None and (len(colour) != 3 or not all(0 <= c <= 1 for c in colour)):
            raise InputError(f"colour of {name!r} must be three numbers in 0..1, got {colour}")
    return list(meshes)


def _trimesh(mesh: SurfaceMesh, colour: Colour | None) -> trimesh.Trimesh:
    out = trimesh.Trimesh(mesh.vertices_lps_mm, mesh.faces, process=False)
    if colour is not None:
        rgba = np.append(np.round(np.asarray(colour) * 255), 255).astype(np.uint8)
        colours = np.tile(rgba, (len(out.vertices), 1))
        out.visual = trimesh.visual.ColorVisuals(out, vertex_colors=colours)
    return out


def _encode(parts: list[tuple[str, trimesh.Trimesh]], suffix: str) -> bytes:
    if suffix in (".glb", ".gltf"):
        return _gltf(parts, suffix)
    if suffix == ".obj":
        scene = trimesh.Scene()
        for name, part in parts:
            plain = trimesh.Trimesh(part.vertices, part.faces, process=False)
            scene.add_geometry(plain, node_name=name, geom_name=name)
        text = trimesh.exchange.obj.export_obj(scene, include_normals=False, include_color=False,
                                               include_texture=False, header=FRAME_NOTE)
        return text.encode("utf-8")
    merged = _concatenated(parts, with_colour=suffix == ".ply")
    if suffix == ".stl":
        data = trimesh.exchange.stl.export_stl(merged)
        return FRAME_NOTE.encode("ascii").ljust(80, b" ") + data[80:]
    data = trimesh.exchange.ply.export_ply(merged, encoding="binary", vertex_normal=False)
    head, body = data.split(b"end_header\n", 1)
    note = b"comment " + FRAME_NOTE.encode("ascii")
    head = head.replace(b"comment https://github.com/mikedh/trimesh", note)
    return head + b"end_header\n" + body


def _concatenated(parts: list[tuple[str, trimesh.Trimesh]], *,
                  with_colour: bool) -> trimesh.Trimesh:
    """One mesh of all parts (vertex colours kept for PLY, grey for parts without)."""
    vertices = np.vstack([part.vertices for _, part in parts])
    offsets = np.cumsum([0] + [len(part.vertices) for _, part in parts[:-1]])
    faces = np.vstack([part.faces + offset
                       for (_, part), offset in zip(parts, offsets, strict=True)])
    merged = trimesh.Trimesh(vertices, faces, process=False)
    coloured = [part.visual.kind == "vertex" for _, part in parts]
    if with_colour and any(coloured):
        grey = np.array([204, 204, 204, 255], dtype=np.uint8)
        colours = [part.visual.vertex_colors if has else np.tile(grey, (len(part.vertices), 1))
                   for (_, part), has in zip(parts, coloured, strict=True)]
        merged.visual = trimesh.visual.ColorVisuals(merged, vertex_colors=np.vstack(colours))
    return merged


def _gltf(parts: list[tuple[str, trimesh.Trimesh]], suffix: str) -> bytes:
    scene = trimesh.Scene()
    for name, part in parts:
        rgba = (part.visual.vertex_colors[0] / 255.0 if part.visual.kind == "vertex"
                else np.array([0.8, 0.8, 0.8, 1.0]))
        material = trimesh.visual.material.PBRMaterial(
            name=name, baseColorFactor=rgba, metallicFactor=0.0, roughnessFactor=0.8)
        node = trimesh.Trimesh(part.vertices, part.faces, process=False,
                               visual=trimesh.visual.TextureVisuals(material=material))
        scene.add_geometry(node, node_name=name, geom_name=name, transform=GLTF_FROM_LPS)
    if suffix == ".glb":
        return trimesh.exchange.gltf.export_glb(scene, include_normals=True)
    files = trimesh.exchange.gltf.export_gltf(scene, include_normals=True, embed_buffers=True)
    return files["model.gltf"]
