"""Client documents: upload, list, read, download, review.

Files go to the blob store (content-addressed by SHA-256); the row keeps the
type, the expiry date, the sniffed content type, size and digest, and the
review state. Documents are evidence, so there is no delete: a wrong upload is
rejected by a reviewer and stays in the audit trail.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from sqlalchemy import update
from sqlalchemy.orm import Session

from kycd.core.blobs import BlobStore, BlobTooLarge
from kycd.customers.service import get_customer
from kycd.db import utcnow
from kycd.documents.models import Document
from kycd.documents.schemas import DocumentOut
from kycd.documents.sniff import HEAD_BYTES, sniff
from kycd.documents.types import DocumentType, ReviewStatus
from kycd.errors import ApiError, BadRequest, Conflict
from kycd.events.service import record_event
from kycd.tenancy.context import RequestContext
from kycd.tenancy.scoping import get_scoped, rows_by_customer, scope_values

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """A parsed multipart upload: the file and its form fields."""

    file: BinaryIO
    file_name: str
    document_type: DocumentType
    name: str | None
    description: str | None
    issuing_country: str | None
    expiry_date: date | None


def list_documents(db: Session, ctx: RequestContext, customer_id: str) -> list[Document]:
    """A client's documents, oldest first."""
    return documents_by_customer(db, ctx, [customer_id])[customer_id]


def documents_by_customer(
    db: Session, ctx: RequestContext, customer_ids: Collection[str]
) -> dict[str, list[Document]]:
    return rows_by_customer(db, Document, ctx, customer_ids, Document.created_at, Document.id)


def get_document(db: Session, ctx: RequestContext, customer_id: str, document_id: str) -> Document:
    return get_scoped(db, Document, ctx, document_id, what="Document", customer_id=customer_id)


def _chunks(file: BinaryIO, head: bytes) -> Iterator[bytes]:
    yield head
    while chunk := file.read(CHUNK):
        yield chunk


def client_documents(db: Session, ctx: RequestContext, client_id: str) -> list[Document]:
    """The documents of a client that must exist (404 otherwise)."""
    return list_documents(db, ctx, get_customer(db, ctx, client_id).id)


def upload_document(
    db: Session,
    ctx: RequestContext,
    client_id: str,
    upload: Upload,
    store: BlobStore,
    max_bytes: int,
) -> Document:
    customer = get_customer(db, ctx, client_id)
    head = upload.file.read(HEAD_BYTES)
    if not head:
        raise BadRequest("the file is empty", field="file")
    content_type = sniff(head)
    if content_type is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            "The file is not a PDF or an image (JPEG, PNG, TIFF, WebP, HEIC, GIF, BMP).",
        )
    try:
        blob = store.put_stream(_chunks(upload.file, head), max_bytes=max_bytes)
    except BlobTooLarge as exc:
        raise ApiError(
            413, "payload_too_large", f"The file exceeds the limit of {max_bytes} bytes."
        ) from exc
    now = utcnow()
    document = Document(
        **scope_values(ctx),
        customer_id=customer.id,
        type=upload.document_type.value,
        name=upload.name or upload.file_name,
        description=upload.description,
        file_name=upload.file_name,
        content_type=content_type,
        size=blob.size,
        sha256=blob.sha256,
        storage_key=blob.key,
        issuing_country=upload.issuing_country,
        expiry_date=upload.expiry_date,
        review_status=ReviewStatus.PENDING.value,
        created_at=now,
        updated_at=now,
    )
    db.add(document)
    db.flush()
    record_event(
        db,
        ctx,
        "applicant.document_uploaded",
        customer_id=customer.id,
        payload={
            "customerId": customer.id,
            "documentId": document.id,
            "documentType": document.type,
            "contentType": content_type,
            "size": blob.size,
            "sha256": blob.sha256,
        },
    )
    return document


def read_content(store: BlobStore, document: Document) -> bytes:
    return store.open(document.storage_key)


def review_document(
    db: Session,
    ctx: RequestContext,
    customer_id: str,
    document_id: str,
    decision: ReviewStatus,
    note: str | None,
) -> Document:
    """Approve or reject a document. A decision may be changed later (both are
    recorded); deciding what is already decided changes nothing."""
    document = get_document(db, ctx, customer_id, document_id)
    if document.review_status == decision.value:
        return document
    previous = document.review_status
    now = utcnow()
    result = db.execute(
        update(Document)
        .where(Document.id == document.id, Document.review_status == previous)
        .values(
            review_status=decision.value,
            reviewed_at=now,
            reviewer_id=ctx.actor_id,
            review_note=note,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict("The document was reviewed concurrently", "review_conflict")
    db.refresh(document)
    record_event(
        db,
        ctx,
        "applicant.document_reviewed",
        customer_id=customer_id,
        payload={
            "customerId": customer_id,
            "documentId": document.id,
            "documentType": document.type,
            "from": previous,
            "reviewStatus": decision.value,
        },
    )
    return document


def parse_review_command(command: str | None) -> ReviewStatus:
    decisions = {"approve": ReviewStatus.APPROVED, "reject": ReviewStatus.REJECTED}
    if command is None:
        raise BadRequest("command is required: approve or reject", field="command")
    if command not in decisions:
        raise BadRequest(f"unknown command '{command}': approve or reject", field="command")
    return decisions[command]


def to_out(document: Document, today: date) -> DocumentOut:
    return DocumentOut(
        id=document.id,
        parentEntityId=document.customer_id,
        documentType=DocumentType(document.type),
        name=document.name,
        fileName=document.file_name,
        size=document.size,
        type=document.content_type,
        sha256=document.sha256,
        description=document.description,
        issuingCountry=document.issuing_country,
        expiryDate=document.expiry_date,
        expired=document.is_expired(today),
        reviewStatus=document.review_status,
        reviewedOn=document.reviewed_at,
        reviewNote=document.review_note,
        createdOn=document.created_at,
    )
