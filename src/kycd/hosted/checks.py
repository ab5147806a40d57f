"""Automated checks on what an applicant hands over in the hosted flow. Pure: no
I/O, no database; images arrive as bytes and leave as bytes.

Each check returns a :class:`CheckResult` with one of three outcomes:

* ``pass``: nothing wrong found;
* ``fail``: something is certainly wrong and the applicant can fix it (a blurry
  or expired document): the step is rejected RED/RETRY with the check's label;
* ``review``: software cannot tell (names that differ, a document number
  another customer used): a person decides, the label says why.

:func:`decide` turns a step's results into the step's review.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

import imagehash
from mrz.checker.td1 import TD1CodeChecker
from mrz.checker.td2 import TD2CodeChecker
from mrz.checker.td3 import TD3CodeChecker
from PIL import Image, ImageFilter, ImageOps, ImageStat, UnidentifiedImageError

# Images the flow accepts (sniffed by content); PDFs only where no picture is needed.
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
# A phone camera's worst still is far above this; a thumbnail or screenshot crop is not.
MIN_SHORT_SIDE = 480
MIN_LONG_SIDE = 640
# Decoding more than this would be a decompression bomb, not a photo.
MAX_PIXELS = 50_000_000
# Variance of the edge filter on the image scaled to SHARPNESS_WIDTH pixels wide.
# Calibrated on printed-document test images: sharp ones score in the hundreds
# or more, a Gaussian blur of radius 3 (at 1200 px) drops them to about 20.
SHARPNESS_WIDTH = 800
MIN_SHARPNESS = 50.0
MIN_AGE = 18
# Hamming distance (of 64 bits) under which two perceptual hashes are the same picture.
MAX_PHASH_DISTANCE = 6


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    REVIEW = "review"


class Check(StrEnum):
    FILE_TYPE = "file_type"
    FILE_SIZE = "file_size"
    RESOLUTION = "resolution"
    SHARPNESS = "sharpness"
    DOCUMENT_EXPIRY = "document_expiry"
    APPLICANT_AGE = "applicant_age"
    NAME_CONSISTENCY = "name_consistency"
    BIRTH_DATE_CONSISTENCY = "birth_date_consistency"
    MRZ_CHECK_DIGITS = "mrz_check_digits"
    MRZ_CONSISTENCY = "mrz_consistency"
    DUPLICATE_DOCUMENT_NUMBER = "duplicate_document_number"
    DUPLICATE_IMAGE = "duplicate_image"
    FACE_MATCH = "face_match"
    LIVENESS = "liveness"
    DOCUMENT_AUTHENTICITY = "document_authenticity"


# Reject labels (seed 002's rejectLabels vocabulary).
LOW_QUALITY = "LOW_QUALITY"
UNSATISFACTORY_PHOTOS = "UNSATISFACTORY_PHOTOS"
EXPIRATION_DATE = "EXPIRATION_DATE"
AGE_REQUIREMENT_MISMATCH = "AGE_REQUIREMENT_MISMATCH"
REQUESTED_DATA_MISMATCH = "REQUESTED_DATA_MISMATCH"
ID_INVALID = "ID_INVALID"
DUPLICATE = "DUPLICATE"
BAD_FACE_MATCHING = "BAD_FACE_MATCHING"
FRAUDULENT_LIVENESS = "FRAUDULENT_LIVENESS"
BAD_PROOF_OF_IDENTITY = "BAD_PROOF_OF_IDENTITY"


@dataclass(frozen=True)
class CheckResult:
    check: Check
    outcome: Outcome
    label: str | None = None
    detail: str = ""
    # Which file the check looked at ("front", "back", "selfie", "poa"), if any.
    subject: str | None = None


def _pass(check: Check, detail: str = "", subject: str | None = None) -> CheckResult:
    return CheckResult(check, Outcome.PASS, None, detail, subject)


# --- Images -------------------------------------------------------------------------


class ImageRejected(ValueError):
    """The bytes are not an image the flow can use at all (nothing is stored)."""


@dataclass(frozen=True)
class PreparedImage:
    """An upload decoded, turned upright and re-encoded as JPEG without metadata."""

    data: bytes
    width: int
    height: int
    sharpness: float
    phash: str


def prepare_image(raw: bytes) -> PreparedImage:
    """Decode, apply the EXIF orientation, then re-encode: the stored file carries
    no EXIF (no GPS position, no camera serial) and no payload hidden in the
    original container."""
    try:
        with Image.open(io.BytesIO(raw)) as source:
            if source.width * source.height > MAX_PIXELS:
                raise ImageRejected("the picture has too many pixels")
            source.load()
            upright = ImageOps.exif_transpose(source)
            rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageRejected("the file is not a readable picture") from exc
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=90, optimize=True)
    return PreparedImage(
        data=out.getvalue(),
        width=rgb.width,
        height=rgb.height,
        sharpness=sharpness(rgb),
        phash=str(imagehash.phash(rgb)),
    )


# The 4-neighbour Laplacian; the offset keeps negative responses inside 0..255.
_LAPLACIAN = ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)


def sharpness(image: Image.Image) -> float:
    """A blur measure: the variance of a Laplacian-like edge filter on the grey
    image at a fixed width (so the score does not grow with the megapixels).
    Sharp edges give strong, varied responses; blur flattens them."""
    gray = image.convert("L")
    if gray.width > SHARPNESS_WIDTH:
        height = max(1, round(gray.height * SHARPNESS_WIDTH / gray.width))
        gray = gray.resize((SHARPNESS_WIDTH, height), Image.Resampling.LANCZOS)
    edges = gray.filter(_LAPLACIAN)
    # Pillow copies the outermost pixels unfiltered: leave them out.
    inner = edges.crop((1, 1, max(2, edges.width - 1), max(2, edges.height - 1)))
    return float(ImageStat.Stat(inner).var[0])


def check_file_type(content_type: str | None, allowed: Iterable[str]) -> CheckResult:
    allowed = frozenset(allowed)
    if content_type in allowed:
        return _pass(Check.FILE_TYPE, f"content is {content_type}")
    return CheckResult(
        Check.FILE_TYPE, Outcome.FAIL, LOW_QUALITY, f"content is {content_type or 'unknown'}"
    )


def check_file_size(size: int, max_bytes: int, subject: str | None = None) -> CheckResult:
    if 0 < size <= max_bytes:
        return _pass(Check.FILE_SIZE, f"{size} bytes", subject)
    return CheckResult(
        Check.FILE_SIZE, Outcome.FAIL, LOW_QUALITY, f"{size} bytes (limit {max_bytes})", subject
    )


def check_resolution(width: int, height: int, subject: str | None = None) -> CheckResult:
    short, long = sorted((width, height))
    detail = f"{width}x{height} px (minimum {MIN_LONG_SIDE}x{MIN_SHORT_SIDE})"
    if short >= MIN_SHORT_SIDE and long >= MIN_LONG_SIDE:
        return _pass(Check.RESOLUTION, detail, subject)
    return CheckResult(Check.RESOLUTION, Outcome.FAIL, LOW_QUALITY, detail, subject)


def check_sharpness(score: float, subject: str | None = None) -> CheckResult:
    detail = f"edge variance {score:.1f} (minimum {MIN_SHARPNESS:.0f})"
    if score >= MIN_SHARPNESS:
        return _pass(Check.SHARPNESS, detail, subject)
    return CheckResult(Check.SHARPNESS, Outcome.FAIL, UNSATISFACTORY_PHOTOS, detail, subject)


def image_checks(image: PreparedImage, subject: str) -> list[CheckResult]:
    return [
        check_resolution(image.width, image.height, subject),
        check_sharpness(image.sharpness, subject),
    ]


# --- Dates ---------------------------------------------------------------------------


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def check_age(birth: date | None, today: date, minimum: int = MIN_AGE) -> CheckResult:
    if birth is None:
        return CheckResult(Check.APPLICANT_AGE, Outcome.REVIEW, None, "no birth date given")
    age = age_on(birth, today)
    if age >= minimum:
        return _pass(Check.APPLICANT_AGE, f"{age} years")
    return CheckResult(
        Check.APPLICANT_AGE,
        Outcome.FAIL,
        AGE_REQUIREMENT_MISMATCH,
        f"{age} years (minimum {minimum})",
    )


def check_expiry(expiry: date | None, today: date) -> CheckResult:
    if expiry is None:
        return CheckResult(Check.DOCUMENT_EXPIRY, Outcome.REVIEW, None, "no expiry date given")
    if expiry >= today:
        return _pass(Check.DOCUMENT_EXPIRY, f"valid until {expiry.isoformat()}")
    return CheckResult(
        Check.DOCUMENT_EXPIRY, Outcome.FAIL, EXPIRATION_DATE, f"expired on {expiry.isoformat()}"
    )


# --- Names -----------------------------------------------------------------------------

# ICAO 9303 transliterations a passport may have used instead of dropping the accent.
_ICAO = str.maketrans({"Ä": "AE", "Ö": "OE", "Ü": "UE", "ß": "SS", "Å": "AA", "Æ": "AE", "Ø": "OE"})


def name_keys(name: str) -> set[str]:
    """The ways a name can be written in a machine-readable zone: upper case,
    letters only, accents either dropped or transliterated."""
    upper = name.upper()
    keys = set()
    for variant in (upper, upper.translate(_ICAO)):
        folded = unicodedata.normalize("NFKD", variant)
        keys.add("".join(c for c in folded if "A" <= c <= "Z"))
    return keys


def names_match(a: str, b: str) -> bool:
    return bool(name_keys(a) & name_keys(b))


def check_names(
    given: Sequence[tuple[str, str | None, str | None]],
) -> CheckResult:
    """``given`` lists (source, first names, last name) from the form, the
    profile and the document; any two sources that both give a part must agree."""
    known = [(src, first, last) for src, first, last in given if first or last]
    for i, (src_a, first_a, last_a) in enumerate(known):
        for src_b, first_b, last_b in known[i + 1 :]:
            for part, x, y in (("first", first_a, first_b), ("last", last_a, last_b)):
                if x and y and not names_match(x, y):
                    return CheckResult(
                        Check.NAME_CONSISTENCY,
                        Outcome.REVIEW,
                        REQUESTED_DATA_MISMATCH,
                        f"{part} name differs between {src_a} and {src_b}",
                    )
    sources = ", ".join(src for src, _, _ in known) or "nothing to compare"
    return _pass(Check.NAME_CONSISTENCY, f"consistent across {sources}")


def check_birth_dates(given: Sequence[tuple[str, date | None]]) -> CheckResult:
    known = [(src, day) for src, day in given if day is not None]
    for src_a, day_a in known:
        for src_b, day_b in known:
            if day_a != day_b:
                return CheckResult(
                    Check.BIRTH_DATE_CONSISTENCY,
                    Outcome.REVIEW,
                    REQUESTED_DATA_MISMATCH,
                    f"birth date differs between {src_a} and {src_b}",
                )
    sources = ", ".join(src for src, _ in known) or "nothing to compare"
    return _pass(Check.BIRTH_DATE_CONSISTENCY, f"consistent across {sources}")


# --- Machine-readable zone ------------------------------------------------------------


@dataclass(frozen=True)
class MrzData:
    document_number: str
    surname: str
    given_names: str
    birth_date: str  # YYMMDD
    expiry_date: str  # YYMMDD


class MrzInvalid(ValueError):
    pass


def _mrz_lines(text: str) -> list[str]:
    return [line.strip().replace(" ", "").upper() for line in text.strip().splitlines() if line]


def parse_mrz(text: str) -> MrzData:
    """Validate a typed MRZ's check digits (TD1: ID cards, TD2, TD3: passports)
    with the ``mrz`` package; :class:`MrzInvalid` when a digit is wrong or the
    text is not an MRZ at all."""
    lines = _mrz_lines(text)
    shape = tuple(len(line) for line in lines)
    checkers = {(30, 30, 30): TD1CodeChecker, (36, 36): TD2CodeChecker, (44, 44): TD3CodeChecker}
    checker_class = checkers.get(shape)
    if checker_class is None:
        raise MrzInvalid("not a machine-readable zone of 2 or 3 lines")
    try:
        checker = checker_class("\n".join(lines))
    except Exception as exc:  # the package raises its own ValueError subclasses and others
        raise MrzInvalid(f"unreadable machine-readable zone: {exc}") from exc
    if not bool(checker):
        errors = ", ".join(checker.report.errors) or "invalid"
        raise MrzInvalid(errors)
    fields = checker.fields()
    return MrzData(
        document_number=str(fields.document_number).replace("<", ""),
        surname=str(fields.surname),
        given_names=str(fields.name),
        birth_date=str(fields.birth_date),
        expiry_date=str(fields.expiry_date),
    )


def check_mrz(text: str | None) -> tuple[CheckResult, MrzData | None]:
    if not text or not text.strip():
        return _pass(Check.MRZ_CHECK_DIGITS, "no machine-readable zone typed"), None
    try:
        data = parse_mrz(text)
    except MrzInvalid as exc:
        return CheckResult(Check.MRZ_CHECK_DIGITS, Outcome.FAIL, ID_INVALID, str(exc)), None
    return _pass(Check.MRZ_CHECK_DIGITS, "check digits valid"), data


def yymmdd(day: date) -> str:
    return day.strftime("%y%m%d")


def check_mrz_consistency(
    mrz: MrzData, document_number: str, expiry: date | None, birth: date | None
) -> CheckResult:
    """The zone must say what the form says: a typed zone copied from another document
    (or a form filled from one) is worth a look."""
    problems = []
    if normalise_document_number(mrz.document_number) != normalise_document_number(document_number):
        problems.append("document number")
    if expiry is not None and mrz.expiry_date != yymmdd(expiry):
        problems.append("expiry date")
    if birth is not None and mrz.birth_date != yymmdd(birth):
        problems.append("birth date")
    if problems:
        return CheckResult(
            Check.MRZ_CONSISTENCY,
            Outcome.REVIEW,
            REQUESTED_DATA_MISMATCH,
            "machine-readable zone differs from the form: " + ", ".join(problems),
        )
    return _pass(Check.MRZ_CONSISTENCY, "machine-readable zone matches the form")


def normalise_document_number(value: str) -> str:
    return "".join(c for c in value.upper() if c.isalnum())


# --- Duplicates ----------------------------------------------------------------------


def check_duplicate_number(other_customers: int) -> CheckResult:
    if other_customers == 0:
        return _pass(Check.DUPLICATE_DOCUMENT_NUMBER, "not used by another customer")
    return CheckResult(
        Check.DUPLICATE_DOCUMENT_NUMBER,
        Outcome.REVIEW,
        DUPLICATE,
        f"possible identity theft: the document number is on file for {other_customers} "
        "other customer(s) of the tenant",
    )


def phash_distance(a: str, b: str) -> int:
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))


def near_duplicates(
    phash: str, others: Iterable[str], max_distance: int = MAX_PHASH_DISTANCE
) -> int:
    return sum(1 for other in others if phash_distance(phash, other) <= max_distance)


def check_duplicate_image(matches: int, subject: str | None = None) -> CheckResult:
    if matches == 0:
        return _pass(Check.DUPLICATE_IMAGE, "no near-identical image on file", subject)
    return CheckResult(
        Check.DUPLICATE_IMAGE,
        Outcome.REVIEW,
        DUPLICATE,
        f"possible identity theft: a near-identical image is on file for {matches} "
        "other customer(s) of the tenant",
        subject,
    )


# --- What software here does not judge --------------------------------------------------


def needs_person(check: Check, why: str) -> CheckResult:
    """A check no code in kycd performs (face match, liveness, authenticity): a
    person (or a provider's check, seed 004) decides, never a pretend pass."""
    return CheckResult(check, Outcome.REVIEW, None, why)


# --- The step's review ---------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    labels: tuple[str, ...]


def decide(results: Sequence[CheckResult]) -> Decision:
    """Any failure rejects the step for a retry (its labels tell the applicant
    what to fix); else anything unsure sends it to an operator; else GREEN."""
    failed = [r.label for r in results if r.outcome is Outcome.FAIL and r.label]
    if any(r.outcome is Outcome.FAIL for r in results):
        return Decision(Outcome.FAIL, tuple(dict.fromkeys(failed or [BAD_PROOF_OF_IDENTITY])))
    if any(r.outcome is Outcome.REVIEW for r in results):
        labels = [r.label for r in results if r.outcome is Outcome.REVIEW and r.label]
        return Decision(Outcome.REVIEW, tuple(dict.fromkeys(labels)))
    return Decision(Outcome.PASS, ())
