"""Linear elastic materials of the physics meshes, per tissue, and their unit conversions.

Unit system of the simulation package (consistent, no hidden factors):

============  ===================  ==========================================================
quantity      unit                 conversion from the tissue table / clinical units
============  ===================  ==========================================================
length        mm                   the twin's LPS millimetres
force         N                    (tonne mm / s^2 = N)
stress        MPa = N/mm^2         E[MPa] = E[kPa] * 1e-3; 1 mmHg = 133.322 Pa = 1.33322e-4 MPa
density       tonne/mm^3           rho[t/mm^3] = rho[kg/m^3] * 1e-12
mass          tonne                lumped nodal masses
time          s
energy        mJ = N mm
============  ===================  ==========================================================

Defaults come from the tissue table (``data/tissues.json``, physics.md section 1.6); every
tissue can be overridden by the user with a :class:`Material`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from surgiplan.errors import InputError
from surgiplan.twin.tetmesh import TetMesh
from surgiplan.twin.tissues import load_tissues, tissue

KPA_TO_MPA = 1e-3
"""E[MPa] = E[kPa] * KPA_TO_MPA."""
KG_M3_TO_T_MM3 = 1e-12
"""rho[tonne/mm^3] = rho[kg/m^3] * KG_M3_TO_T_MM3."""
MMHG_TO_MPA = 133.322e-6
"""p[MPa] = p[mmHg] * MMHG_TO_MPA (1 mmHg = 133.322 Pa)."""


def lame_parameters(youngs: np.ndarray | float, poisson: np.ndarray | float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Lamé parameters ``(lambda, mu)`` from Young's modulus and Poisson's ratio.

    ``mu = E / (2 (1 + nu))``, ``lambda = E nu / ((1 + nu)(1 - 2 nu))``; same unit as ``E``.
    """
    e, nu = np.asarray(youngs, dtype=np.float64), np.asarray(poisson, dtype=np.float64)
    return e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), e / (2.0 * (1.0 + nu))


