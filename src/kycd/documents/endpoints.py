"""``/v1/clients/{clientId}/documents`` (seed 001, Fineract's dialect):
multipart upload, metadata, content, and the review decision."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from kycd.api.deps import DbSession, ReadCtx, ReviewCtx, UpdateCtx
from kycd.core.blobs import LocalBlobStore
from kycd.core.validators import country_alpha2
from kycd.documents import service
from kycd.documents.schemas import DocumentOut, ReviewBody
from kycd.documents.types import DocumentType
from kycd.errors import ApiError, FieldError, ValidationFailed
from kycd.lifecycle.fineract import FineractRoute, parse_date
from kycd.lifecycle.schemas import CommandResult
from kycd.lifecycle.service import today
from kycd.settings import Settings

router = APIRouter(
    prefix="/v1/clients/{clientId}/documents", tags=["clients"], route_class=FineractRoute
)

FORM_FIELDS = frozenset(
    {"file", "documentType", "name", "description", "expiryDate", "issuingCountry"}
    | {"dateFormat", "locale"}
)
# Room for the multipart boundaries and the small fields around the file.
MULTIPART_OVERHEAD = 64 * 1024


def _store(request: Request) -> LocalBlobStore:
    settings: Settings = request.app.state.settings
    return LocalBlobStore(settings.blob_dir)


def _text(form_value: object, field: str, max_length: int, errors: list[FieldError]) -> str | None:
    if form_value is None:
        return None
    if not isinstance(form_value, str):
        errors.append(FieldError(field, "must be a text field"))
        return None
    value = form_value.strip()
    if len(value) > max_length:
        errors.append(FieldError(field, f"must be at most {max_length} characters"))
    return value or None


async def upload_form(request: Request) -> AsyncIterator[service.Upload]:
    """Parses the multipart body; refuses oversized bodies before reading them
    when the client announces its length."""
    settings: Settings = request.app.state.settings
    announced = request.headers.get("content-length")
    limit = settings.max_upload_bytes + MULTIPART_OVERHEAD
    if announced and announced.isdigit() and int(announced) > limit:
        raise ApiError(
            413,
            "payload_too_large",
            f"The file exceeds the limit of {settings.max_upload_bytes} bytes.",
        )
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "Send the document as multipart/form-data.")
    form = await request.form(max_files=1, max_fields=len(FORM_FIELDS))
    try:
        yield _parse_form(form)
    finally:
        await form.close()


def _parse_form(form: object) -> service.Upload:
    from starlette.datastructures import FormData

    assert isinstance(form, FormData)
    errors = [
        FieldError(name, "is not a field of a document upload")
        for name in form
        if name not in FORM_FIELDS
    ]
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        errors.append(FieldError("file", "a file is required"))
    raw_type = _text(form.get("documentType"), "documentType", 40, errors)
    document_type: DocumentType | None = None
    if raw_type is None:
        errors.append(FieldError("documentType", "is required"))
    else:
        try:
            document_type = DocumentType(raw_type.upper())
        except ValueError:
            known = ", ".join(t.value for t in DocumentType)
            errors.append(FieldError("documentType", f"must be one of {known}"))
    country = _text(form.get("issuingCountry"), "issuingCountry", 2, errors)
    if country is not None:
        try:
            country = country_alpha2(country)
        except ValueError as exc:
            errors.append(FieldError("issuingCountry", str(exc)))
    expiry = None
    raw_expiry = _text(form.get("expiryDate"), "expiryDate", 40, errors)
    if raw_expiry is not None:
        try:
            expiry = parse_date(
                raw_expiry,
                _text(form.get("dateFormat"), "dateFormat", 40, errors),
                _text(form.get("locale"), "locale", 20, errors),
            )
        except ValueError as exc:
            errors.append(FieldError("expiryDate", str(exc)))
    name = _text(form.get("name"), "name", 250, errors)
    description = _text(form.get("description"), "description", 1000, errors)
    if errors:
        raise ValidationFailed(errors)
    assert isinstance(upload, UploadFile) and document_type is not None
    return service.Upload(
        file=upload.file,
        file_name=(upload.filename or "document")[:250],
        document_type=document_type,
        name=name,
        description=description,
        issuing_country=country,
        expiry_date=expiry,
    )


@router.post("", response_model=CommandResult)
def upload_document(
    clientId: str,
    ctx: UpdateCtx,
    db: DbSession,
    # After the credential: an unauthenticated body is never parsed.
    upload: Annotated[service.Upload, Depends(upload_form)],
    request: Request,
) -> CommandResult:
    settings: Settings = request.app.state.settings
    document = service.upload_document(
        db, ctx, clientId, upload, _store(request), settings.max_upload_bytes
    )
    return CommandResult(clientId=document.customer_id, resourceId=document.id)


@router.get("", response_model=list[DocumentOut])
def list_documents(clientId: str, ctx: ReadCtx, db: DbSession) -> list[DocumentOut]:
    on = today()
    return [service.to_out(d, on) for d in service.client_documents(db, ctx, clientId)]


@router.get("/{documentId}", response_model=DocumentOut)
def get_document(clientId: str, documentId: str, ctx: ReadCtx, db: DbSession) -> DocumentOut:
    return service.to_out(service.get_document(db, ctx, clientId, documentId), today())


def _content(
    clientId: str, documentId: str, ctx: ReadCtx, db: DbSession, request: Request
) -> Response:
    document = service.get_document(db, ctx, clientId, documentId)
    data = service.read_content(_store(request), document)
    return Response(
        content=data,
        media_type=document.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(document.file_name)}",
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{document.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )


# Fineract calls the content "attachment"; "content" is the plain name.
router.add_api_route("/{documentId}/attachment", _content, methods=["GET"], response_class=Response)
router.add_api_route("/{documentId}/content", _content, methods=["GET"], response_class=Response)


@router.post("/{documentId}", response_model=DocumentOut)
def review_document(
    clientId: str,
    documentId: str,
    ctx: ReviewCtx,
    db: DbSession,
    command: Annotated[str | None, Query(max_length=20)] = None,
    body: Annotated[ReviewBody | None, Body()] = None,
) -> DocumentOut:
    """``?command=approve`` or ``?command=reject`` (scope kyc:review)."""
    decision = service.parse_review_command(command)
    document = service.review_document(
        db, ctx, clientId, documentId, decision, body.note if body else None
    )
    return service.to_out(document, today())
