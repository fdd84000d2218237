"""Render layer: turns core data into pictures (numpy/VTK only, never Qt)."""
