"""``/verify/{token}``: the pages an applicant opens from a session's
``verification_url``. Server-rendered, no script; each handler opens the flow
from the token, parses the form, calls one service function, renders.

Security, once for every page: the token in the path is the only key (256
random bits, stored hashed, valid while the run is open); pages are never
cached, framed or indexed and send no ``Referer`` (the token must not leak to
the partner's site through the return link); a form POST from another origin
is refused. A cross-site forgery would need the token, which is the secret,
so no separate CSRF token is issued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from kycd.api.deps import DbSession
from kycd.core.blobs import LocalBlobStore
from kycd.core.origin import is_cross_site
from kycd.db import utcnow
from kycd.documents.types import DocumentType
from kycd.errors import ApiError, Forbidden, NotFound
from kycd.hosted import forms, service
from kycd.hosted.i18n import LANGUAGE_NAMES, LANGUAGES, label_text, pick_language, translator
from kycd.settings import Settings

PACKAGE_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=PACKAGE_DIR / "templates")
STATIC_FILES = {"hosted.css": "text/css"}
LANG_COOKIE = "kycd_lang"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
MULTIPART_OVERHEAD = 64 * 1024


class HostedRoute(APIRoute):
    """Answers every error of these pages with a page in the applicant's
    language, never the API's JSON, and rolls back the half-done change."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def hosted_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except service.LinkProblem as exc:
                return await run_in_threadpool(_link_problem_page, request, exc.reason)
            except RequestValidationError:
                return await run_in_threadpool(
                    _error_page, request, ApiError(400, "bad_request", "error.title")
                )
            except ApiError as exc:
                return await run_in_threadpool(_error_page, request, exc)

        return hosted_handler


router = APIRouter(prefix="/verify", route_class=HostedRoute, include_in_schema=False)


# --- Rendering ------------------------------------------------------------------------------


def language_of(request: Request) -> str:
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def render(
    request: Request, name: str, context: dict[str, Any], *, status_code: int = 200
) -> Response:
    lang = language_of(request)
    t = translator(lang)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": t,
            "label_text": lambda label: label_text(t, label),
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            chosen,
            path="/verify",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=365 * 24 * 3600,
        )
    return response


def redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response


def _rollback(request: Request) -> None:
    db: Session | None = getattr(request.state, "hosted_db", None)
    if db is not None:
        db.rollback()


def _link_problem_page(request: Request, reason: str) -> Response:
    _rollback(request)
    status = 410 if reason == "expired" else 404
    return render(request, "link.html", {"reason": reason}, status_code=status)


def _error_page(request: Request, exc: ApiError) -> Response:
    _rollback(request)
    flow: service.Flow | None = getattr(request.state, "hosted_flow", None)
    messages = {"already_submitted": "error.already"}
    return render(
        request,
        "error.html",
        {
            "message_key": messages.get(exc.code, "error.title"),
            "overview": f"/verify/{request.path_params.get('token', '')}" if flow else None,
        },
        status_code=exc.status_code,
    )


# --- Dependencies ----------------------------------------------------------------------------


def hosted_db(request: Request, db: DbSession) -> Session:
    request.state.hosted_db = db
    return db


HostedDb = Annotated[Session, Depends(hosted_db)]


def open_flow(token: str, request: Request, db: HostedDb) -> service.Flow:
    flow = service.open_flow(db, token)
    request.state.hosted_flow = flow
    return flow


CurrentFlow = Annotated[service.Flow, Depends(open_flow)]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def posted_form(request: Request) -> AsyncIterator[FormData]:
    """The POSTed form, refused before reading when it is too large or comes
    from another site."""
    settings = _settings(request)
    if is_cross_site(request, settings.public_base_url):
        raise Forbidden("Cross-site request refused", "csrf_failed")
    announced = request.headers.get("content-length", "")
    # Browsers always announce a form's length; a body without one (chunked)
    # could only be bounded after spooling it, so it is refused unread.
    if not announced.isdigit():
        raise ApiError(411, "length_required", "error.title")
    if int(announced) > 2 * settings.max_upload_bytes + MULTIPART_OVERHEAD:
        raise ApiError(413, "payload_too_large", "error.title")
    form = await request.form(max_files=2, max_fields=20)
    try:
        yield form
    finally:
        await form.close()


PostedForm = Annotated[FormData, Depends(posted_form)]


