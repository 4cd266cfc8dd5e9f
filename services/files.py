"""Bytes the events name by their SHA-256, kept in PostgreSQL: documents' attached files (recognised by their
content) and circulars' rendered documents.

The tables are the system of record for the bytes (the events record each file's hash, name, type and size; a
circular's `Delivered` its document's hash), so they are not read models: no rebuild drops them (ADR 010, ADR 006).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from uuid import UUID

from typing import Any

from sqlalchemy import (
    BigInteger, Column, Connection, DateTime, Engine, LargeBinary, Table, Text, Uuid, bindparam, func, select, text,
)
from sqlalchemy.dialects.postgresql import insert

from domain.base import InvalidValue
from domain.documents import DOCX, MAX_ATTACHMENT_BYTES, ODT, PDF, UnsupportedFile
from projections.base import metadata

document_files = Table(
    "document_files",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("sha256", Text, primary_key=True),
    Column("media_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

_ODT_MIMETYPE = ODT.encode("ascii")


@dataclass(frozen=True)
class StoredFile:
    """A file's bytes as received, with what its content says it is."""

    sha256: str
    media_type: str
    size: int


def sniff(data: bytes) -> str:
    """Return the media type the bytes are (PDF, DOCX or ODT), whatever the file's name says; refuse others."""
    if not data:
        raise InvalidValue("The file is empty.", field="file")
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                entries = archive.infolist()
                names = {entry.filename for entry in entries}
                # ODF: the first entry is an uncompressed 'mimetype' naming the document's type.
                first = entries[0] if entries else None
                if first is not None and first.filename == "mimetype" and first.file_size <= 200:
                    if archive.read(first).strip() == _ODT_MIMETYPE:
                        return ODT
                # OOXML: a content-types part and the word/ folder of a WordprocessingML package.
                if "[Content_Types].xml" in names and any(name.startswith("word/") for name in names):
                    return DOCX
        except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, ValueError, OSError):
            raise UnsupportedFile("The file looks like a ZIP archive but cannot be read as a DOCX or ODT "
                                  "document.", field="file") from None
        raise UnsupportedFile("The ZIP archive is neither a DOCX nor an ODT text document.", field="file")
    raise UnsupportedFile("The file's content is not a PDF, DOCX or ODT document (whatever its name says).",
                          field="file")


def store(engine: Engine, tenant_id: UUID, data: bytes) -> StoredFile:
    """Keep the bytes (once per tenant and hash) and return their hash, type and size.

    Called before the event that references the file is saved: an event never names bytes that are not kept.
    """
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise InvalidValue("A file is at most %(bytes)s bytes.", field="file", bytes=MAX_ATTACHMENT_BYTES)
    media_type = sniff(data)
    digest = hashlib.sha256(data).hexdigest()
    with engine.begin() as conn:
        conn.execute(
            insert(document_files)
            .values(tenant_id=tenant_id, sha256=digest, media_type=media_type, size=len(data), content=data)
            .on_conflict_do_nothing(index_elements=[document_files.c.tenant_id, document_files.c.sha256])
        )
    return StoredFile(digest, media_type, len(data))


def fetch(engine: Engine, tenant_id: UUID, sha256: str) -> bytes | None:
    """Return the tenant's file with this hash, or None."""
    with engine.connect() as conn:
        content = conn.execute(
            select(document_files.c.content)
            .where(document_files.c.tenant_id == tenant_id, document_files.c.sha256 == sha256)
        ).scalar()
    return bytes(content) if content is not None else None


# Circulars' rendered documents: written by the delivery job before it records `Delivered`, served as stored.

circular_documents = Table(
    "circular_documents",
    metadata,
    Column("circular_id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("union_id", Uuid, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("sha256", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("rendered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


# One statement, one round trip (the job runs it outside a transaction): the row, unless the circular already has one;
# then the stored row itself. Its `content` is NULL when this call stored it.
_STORE = text(
    "WITH inserted AS ("
    " INSERT INTO circular_documents (circular_id, tenant_id, union_id, content_type, filename, sha256, content)"
    " VALUES (:circular_id, :tenant_id, :union_id, :content_type, :filename, :sha256, :content)"
    " ON CONFLICT (circular_id) DO NOTHING RETURNING sha256, NULL::bytea AS content)"
    " SELECT sha256, content FROM inserted"
    " UNION ALL SELECT sha256, content FROM circular_documents"
    " WHERE circular_id = :circular_id AND NOT EXISTS (SELECT FROM inserted)"
).bindparams(bindparam("circular_id", type_=Uuid), bindparam("tenant_id", type_=Uuid),
             bindparam("union_id", type_=Uuid), bindparam("content", type_=LargeBinary))


def store_circular_document(conn: Connection, *, circular_id: UUID, tenant_id: UUID, union_id: UUID, filename: str,
                   content: bytes, content_type: str = "application/pdf") -> tuple[str, bytes]:
    """Keep the first rendering of a circular's document; return the stored one's SHA-256 and bytes.

    A retried job renders again; the first stored document wins, so the hash a `Delivered` event
    records is always the hash of the bytes served.
    """
    sha256 = hashlib.sha256(content).hexdigest()
    row = conn.execute(_STORE, dict(circular_id=circular_id, tenant_id=tenant_id, union_id=union_id,
                                    content_type=content_type, filename=filename, sha256=sha256,
                                    content=content)).first()
    if row is None:  # another run stored it after this statement's snapshot was taken: read it now
        row = conn.execute(select(circular_documents.c.sha256, circular_documents.c.content)
                           .where(circular_documents.c.circular_id == circular_id)).one()
    if row.content is None:
        return sha256, content
    return row.sha256, bytes(row.content)


def get_circular_document(conn: Connection, tenant_id: UUID, circular_id: UUID) -> Any | None:
    """Return the circular's stored document if it is addressed to the tenant, or None."""
    return conn.execute(select(circular_documents).where(circular_documents.c.circular_id == circular_id,
                                                         circular_documents.c.tenant_id == tenant_id)).first()
