"""Tests of tap_crescendo.output."""
