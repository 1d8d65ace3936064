"""Helpers the tests share: fake servers and ways to run the tap."""
