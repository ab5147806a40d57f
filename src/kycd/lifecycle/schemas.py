"""Request and response bodies of ``/v1/clients`` in Fineract's names (camelCase),
and of the requirements admin API (snake_case, like every non-seed endpoint)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from kycd.core.validators import CountryCode, EmailAddress, PhoneNumber, past_date
from kycd.customers.models import AddressType
from kycd.lifecycle.fineract import parse_date
from kycd.lifecycle.rules import KycVerificationType, RequirementsConfig

Name200 = Field(default=None, min_length=1, max_length=200)


class FineractBody(BaseModel):
    """A request body with Fineract's ``dateFormat`` and ``locale``: the fields
    named in ``date_fields`` are parsed with them (ISO ``yyyy-MM-dd`` when absent).
    ``dateFormat`` and ``locale`` are declared first so they validate first."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    date_fields: ClassVar[tuple[str, ...]] = ()

    dateFormat: str | None = Field(default=None, min_length=1, max_length=40)
    locale: str | None = Field(default=None, min_length=2, max_length=20)

    @field_validator("*", mode="before")
    @classmethod
    def _fineract_dates(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in cls.date_fields:
            return value
        return parse_date(value, info.data.get("dateFormat"), info.data.get("locale"))


class LegalForm(StrEnum):
    PERSON = "PERSON"
    ENTITY = "ENTITY"


LEGAL_FORM_IDS = {1: LegalForm.PERSON, 2: LegalForm.ENTITY}


def _address_type(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class AddressBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    addressType: AddressType = AddressType.RESIDENTIAL
    isPrimary: bool = False
    addressLine1: str = Field(min_length=1, max_length=300)
    addressLine2: str | None = Field(default=None, max_length=300)
    addressLine3: str | None = Field(default=None, max_length=300)
    city: str = Field(min_length=1, max_length=200)
    postalCode: str | None = Field(default=None, max_length=32)
    stateProvince: str | None = Field(default=None, max_length=100)
    countryCode: CountryCode

    _type_case = field_validator("addressType", mode="before")(_address_type)


class AddressUpdate(BaseModel):
    """PUT body: only the fields sent change. Fineract sends ``addressId`` in the body."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    addressId: str | None = None
    addressType: AddressType | None = None
    isPrimary: bool | None = None
    addressLine1: str | None = Field(default=None, min_length=1, max_length=300)
    addressLine2: str | None = Field(default=None, max_length=300)
    addressLine3: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, min_length=1, max_length=200)
    postalCode: str | None = Field(default=None, max_length=32)
    stateProvince: str | None = Field(default=None, max_length=100)
    countryCode: CountryCode | None = None

    _type_case = field_validator("addressType", mode="before")(_address_type)

    @field_validator("addressLine1", "city", "countryCode")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class AddressOut(BaseModel):
    addressId: str
    clientId: str
    addressType: str
    isPrimary: bool
    addressLine1: str
    addressLine2: str | None
    addressLine3: str | None
    city: str
    postalCode: str | None
    stateProvince: str | None
    countryCode: str
    createdOn: datetime
    updatedOn: datetime


def _past(value: date | None) -> date | None:
    return None if value is None else past_date(value)


class ClientCreate(FineractBody):
    date_fields = ("dateOfBirth", "submittedOnDate")

    # Fineract's office model has no counterpart in kycd; accepted and ignored so
    # that Fineract clients, which always send it, work unchanged.
    officeId: int | None = None
    legalFormId: int | None = None
    externalId: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$"
    )
    firstname: str | None = Name200
    middlename: str | None = Name200
    lastname: str | None = Name200
    fullname: str | None = Field(default=None, min_length=1, max_length=300)
    dateOfBirth: date | None = None
    emailAddress: EmailAddress | None = None
    mobileNo: PhoneNumber | None = None
    submittedOnDate: date | None = None
    active: bool = False
    address: list[AddressBody] = Field(default_factory=list, max_length=20)

    @field_validator("legalFormId")
    @classmethod
    def _known_legal_form(cls, value: int | None) -> int | None:
        if value is not None and value not in LEGAL_FORM_IDS:
            raise ValueError("must be 1 (PERSON) or 2 (ENTITY)")
        return value

    @field_validator("dateOfBirth", "submittedOnDate")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        return _past(value)

    @field_validator("address")
    @classmethod
    def _one_primary(cls, value: list[AddressBody]) -> list[AddressBody]:
        if sum(1 for a in value if a.isPrimary) > 1:
            raise ValueError("at most one address may be primary")
        return value

    @property
    def legal_form(self) -> LegalForm:
        return LEGAL_FORM_IDS.get(self.legalFormId or 1, LegalForm.PERSON)


class ClientUpdate(FineractBody):
    """PUT ``/v1/clients/{clientId}``: only the fields sent change; a changed
    email address or mobile number loses its verification."""

    date_fields = ("dateOfBirth",)

    firstname: str | None = Name200
    middlename: str | None = Name200
    lastname: str | None = Name200
    fullname: str | None = Field(default=None, min_length=1, max_length=300)
    dateOfBirth: date | None = None
    emailAddress: EmailAddress | None = None
    mobileNo: PhoneNumber | None = None

    @field_validator("dateOfBirth")
    @classmethod
    def _not_future(cls, value: date | None) -> date | None:
        return _past(value)


class CommandBody(FineractBody):
    """The body of ``POST /v1/clients/{clientId}?command=…``. Each command reads
    its own business date field (``activationDate``, ``closureDate``, …); a date
    field of another command is refused."""

    date_fields = (
        "verificationDate",
        "activationDate",
        "rejectionDate",
        "withdrawalDate",
        "closureDate",
        "reactivationDate",
        "reopenedDate",
    )

    kycVerificationType: KycVerificationType | None = None
    verificationDate: date | None = None
    activationDate: date | None = None
    rejectionDate: date | None = None
    withdrawalDate: date | None = None
    closureDate: date | None = None
    reactivationDate: date | None = None
    reopenedDate: date | None = None
    note: str | None = Field(default=None, max_length=1000)

    @field_validator("kycVerificationType", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class EnumOption(BaseModel):
    id: int
    code: str
    value: str


class SubStatus(BaseModel):
    code: str
    value: str


class LegalFormOut(BaseModel):
    id: int
    code: str
    value: str


class Timeline(BaseModel):
    submittedOnDate: date | None
    verifiedOnDate: date | None
    activatedOnDate: date | None
    rejectedOnDate: date | None
    withdrawnOnDate: date | None
    closedOnDate: date | None
    reactivatedOnDate: date | None


class ClientOut(BaseModel):
    id: str
    externalId: str
    status: EnumOption
    subStatus: SubStatus | None
    kycVerificationType: KycVerificationType | None
    active: bool
    activationDate: date | None
    legalForm: LegalFormOut
    firstname: str | None
    middlename: str | None
    lastname: str | None
    fullname: str | None
    displayName: str
    dateOfBirth: date | None
    emailAddress: str | None
    emailVerified: bool
    mobileNo: str | None
    mobileNoVerified: bool
    timeline: Timeline


class ClientPage(BaseModel):
    """Fineract's paged list."""

    totalFilteredRecords: int
    pageItems: list[ClientOut]


class CommandResult(BaseModel):
    """Fineract's CommandProcessingResult."""

    clientId: str
    resourceId: str
    resourceExternalId: str | None = None
    changes: dict[str, Any] = Field(default_factory=dict)


class ContactVerificationMethod(StrEnum):
    OTP = "OTP"
    MAGIC_LINK = "MAGIC_LINK"
    MANUAL = "MANUAL"


class ContactVerification(BaseModel):
    """The tenant attests that it proved control of the address or number it
    names: for example its one-time-code check passed. Naming the value guards
    against a change made since the code was sent."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    emailAddress: EmailAddress | None = None
    mobileNo: PhoneNumber | None = None
    verificationMethod: ContactVerificationMethod = ContactVerificationMethod.OTP


class ContactsOut(BaseModel):
    clientId: str
    emailAddress: str | None
    emailVerified: bool
    emailVerifiedOn: datetime | None
    emailVerificationMethod: str | None
    mobileNo: str | None
    mobileNoVerified: bool
    mobileNoVerifiedOn: datetime | None
    mobileNoVerificationMethod: str | None


class RequirementsOut(RequirementsConfig):
    source: str = Field(description="tenant, file or default")
