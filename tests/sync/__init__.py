"""Tests of tap_crescendo.sync."""
