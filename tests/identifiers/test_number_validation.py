from __future__ import annotations

import pytest

from kycd.identifiers.types import IdentifierType as T
from kycd.identifiers.validation import InvalidNumber, check_number, has_validator, last_chars


@pytest.mark.parametrize(
    ("kind", "country", "value", "compact"),
    [
        (T.SSN, "US", "078-05-1121", "078051121"),
        (T.SSN, "US", "078 05 1121", "078051121"),
        (T.ITIN, "US", "912-90-3456", "912903456"),
        (T.EIN, "US", "01-2345678", "012345678"),
        (T.TAX_ID, "DE", "36 574 261 809", "36574261809"),
        (T.NATIONAL_ID, "NL", "1112.22.333", "111222333"),
        (T.NATIONAL_ID, "SE", "880320-0016", "880320-0016"),
        (T.PASSPORT, "DE", "c01x00t47", "C01X00T47"),
        (T.DRIVERS_LICENSE, "US", "D123-4567-8901", "D12345678901"),
    ],
)
def test_valid_numbers_are_compacted(kind: T, country: str, value: str, compact: str) -> None:
    assert check_number(kind, country, value).compact == compact


@pytest.mark.parametrize(
    ("kind", "country", "value"),
    [
        (T.SSN, "US", "000-12-3456"),
        (T.SSN, "US", "666-12-3456"),
        (T.SSN, "US", "078-05-1120"),  # the famous wallet-card number
        (T.ITIN, "US", "078-05-1121"),
        (T.NATIONAL_ID, "NL", "111222334"),
        (T.NATIONAL_ID, "ES", "54362315Z"),
        (T.TAX_ID, "DE", "36574261808"[:7]),
        (T.PASSPORT, "FR", "ab"),
        (T.PASSPORT, "FR", "AB<<1234"),
    ],
)
def test_invalid_numbers_are_refused(kind: T, country: str, value: str) -> None:
    with pytest.raises(InvalidNumber) as excinfo:
        check_number(kind, country, value)
    # The message describes the defect, never the number.
    assert value not in str(excinfo.value)


def test_validators_exist_where_stdnum_has_them() -> None:
    assert has_validator(T.SSN, "US") and has_validator(T.NATIONAL_ID, "IT")
    assert not has_validator(T.PASSPORT, "US")


@pytest.mark.parametrize(
    ("compact", "shown"), [("078051121", "1121"), ("AB12", "12"), ("ABC", "C"), ("A", "")]
)
def test_masks_show_at_most_half(compact: str, shown: str) -> None:
    assert last_chars(compact) == shown
