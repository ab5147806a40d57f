from __future__ import annotations

from datetime import date

import pytest

from kycd.lifecycle.fineract import parse_date


@pytest.mark.parametrize(
    ("value", "fmt", "locale", "expected"),
    [
        ("1986-12-09", None, None, date(1986, 12, 9)),
        ([1986, 12, 9], None, None, date(1986, 12, 9)),
        ("09 December 1986", "dd MMMM yyyy", "en", date(1986, 12, 9)),
        ("9 Dec 1986", "d MMM yyyy", "en_GB", date(1986, 12, 9)),
        ("09/12/1986", "dd/MM/yyyy", "en", date(1986, 12, 9)),
        ("1986-12-09", "yyyy-MM-dd", None, date(1986, 12, 9)),
        (None, "dd MMMM yyyy", "en", None),
    ],
)
def test_fineract_dates(value: object, fmt: str | None, locale: str | None, expected: date) -> None:
    assert parse_date(value, fmt, locale) == expected


@pytest.mark.parametrize(
    ("value", "fmt", "locale"),
    [
        ("09/12/1986", None, None),
        ("09 December 1986", "dd/MM/yyyy", "en"),
        ("09 Dezember 1986", "dd MMMM yyyy", "de"),
        ([1986, 12], None, None),
        ("1986-12-09", "yyyy-MM-dd HH", None),
        (19861209, None, None),
    ],
)
def test_bad_dates_are_refused(value: object, fmt: str | None, locale: str | None) -> None:
    with pytest.raises(ValueError):
        parse_date(value, fmt, locale)
