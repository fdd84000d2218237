"""Tests of the synthetic CT phantom generator."""