def _text_fields(form: FormData) -> dict[str, object]:
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _file(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None


def _prepare(
    form: FormData, name: str, max_bytes: int, errors: dict[str, Any], *, allow_pdf: bool = False
) -> service.PreparedUpload | None:
    upload = _file(form, name)
    if upload is None:
        errors[name] = forms.FieldProblem(forms.REQUIRED)
        return None
    raw = upload.file.read(max_bytes + 1)
    try:
        return service.prepare_upload(upload.filename or name, raw, max_bytes, allow_pdf=allow_pdf)
    except service.UploadRefused as exc:
        errors[name] = forms.FieldProblem(exc.code)
        return None


def _store(request: Request) -> LocalBlobStore:
    return LocalBlobStore(_settings(request).blob_dir)


def _overview_url(token: str) -> str:
    return f"/verify/{token}"


# --- Pages -----------------------------------------------------------------------------------


@router.get("/static/{name}")
def static_file(name: str) -> Response:
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise NotFound("No such file")
    response = FileResponse(PACKAGE_DIR / "static" / name, media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _page_context(flow: service.Flow, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "flow": flow,
        "token": token,
        "overview": _overview_url(token),
        "errors": {},
        "values": {},
        **extra,
    }


@router.get("/{token}")
def overview(token: str, request: Request, flow: CurrentFlow) -> Response:
    if flow.finished:
        return render(request, "finished.html", _page_context(flow, token))
    if not flow.consent_given:
        return render(request, "consent.html", _page_context(flow, token))
    return render(request, "overview.html", _page_context(flow, token))


@router.post("/{token}/consent")
def consent(
    token: str, request: Request, db: HostedDb, flow: CurrentFlow, form: PostedForm
) -> Response:
    if form.get("agree") != "yes":
        context = _page_context(flow, token, consent_missing=True)
        return render(request, "consent.html", context, status_code=400)
    service.give_consent(db, flow, language_of(request))
    return redirect(_next_url(flow, token))


def _next_url(flow: service.Flow, token: str) -> str:
    page = flow.next_page
    return f"/verify/{token}/{page.name}" if page else _overview_url(token)


def _form_page(
    request: Request,
    flow: service.Flow,
    token: str,
    name: str,
    *,
    errors: dict[str, Any] | None = None,
    values: dict[str, object] | None = None,
    status_code: int = 200,
) -> Response:
    if not flow.consent_given:
        return redirect(_overview_url(token))
    page = flow.page(name)
    if page is None:
        raise NotFound("No such step")
    context = _page_context(
        flow,
        token,
        page=page,
        errors=errors or {},
        values=values if values is not None else _defaults(flow, name),
        countries=forms.countries(),
        id_types=[t.value for t in forms.ID_DOCUMENT_TYPES],
        poa_types=[t.value for t in forms.POA_DOCUMENT_TYPES],
        sources=forms.SOURCES_OF_FUNDS,
        max_mb=_settings(request).max_upload_bytes // (1024 * 1024),
    )
    template = f"step_{name}.html" if page.open else "step_closed.html"
    return render(request, template, context, status_code=status_code)


def _defaults(flow: service.Flow, name: str) -> dict[str, object]:
    """What the profile already says, so the applicant confirms rather than retypes."""
    if name != "questionnaire":
        return {}
    c = flow.customer
    values: dict[str, object] = {
        field: getattr(c, field) for field in forms.PERSONAL_FIELDS if getattr(c, field)
    }
    primary = next((a for a in c.addresses if a.is_primary), None)
    if primary is not None:
        values |= {
            "address_line1": primary.line1,
            "address_postal_code": primary.postal_code or "",
            "address_city": primary.city,
            "address_country": primary.country,
        }
    return values


@router.get("/{token}/{page_name}")
def step_form(token: str, page_name: str, request: Request, flow: CurrentFlow) -> Response:
    if flow.finished:
        return redirect(_overview_url(token))
    return _form_page(request, flow, token, page_name)


@router.post("/{token}/{page_name}")
def step_submit(
    token: str,
    page_name: str,
    request: Request,
    db: HostedDb,
    flow: CurrentFlow,
    form: PostedForm,
) -> Response:
    if flow.page(page_name) is None:
        raise NotFound("No such step")
    settings = _settings(request)
    max_bytes = settings.max_upload_bytes
    errors: dict[str, Any] = {}
    values = _text_fields(form)
    today = utcnow().date()
    if page_name == "questionnaire":
        data, errors = forms.parse_personal(values)
        if data is not None:
            service.submit_personal_details(db, flow, data, today)
    elif page_name == "identity_doc":
        _submit_identity(request, db, flow, form, values, errors, max_bytes, today)
    elif page_name == "selfie":
        selfie = _prepare(form, "selfie", max_bytes, errors)
        if selfie is not None:
            service.submit_selfie(db, flow, selfie, store=_store(request), max_bytes=max_bytes)
    elif page_name == "poa":
        document_type, errors = forms.parse_poa_type(values)
        upload = _prepare(form, "poa_file", max_bytes, errors, allow_pdf=True)
        if document_type is not None and upload is not None and not errors:
            service.submit_proof_of_address(
                db, flow, document_type, upload, store=_store(request), max_bytes=max_bytes
            )
    if errors:
        return _form_page(
            request, flow, token, page_name, errors=errors, values=values, status_code=400
        )
    return redirect(_overview_url(token))


def _submit_identity(
    request: Request,
    db: Session,
    flow: service.Flow,
    form: FormData,
    values: dict[str, object],
    errors: dict[str, Any],
    max_bytes: int,
    today: date,
) -> None:
    parsed, form_errors = forms.parse_identity_document(values)
    errors.update(form_errors)
    front = _prepare(form, "front", max_bytes, errors)
    needs_back = values.get("document_type") != DocumentType.PASSPORT.value
    back = None
    if needs_back or _file(form, "back") is not None:
        back = _prepare(form, "back", max_bytes, errors)
    if errors or parsed is None or front is None:
        return
    service.submit_identity_document(
        db,
        flow,
        parsed,
        front,
        back,
        store=_store(request),
        max_bytes=max_bytes,
        secret=request.app.state.server_secret,
        today=today,
    )
