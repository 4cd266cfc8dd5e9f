"""The bytes of documents' attached files: recognised by their content, kept in PostgreSQL by their SHA-256.

The table is the system of record for the bytes (the events record each file's hash, name, type and size),
so it is not a read model: no rebuild drops it (ADR 010).
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import BigInteger, Column, DateTime, Engine, LargeBinary, Table, Text, Uuid, func, select
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
        raise InvalidValue(f"A file is at most {MAX_ATTACHMENT_BYTES} bytes.", field="file")
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
