"""Tests of tap_crescendo.api."""
