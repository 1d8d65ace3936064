"""The HTTP layer: requests to Crescendo's reporting API and what their answers mean.

Owns the base stream (URL, key, paths), proxies and TLS, retries, deadlines, bodies, pages
and the masking of what a server sends. Imports only `settings`, `errors`, `stopping` and
`timestamps`: nothing of records, sync or output.
"""
