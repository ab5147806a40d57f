"""Field validators shared by every surface: countries, phone numbers, e-mail.

Countries come from pycountry and phone numbers from Google's libphonenumber
port, so no surface keeps its own hand-written list.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

import phonenumbers
import pycountry
from pydantic import AfterValidator


def country_alpha2(value: str) -> str:
    code = value.strip().upper()
    if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
        raise ValueError("must be an ISO 3166-1 alpha-2 country code")
    return code


def phone_e164(value: str) -> str:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("must be a phone number in international format (+…)") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Deliberately permissive: full RFC 5322 validation rejects real addresses more
# often than it catches typos; ownership is proven by the verification action.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_address(value: str) -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("is not a valid e-mail address")
    local, _, domain = value.partition("@")
    return f"{local}@{domain.lower()}"


def past_date(value: date) -> date:
    if value > date.today():
        raise ValueError("must not be in the future")
    if value.year < 1900:
        raise ValueError("must be after 1900")
    return value


CountryCode = Annotated[str, AfterValidator(country_alpha2)]
PhoneNumber = Annotated[str, AfterValidator(phone_e164)]
EmailAddress = Annotated[str, AfterValidator(email_address)]
PastDate = Annotated[date, AfterValidator(past_date)]
