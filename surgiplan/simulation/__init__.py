"""Simulation: collision between instruments and anatomy, soft-tissue deformation (FEM)."""
