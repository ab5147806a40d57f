"""The automated checks, without a database: pictures made here with Pillow."""

from __future__ import annotations

import io
from datetime import date

import pytest
from hosted_images import document_image
from mrz.generator.td1 import TD1CodeGenerator
from mrz.generator.td3 import TD3CodeGenerator
from PIL import Image

from kycd.hosted import checks
from kycd.hosted.checks import Check, CheckResult, Outcome

TODAY = date(2026, 11, 23)
PASSPORT_MRZ = str(
    TD3CodeGenerator(
        "P", "GBR", "Mustermann", "Erika", "C01X00T47", "GBR", "640812", "F", "310101", ""
    )
)
ID_CARD_MRZ = str(
    TD1CodeGenerator(
        "ID", "GBR", "T22000129", "640812", "F", "310101", "GBR", "Mustermann", "Erika"
    )
)


def _wrong_digit(mrz: str) -> str:
    """The same zone with its final check digit changed."""
    last = mrz[-1]
    return mrz[:-1] + ("1" if last != "1" else "2")


@pytest.mark.parametrize(
    ("size", "blur", "sharp"),
    [
        ((1200, 800), 0, True),
        ((1200, 800), 4, False),
        ((800, 1000), 0, True),
        ((800, 1000), 3, False),
        ((3000, 2000), 0, True),
        ((3000, 2000), 12, False),
    ],
)
def test_sharpness_tells_a_sharp_photo_from_a_blurred_one(
    size: tuple[int, int], blur: float, sharp: bool
) -> None:
    image = checks.prepare_image(document_image(7, size, blur=blur))
    result = checks.check_sharpness(image.sharpness, "front")
    assert (result.outcome is Outcome.PASS) is sharp, image.sharpness
    if not sharp:
        assert result.label == checks.UNSATISFACTORY_PHOTOS


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((1200, 800), True),
        ((640, 480), True),
        ((480, 640), True),
        ((600, 400), False),
        ((320, 240), False),
    ],
)
def test_minimum_resolution(size: tuple[int, int], ok: bool) -> None:
    image = checks.prepare_image(document_image(3, size))
    result = checks.check_resolution(image.width, image.height)
    assert (result.outcome is Outcome.PASS) is ok
    assert result.label == (None if ok else checks.LOW_QUALITY)


@pytest.mark.parametrize(
    ("content_type", "allowed", "ok"),
    [
        ("image/jpeg", checks.IMAGE_TYPES, True),
        ("application/pdf", checks.IMAGE_TYPES, False),
        ("application/pdf", checks.IMAGE_TYPES | {"application/pdf"}, True),
        (None, checks.IMAGE_TYPES, False),
    ],
)
def test_file_type_by_content(content_type: str | None, allowed: frozenset[str], ok: bool) -> None:
    assert (checks.check_file_type(content_type, allowed).outcome is Outcome.PASS) is ok


@pytest.mark.parametrize(("size", "ok"), [(1, True), (1000, True), (1001, False), (0, False)])
def test_file_size(size: int, ok: bool) -> None:
    assert (checks.check_file_size(size, 1000).outcome is Outcome.PASS) is ok


def test_prepared_image_is_reencoded_upright_without_exif() -> None:
    raw = document_image(5, (1200, 800), fmt="JPEG", exif_gps=True)
    with Image.open(io.BytesIO(raw)) as original:
        assert original.getexif().get_ifd(0x8825), "the test picture carries a GPS position"
    prepared = checks.prepare_image(raw)
    with Image.open(io.BytesIO(prepared.data)) as stored:
        assert stored.format == "JPEG"
        assert not stored.getexif()
        assert stored.size == (1200, 800)


def test_a_png_is_reencoded_as_jpeg_and_garbage_is_refused() -> None:
    prepared = checks.prepare_image(document_image(5, (900, 700), fmt="PNG"))
    assert prepared.data[:3] == b"\xff\xd8\xff"
    with pytest.raises(checks.ImageRejected):
        checks.prepare_image(b"\x89PNG\r\n\x1a\n" + b"not really" * 50)


@pytest.mark.parametrize(
    ("birth", "outcome"),
    [
        (date(2008, 11, 23), Outcome.PASS),  # 18 today
        (date(2008, 11, 24), Outcome.FAIL),  # 18 tomorrow
        (date(1950, 1, 1), Outcome.PASS),
        (None, Outcome.REVIEW),
    ],
)
def test_applicant_age(birth: date | None, outcome: Outcome) -> None:
    result = checks.check_age(birth, TODAY)
    assert result.outcome is outcome
    if outcome is Outcome.FAIL:
        assert result.label == checks.AGE_REQUIREMENT_MISMATCH


@pytest.mark.parametrize(
    ("expiry", "outcome"),
    [
        (date(2026, 11, 23), Outcome.PASS),  # valid through its last day
        (date(2026, 11, 22), Outcome.FAIL),
        (date(2031, 1, 1), Outcome.PASS),
        (None, Outcome.REVIEW),
    ],
)
def test_document_expiry(expiry: date | None, outcome: Outcome) -> None:
    result = checks.check_expiry(expiry, TODAY)
    assert result.outcome is outcome
    if outcome is Outcome.FAIL:
        assert result.label == checks.EXPIRATION_DATE


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        ("Müller", "MUELLER", True),
        ("Müller", "MULLER", True),
        ("José María", "JOSE<MARIA", True),
        ("Erika", "ERIKA", True),
        ("Erika", "Erica", False),
        ("Smith", "Smyth", False),
    ],
)
def test_names_match_as_a_machine_readable_zone_writes_them(a: str, b: str, match: bool) -> None:
    assert checks.names_match(a, b.replace("<", " ")) is match


