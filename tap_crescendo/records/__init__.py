"""Records: a page's rows become strict records matching the stream's schema.

Owns the record contract (decoding, lossless conversions) and a page's records (tenant
check, fields the schema lacks). Imports `api` (pages, masking) and the modules below it.
"""
