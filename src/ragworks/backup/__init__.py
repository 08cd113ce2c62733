"""``ragworks backup`` and ``ragworks restore`` for the embedded profile (see docs/backups.md).

A backup is one ``.tar.gz``: a manifest, a snapshot of the SQLite database taken with SQLite's online
backup API while ``ragworks serve`` keeps writing, the uploaded files that unfinished jobs still need,
and, only when no process was using the data dir, the index files. The chunks table holds every
chunk's analyzer tokens and vector, so the index is derivable from the database: restore rebuilds
whatever the archive's index lacks, and a backup never has to pause the server.

- ``manifest.py``: what the archive holds, with a checksum per file.
- ``snapshot.py``: the database snapshot and the facts read from it.
- ``create.py``: a backup, end to end; ``restore.py``: a restore, end to end.
- ``archive.py``: writing and safely reading the archive; ``index_rebuild.py``: the index from the chunks.
"""
