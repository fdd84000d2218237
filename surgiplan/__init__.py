"""SurgiPlan: patient-specific surgical planning."""

__version__ = "0.1.0"
