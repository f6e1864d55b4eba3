"""The SeaweedFS store's own table (created by migration e5b2d4f6a8c1).

``blob_chunks``: the chunk list of every blob — blob ids stay short (they live in String(64)
columns) whatever the blob's size. A row is written *before* its needle is uploaded, so every
needle that may exist is named here: a crash between the upload and the metadata commit leaves
rows that the orphan sweep (``iter_blob_ids``) finds and removes.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table

metadata = MetaData()

blob_chunks = Table(
    "blob_chunks",
    metadata,
    Column("blob_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("fid", String(64), nullable=False),  # "" for the one row of an empty blob
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),  # epoch seconds (orphan sweep age)
)
