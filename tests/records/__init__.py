"""Tests of tap_crescendo.records."""
