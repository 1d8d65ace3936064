"""The command line: `--config`, `--state`, `--catalog`, the environment, and `--test`.

Owns what a person passes in and how bad input is told in one line, and the connection
check. Imports `sync`, `output`, `api` and the modules below them.
"""