def test_name_consistency_across_form_profile_and_document() -> None:
    consistent = checks.check_names(
        [("form", "Erika", "Müller"), ("profile", "Erika", None), ("document", "ERIKA", "MUELLER")]
    )
    assert consistent.outcome is Outcome.PASS
    differing = checks.check_names([("form", "Erika", "Müller"), ("document", "ERIKA", "SCHMIDT")])
    assert differing.outcome is Outcome.REVIEW
    assert differing.label == checks.REQUESTED_DATA_MISMATCH
    assert "last name" in differing.detail


def test_birth_date_consistency() -> None:
    same = checks.check_birth_dates([("form", date(1964, 8, 12)), ("document", date(1964, 8, 12))])
    assert same.outcome is Outcome.PASS
    other = checks.check_birth_dates([("form", date(1964, 8, 12)), ("profile", date(1964, 8, 13))])
    assert other.outcome is Outcome.REVIEW


@pytest.mark.parametrize("mrz", [PASSPORT_MRZ, ID_CARD_MRZ, PASSPORT_MRZ.lower()])
def test_valid_mrz_check_digits(mrz: str) -> None:
    result, data = checks.check_mrz(mrz)
    assert result.outcome is Outcome.PASS
    assert data is not None
    assert data.surname == "MUSTERMANN" and data.given_names == "ERIKA"
    assert data.birth_date == "640812" and data.expiry_date == "310101"


@pytest.mark.parametrize(
    "mrz", [_wrong_digit(PASSPORT_MRZ), _wrong_digit(ID_CARD_MRZ), "P<GBR<<<\nNOT AN MRZ"]
)
def test_wrong_mrz_check_digits_fail(mrz: str) -> None:
    result, data = checks.check_mrz(mrz)
    assert result.outcome is Outcome.FAIL
    assert result.label == checks.ID_INVALID
    assert data is None


def test_no_mrz_typed_is_not_a_failure() -> None:
    result, data = checks.check_mrz("  ")
    assert result.outcome is Outcome.PASS and data is None


def test_mrz_must_agree_with_the_form() -> None:
    _, data = checks.check_mrz(PASSPORT_MRZ)
    assert data is not None
    same = checks.check_mrz_consistency(data, "c01x00t47", date(2031, 1, 1), date(1964, 8, 12))
    assert same.outcome is Outcome.PASS
    other = checks.check_mrz_consistency(data, "X9999999", date(2031, 1, 1), None)
    assert other.outcome is Outcome.REVIEW and "document number" in other.detail


def test_near_identical_images_are_found_and_different_ones_are_not() -> None:
    original = checks.prepare_image(document_image(11, (1200, 800)))
    recompressed = checks.prepare_image(document_image(11, (1000, 667), blur=0.6))
    other = checks.prepare_image(document_image(12, (1200, 800)))
    assert checks.near_duplicates(original.phash, [recompressed.phash]) == 1
    assert checks.near_duplicates(original.phash, [other.phash]) == 0
    assert checks.check_duplicate_image(1).outcome is Outcome.REVIEW
    assert checks.check_duplicate_image(1).label == checks.DUPLICATE
    assert checks.check_duplicate_image(0).outcome is Outcome.PASS


def test_a_document_number_used_by_another_customer_goes_to_review() -> None:
    flagged = checks.check_duplicate_number(1)
    assert flagged.outcome is Outcome.REVIEW
    assert flagged.label == checks.DUPLICATE
    assert "identity theft" in flagged.detail
    assert checks.check_duplicate_number(0).outcome is Outcome.PASS


def _result(outcome: Outcome, label: str | None = None) -> CheckResult:
    return CheckResult(Check.SHARPNESS, outcome, label)


@pytest.mark.parametrize(
    ("results", "outcome", "labels"),
    [
        ([_result(Outcome.PASS)], Outcome.PASS, ()),
        (
            [_result(Outcome.PASS), _result(Outcome.REVIEW, "DUPLICATE")],
            Outcome.REVIEW,
            ("DUPLICATE",),
        ),
        (
            [_result(Outcome.REVIEW, "DUPLICATE"), _result(Outcome.FAIL, "EXPIRATION_DATE")],
            Outcome.FAIL,
            ("EXPIRATION_DATE",),
        ),
        (
            [_result(Outcome.FAIL, "LOW_QUALITY"), _result(Outcome.FAIL, "LOW_QUALITY")],
            Outcome.FAIL,
            ("LOW_QUALITY",),
        ),
    ],
)
def test_decision_of_a_step(
    results: list[CheckResult], outcome: Outcome, labels: tuple[str, ...]
) -> None:
    decision = checks.decide(results)
    assert decision.outcome is outcome
    assert decision.labels == labels


def test_face_match_and_liveness_are_never_passed_by_software() -> None:
    for check in (Check.FACE_MATCH, Check.LIVENESS):
        assert checks.needs_person(check, "why").outcome is Outcome.REVIEW
