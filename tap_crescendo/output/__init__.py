"""What goes out on stdout: RECORD lines or BATCH files, and the STATE that may follow them.

Owns the writer, the two outputs of a tenant's run (`RecordLines`, `BatchFiles`), BATCH
files and Parquet, and the one module that touches private SDK methods (`sdk_seams`).
Imports only `errors`, `stopping` and the SDK: nothing of api, records or sync.
"""
