"""Tests of tap_crescendo.cli."""
