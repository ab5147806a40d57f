# ruff: noqa: F811 - pytest fixtures imported from check_fixtures are redefined as arguments.
"""The evidence worker against a real HTTPS server on 127.0.0.1, on both databases."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from check_fixtures import (  # noqa: F401 - fixtures
    LIMIT,
    OK_BODY,
    EvidenceServer,
    evidence_server,
    make_customer,
    test_ca,
    worker_settings,
)
from check_payloads import compliance_body, instrument_fit_body, kyc_body, por_body
from sqlalchemy import select

from kycd.checks.evidence import FetchLimits
from kycd.checks.worker import claim_due_fetches, process_claim, retry_policy, run_evidence_job
from kycd.core.blobs import LocalBlobStore
from kycd.core.safe_http import AddressPolicy, guarded_client
from kycd.db import Database, utcnow
from kycd.events.models import Event
from kycd.settings import Settings


def _post(api: Any, user_id: str, body: dict[str, Any]) -> str:
    response = api.post(f"/v1/users/{user_id}/checks", json=body)
    assert response.status_code == 202, response.text
    check_id: str = response.json()["id"]
    return check_id


def _get(api: Any, user_id: str, check_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/users/{user_id}/checks/{check_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _events(database: Database, event_type: str) -> list[Event]:
    with database.session(read_only=True) as db:
        return list(
            db.scalars(select(Event).where(Event.type == event_type).order_by(Event.seq)).all()
        )


def test_evidence_is_fetched_hashed_stored_and_the_check_passes(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(
        api, user_id, kyc_body(data_download_link=evidence_server.url("/ok/user3.zip"))
    )
    assert _get(api, user_id, check_id)["status"] == "ACCEPTED"

    assert run_evidence_job(database, worker_settings, utcnow()) == 2  # fetched + decided

    check = _get(api, user_id, check_id)
    digest = hashlib.sha256(OK_BODY).hexdigest()
    assert check["status"] == "PASSED"
    assert check["failure_reason"] is None
    assert check["evidence"]["sha256"] == digest
    assert check["evidence"]["size"] == len(OK_BODY)
    assert check["evidence"]["attempts"] == 1
    assert check["evidence"]["last_error"] is None
    stored = worker_settings.blob_dir / digest[:2] / digest
    assert stored.read_bytes() == OK_BODY

    [passed] = _events(database, "USER_CHECK.PASSED")
    assert passed.payload == check  # exactly what GET answers
    assert passed.customer_id == user_id
    assert [e.type for e in _events(database, "user_check.validated")] == ["user_check.validated"]


def test_por_evidence_follows_a_redirect(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(api, user_id, por_body(data_download_link=evidence_server.url("/redirect")))
    run_evidence_job(database, worker_settings, utcnow())
    check = _get(api, user_id, check_id)
    assert check["status"] == "PASSED"
    assert evidence_server.hits["/ok/after-redirect.zip"] == 1


def test_a_redirect_to_plain_http_fails(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(
        api, user_id, kyc_body(data_download_link=evidence_server.url("/redirect-to-http"))
    )
    run_evidence_job(database, worker_settings, utcnow())
    check = _get(api, user_id, check_id)
    assert check["status"] == "FAILED"
    assert check["failure_reason"] == "EVIDENCE_UNAVAILABLE"
    assert "https" in check["evidence"]["last_error"]


def test_too_large_files_fail_whether_announced_or_not(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    announced = _post(api, user_id, kyc_body(data_download_link=evidence_server.url("/big")))
    streamed = _post(
        api, user_id, kyc_body(data_download_link=evidence_server.url("/big-unannounced"))
    )
    run_evidence_job(database, worker_settings, utcnow())
    for check_id in (announced, streamed):
        check = _get(api, user_id, check_id)
        assert check["status"] == "FAILED"
        assert check["failure_reason"] == "EVIDENCE_TOO_LARGE"
        assert check["evidence"]["last_error"] == f"file exceeds {LIMIT} bytes"
        assert check["evidence"]["sha256"] is None
    # Nothing half-written is left behind.
    assert not any(p.is_file() for p in worker_settings.blob_dir.rglob("*"))
    failed = _events(database, "USER_CHECK.FAILED")
    assert {e.payload["id"] for e in failed} == {announced, streamed}


def test_missing_file_fails_at_once(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(api, user_id, kyc_body(data_download_link=evidence_server.url("/missing")))
    run_evidence_job(database, worker_settings, utcnow())
    check = _get(api, user_id, check_id)
    assert check["status"] == "FAILED"
    assert check["failure_reason"] == "EVIDENCE_UNAVAILABLE"
    assert check["evidence"]["last_error"] == "HTTP 404"
    assert check["evidence"]["attempts"] == 1
    [failed] = _events(database, "USER_CHECK.FAILED")
    assert failed.payload == check


def test_empty_file_fails(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(api, user_id, kyc_body(data_download_link=evidence_server.url("/empty")))
    run_evidence_job(database, worker_settings, utcnow())
    check = _get(api, user_id, check_id)
    assert (check["status"], check["failure_reason"]) == ("FAILED", "EVIDENCE_EMPTY")
    assert check["evidence"]["size"] == 0


def test_slow_server_times_out_is_retried_with_backoff_then_fails(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(api, user_id, kyc_body(data_download_link=evidence_server.url("/slow")))
    settings = worker_settings.model_copy(update={"evidence_max_attempts": 2})

    before = utcnow()
    run_evidence_job(database, settings, before)
    check = _get(api, user_id, check_id)
    assert check["status"] == "ACCEPTED"  # still waiting, and says why
    assert check["evidence"]["attempts"] == 1
    assert check["evidence"]["last_error"].startswith("timed out")
    next_attempt = check["evidence"]["next_attempt_at"]
    assert next_attempt is not None
    assert len(_events(database, "user_check.evidence_fetch_failed")) == 1

    # Not due yet: nothing is claimed.
    assert run_evidence_job(database, settings, before + timedelta(seconds=30)) == 0
    # Due: the second (last) attempt times out too, and the check fails.
    run_evidence_job(database, settings, utcnow() + timedelta(seconds=61))
    check = _get(api, user_id, check_id)
    assert check["status"] == "FAILED"
    assert check["failure_reason"] == "EVIDENCE_UNAVAILABLE"
    assert check["evidence"]["attempts"] == 2
    assert check["evidence"]["next_attempt_at"] is None


def test_transient_server_error_is_retried_and_then_succeeds(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    check_id = _post(api, user_id, kyc_body(data_download_link=evidence_server.url("/flaky")))
    run_evidence_job(database, worker_settings, utcnow())
    check = _get(api, user_id, check_id)
    assert (check["status"], check["evidence"]["last_error"]) == ("ACCEPTED", "HTTP 503")
    run_evidence_job(database, worker_settings, utcnow() + timedelta(minutes=2))
    check = _get(api, user_id, check_id)
    assert check["status"] == "PASSED"
    assert check["evidence"]["attempts"] == 2
    assert check["evidence"]["last_error"] is None


def test_loopback_is_refused_at_fetch_time_when_the_range_is_not_allowed(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    """The link was acceptable when posted (the API's settings allow loopback);
    the worker, configured without the allowance, still refuses to connect."""
    user_id = make_customer()
    check_id = _post(api, user_id, kyc_body(data_download_link=evidence_server.url("/ok/a.zip")))
    strict = worker_settings.model_copy(update={"allowed_private_networks": []})
    run_evidence_job(database, strict, utcnow())
    check = _get(api, user_id, check_id)
    assert check["status"] == "FAILED"
    assert check["failure_reason"] == "EVIDENCE_ADDRESS_REFUSED"
    assert "non-public address" in check["evidence"]["last_error"]
    assert evidence_server.hits == {}  # not a single request reached it


def test_checks_without_evidence_are_decided_by_the_worker(
    api: Any,
    database: Database,
    worker_settings: Settings,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    fit = _post(api, user_id, instrument_fit_body(True))
    unfit = _post(api, user_id, instrument_fit_body(False))
    compliance = _post(api, user_id, compliance_body())
    assert {_get(api, user_id, c)["status"] for c in (fit, unfit, compliance)} == {"VALIDATED"}

    assert run_evidence_job(database, worker_settings, utcnow()) == 3
    assert _get(api, user_id, fit)["status"] == "PASSED"
    assert _get(api, user_id, compliance)["status"] == "PASSED"
    unfit_check = _get(api, user_id, unfit)
    assert (unfit_check["status"], unfit_check["failure_reason"]) == (
        "FAILED",
        "INSTRUMENT_UNSUITABLE",
    )
    [failed] = _events(database, "USER_CHECK.FAILED")
    assert failed.payload == unfit_check
    # A decided check is never decided twice.
    assert run_evidence_job(database, worker_settings, utcnow()) == 0
    assert len(_events(database, "USER_CHECK.PASSED")) == 2


def test_a_claimed_check_is_not_claimed_again_until_its_lease_expires(
    api: Any, database: Database, make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    _post(api, user_id, kyc_body())
    now = utcnow()
    lease = timedelta(minutes=5)
    first = claim_due_fetches(database, now, lease)
    assert len(first) == 1
    assert claim_due_fetches(database, now, lease) == []
    # The first worker died: after the lease, another one takes over.
    second = claim_due_fetches(database, now + lease + timedelta(seconds=1), lease)
    assert [c.check_id for c in second] == [first[0].check_id]
    assert second[0].token != first[0].token


def test_concurrent_workers_claim_disjoint_checks(
    api: Any, database: Database, make_customer: Callable[..., str]
) -> None:
    user_id = make_customer()
    posted = {_post(api, user_id, kyc_body()) for _ in range(8)}
    now = utcnow()
    results: list[list[str]] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        claimed: list[str] = []
        while batch := claim_due_fetches(database, now, timedelta(minutes=5), limit=2):
            claimed.extend(c.check_id for c in batch)
        results.append(claimed)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every_claim = [check_id for claimed in results for check_id in claimed]
    assert sorted(every_claim) == sorted(posted)  # each check claimed exactly once


def test_a_download_for_a_refreshed_check_is_discarded(
    api: Any,
    database: Database,
    worker_settings: Settings,
    evidence_server: EvidenceServer,
    make_customer: Callable[..., str],
) -> None:
    user_id = make_customer()
    old_link = evidence_server.url("/gated/old.zip")
    check_id = _post(api, user_id, kyc_body(data_download_link=old_link))
    [claim] = claim_due_fetches(database, utcnow(), timedelta(minutes=5))
    settings = worker_settings.model_copy(update={"evidence_read_timeout_seconds": 10.0})

    def download() -> None:
        with guarded_client(AddressPolicy(settings.allowed_private_networks)) as client:
            process_claim(
                database,
                client,
                LocalBlobStore(settings.blob_dir),
                FetchLimits.from_settings(settings),
                retry_policy(settings),
                claim,
                utcnow,
            )

    worker = threading.Thread(target=download)
    worker.start()
    assert evidence_server.gate_reached.wait(timeout=10)
    # While the worker downloads the old link, the partner refreshes the check.
    new_link = evidence_server.url("/ok/new.zip")
    refreshed = _post(api, user_id, kyc_body(kyc_update=True, data_download_link=new_link))
    assert refreshed == check_id
    evidence_server.gate.set()
    worker.join(timeout=10)

    check = _get(api, user_id, check_id)
    assert check["status"] == "ACCEPTED"  # the old file was not recorded
    assert check["data_download_link"] == new_link
    assert check["evidence"]["sha256"] is None
    assert _events(database, "user_check.validated") == []

    run_evidence_job(database, worker_settings, utcnow())
    check = _get(api, user_id, check_id)
    assert check["status"] == "PASSED"
    assert evidence_server.hits.get("/ok/new.zip") == 1