def youngs_poisson(lame_lambda: np.ndarray | float, shear: np.ndarray | float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Young's modulus and Poisson's ratio ``(E, nu)`` from the Lamé parameters (inverse of
    :func:`lame_parameters`); ``E`` has the unit of the inputs."""
    lam, mu = np.asarray(lame_lambda, dtype=np.float64), np.asarray(shear, dtype=np.float64)
    return mu * (3.0 * lam + 2.0 * mu) / (lam + mu), lam / (2.0 * (lam + mu))


@dataclass(frozen=True)
class Material:
    """An isotropic linear elastic material, in the tissue table's units.

    Attributes
    ----------
    youngs_kpa : float
        Young's modulus E, kPa (> 0).
    poisson : float
        Poisson's ratio nu, in (-1, 0.5). P1 tets lock as nu -> 0.5: keep nu <= 0.45
        (physics.md section 1.6).
    density_kg_m3 : float
        Density rho, kg/m^3 (> 0).

    Examples
    --------
    >>> liver = Material(youngs_kpa=5.4, poisson=0.45, density_kg_m3=1060.0)
    >>> round(liver.youngs_mpa, 7), round(liver.shear_modulus_kpa, 4)
    (0.0054, 1.8621)
    """

    youngs_kpa: float
    poisson: float
    density_kg_m3: float

    def __post_init__(self) -> None:
        values = (self.youngs_kpa, self.poisson, self.density_kg_m3)
        if not all(np.isfinite(v) for v in values):
            raise InputError(f"material values must be finite numbers, got {values}")
        if self.youngs_kpa <= 0:
            raise InputError(f"Young's modulus must be > 0 kPa, got {self.youngs_kpa}; soft "
                             "tissues are about 1-20 kPa (physics.md section 1.6)")
        if not -1.0 < self.poisson < 0.5:
            raise InputError(f"Poisson's ratio must be in (-1, 0.5), got {self.poisson}; use "
                             "0.45 for nearly incompressible tissue")
        if self.density_kg_m3 <= 0:
            raise InputError(f"density must be > 0 kg/m^3, got {self.density_kg_m3}")

    @classmethod
    def of_tissue(cls, name: str) -> Material:
        """The tissue table's default material for tissue ``name`` (soft tissue if unknown)."""
        entry = tissue(name)
        return cls(entry.youngs_kpa, entry.poisson, entry.density_kg_m3)

    @classmethod
    def from_lame(cls, lambda_kpa: float, shear_kpa: float, density_kg_m3: float) -> Material:
        """A material from its Lamé parameters (kPa), e.g. a shear modulus from elastography."""
        youngs, nu = youngs_poisson(lambda_kpa, shear_kpa)
        return cls(float(youngs), float(nu), density_kg_m3)

    @property
    def youngs_mpa(self) -> float:
        """E in MPa (N/mm^2)."""
        return self.youngs_kpa * KPA_TO_MPA

    @property
    def density_t_mm3(self) -> float:
        """rho in tonne/mm^3."""
        return self.density_kg_m3 * KG_M3_TO_T_MM3

    @property
    def shear_modulus_kpa(self) -> float:
        """mu = E / (2 (1 + nu)), kPa."""
        return float(lame_parameters(self.youngs_kpa, self.poisson)[1])

    @property
    def lame_lambda_kpa(self) -> float:
        """lambda = E nu / ((1 + nu)(1 - 2 nu)), kPa."""
        return float(lame_parameters(self.youngs_kpa, self.poisson)[0])

    @property
    def plane_strain_modulus_kpa(self) -> float:
        """E* = E / (1 - nu^2), kPa (rigid indenter contact)."""
        return self.youngs_kpa / (1.0 - self.poisson**2)


@dataclass(frozen=True, eq=False)
class MaterialArrays:
    """Per-tet material parameters in the simulation's units (see the module docstring).

    Attributes
    ----------
    youngs_mpa : (m,) float64 ndarray
        Young's modulus of each tet, MPa.
    poisson : (m,) float64 ndarray
        Poisson's ratio of each tet.
    density_t_mm3 : (m,) float64 ndarray
        Density of each tet, tonne/mm^3.
    """

    youngs_mpa: np.ndarray
    poisson: np.ndarray
    density_t_mm3: np.ndarray

    def __post_init__(self) -> None:
        arrays = [np.ascontiguousarray(a, dtype=np.float64).reshape(-1)
                  for a in (self.youngs_mpa, self.poisson, self.density_t_mm3)]
        if len({len(a) for a in arrays}) != 1:
            raise InputError("youngs_mpa, poisson and density_t_mm3 need one value per tet each")
        e, nu, rho = arrays
        if not (np.isfinite(e).all() and (e > 0).all()):
            raise InputError("every tet needs a finite Young's modulus > 0 MPa")
        if not ((nu > -1.0) & (nu < 0.5)).all():
            raise InputError("every tet needs a Poisson's ratio in (-1, 0.5)")
        if not (np.isfinite(rho).all() and (rho > 0).all()):
            raise InputError("every tet needs a finite density > 0 tonne/mm^3")
        for name, value in zip(("youngs_mpa", "poisson", "density_t_mm3"), arrays, strict=True):
            object.__setattr__(self, name, value)

    @classmethod
    def uniform(cls, material: Material, n_tets: int) -> MaterialArrays:
        """The same ``material`` on ``n_tets`` tets."""
        ones = np.ones(int(n_tets))
        return cls(ones * material.youngs_mpa, ones * material.poisson,
                   ones * material.density_t_mm3)

    @property
    def n_tets(self) -> int:
        return int(len(self.youngs_mpa))

    @property
    def shear_modulus_mpa(self) -> np.ndarray:
        """(m,) mu, MPa."""
        return lame_parameters(self.youngs_mpa, self.poisson)[1]

    @property
    def lame_lambda_mpa(self) -> np.ndarray:
        """(m,) lambda, MPa."""
        return lame_parameters(self.youngs_mpa, self.poisson)[0]


def materials_for(tet_mesh: TetMesh, overrides: dict[str, Material] | None = None
                  ) -> MaterialArrays:
    """Per-tet materials of a physics mesh from its tet tissues.

    Parameters
    ----------
    tet_mesh : TetMesh
        The physics mesh; ``tet_tissue`` indexes ``tissue_names``.
    overrides : dict of str to Material, optional
        User-edited materials by tissue name; other tissues use the tissue table's defaults
        (unknown tissue names fall back to ``soft_tissue``).

    Returns
    -------
    MaterialArrays
        One E (MPa), nu and rho (tonne/mm^3) per tet.

    Raises
    ------
    InputError
        An override is not a :class:`Material`, or a tet's tissue is rigid in the table (no
        physics mesh should carry it) and has no override.
    """
    overrides = dict(overrides or {})
    for name, value in overrides.items():
        if not isinstance(value, Material):
            raise InputError(f"override for tissue {name!r} must be a Material, got "
                             f"{type(value).__name__}")
    table = load_tissues()
    per_tissue = []
    for name in tet_mesh.tissue_names:
        if name in overrides:
            per_tissue.append(overrides[name])
            continue
        if name in table and not table[name].deformable:
            raise InputError(f"tissue {name!r} is rigid in the tissue table and has no "
                             "material for deformation: give it a Material override or "
                             "treat the structure as rigid")
        per_tissue.append(Material.of_tissue(name))
    values = np.array([(m.youngs_mpa, m.poisson, m.density_t_mm3) for m in per_tissue])
    codes = tet_mesh.tet_tissue
    return MaterialArrays(values[codes, 0], values[codes, 1], values[codes, 2])
