"""The sync: a tenant's span cut into windows, read in parallel, checkpointed in order.

Owns the export stream, one run per tenant, windows, the page feed, tenants' states and
bookmarks, and progress lines. Imports `output`, `records`, `api` and the modules below them.
"""
