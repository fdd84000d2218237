"""Complication rules: a registry of literature-based checks over a simulated plan."""
