"""The surgical plan: incisions, instruments, trajectories, measurements, undo, files."""
