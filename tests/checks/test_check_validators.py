# ruff: noqa: RUF001 - addresses are written in the scripts customers use.
"""The pure rules of user checks, table-driven, both ways."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kycd.checks.validators import (
    address_line_problem,
    confirmed_at_problem,
    expiration_problem,
    https_url_problem,
    issuance_problem,
    months_before,
    po_box_or_care_of,
    strict_iso_date,
)

# (address line, country): each must be refused.
PO_BOXES_AND_CARE_OF = [
    ("P.O. Box 1234", "US"),
    ("PO Box 77", "GB"),
    ("p o box 12", "US"),
    ("P.O.Box 555", "AE"),
    ("POB 45", "US"),
    ("P.O.B. 9012", "IL"),
    ("Post Office Box 310", "US"),
    ("GPO Box 1421", "AU"),
    ("Locked Bag 2000", "AU"),
    ("Private Bag X134", "ZA"),
    ("PMB 1043", "US"),
    ("Box 5113", "SE"),
    ("Postfach 10 01 52", "DE"),
    ("Postfach", "AT"),
    ("Postschließfach 3344", "DE"),
    ("Postf. 1234", "DE"),
    ("Packstation 112", "DE"),
    ("Boîte postale 184", "FR"),
    ("BP 37", "FR"),
    ("B.P. 1520", "SN"),
    ("Case postale 261", "CH"),
    ("CP 261", "CH"),
    ("C.P. 6128, succursale Centre-ville", "CA"),
    ("Casella postale 12", "IT"),
    ("Cas. post. 45", "IT"),
    ("C.P. 112", "IT"),
    ("Apartado de Correos 1042", "ES"),
    ("Apartado 1234", "PT"),
    ("Apartado Postal 10-245", "MX"),
    ("Apdo. 4567", "ES"),
    ("Aptdo. de correos 33", "ES"),
    ("Apartado Aéreo 3456", "CO"),
    ("Casilla 13-D", "CL"),
    ("Casilla de Correo 1200", "AR"),
    ("Caixa Postal 2001", "BR"),
    ("Skrytka pocztowa 56", "PL"),
    ("skr. poczt. 12", "PL"),
    ("Postbus 2001", "NL"),
    ("Posbus 1234", "ZA"),
    ("Postboks 6054 Etterstad", "NO"),
    ("Postilokero 100", "FI"),
    ("PL 100", "FI"),
    ("Pósthólf 1200", "IS"),
    ("Pf. 123", "HU"),
    ("Postafiók 55", "HU"),
    ("Poštovní přihrádka 12", "CZ"),
    ("Căsuța poștală 22", "RO"),
    ("Poštanski pretinac 88", "HR"),
    ("Poštni predal 301", "SI"),
    ("p.p. 25", "HR"),
    ("Posta Kutusu 12", "TR"),
    ("Τ.Θ. 1234", "GR"),
    ("а/я 15", "RU"),
    ("Абонентский ящик 123", "RU"),
    ("п/я 44", "RU"),
    ("а/с 120", "UA"),
    ("Пощенска кутия 88", "BG"),
    ("ص.ب 1234", "AE"),
    ("صندوق بريد 5678", "SA"),
    ("ת.ד. 3456", "IL"),
    ("私書箱 第12号", "JP"),
    ("香港中央郵政信箱 1234", "HK"),
    ("사서함 100", "KR"),
    ("Kotak Pos 1000", "ID"),
    ("Peti Surat 10250", "MY"),
    ("Poste restante", "FR"),
    ("postlagernd", "DE"),
    ("General Delivery", "CA"),
    ("Lista de Correos", "ES"),
    ("c/o Müller", "DE"),
    ("C/O Jane Smith, 12 High Street", "GB"),
    ("℅ Acme Ltd", "GB"),
    ("care of Mr. John Brown", "US"),
    ("In care of Maria Lopez", "US"),
    ("z. Hd. Frau Schmidt", "DE"),
    ("zu Händen Herrn Weber", "DE"),
    ("p.A. Meier AG", "CH"),
    ("per Adresse Huber", "CH"),
    ("p/a De Vries", "NL"),
    ("Chez M. Dupont", "FR"),
    ("aux bons soins de Mme Leroy", "FR"),
    ("a/c Juan Pérez", "ES"),
    ("en casa de Carmen Ruiz", "ES"),
    ("presso Studio Rossi", "IT"),
]

# Ordinary streets that merely contain the same letters: each must pass.
ORDINARY_STREETS = [
    ("Rosenweg 221", "DE"),
    ("apt. 33", "DE"),
    ("Boxhagener Straße 12", "DE"),
    ("Postplatz 1", "DE"),
    ("Poststraße 5", "DE"),
    ("Postfachweg 3", "DE"),
    ("Box Hill Road 17", "AU"),
    ("Boxwood Lane 4", "US"),
    ("12 Post Office Road", "GB"),
    ("Pobrežní 3", "CZ"),
    ("ul. Pocztowa 5", "PL"),
    ("ul. Skrzyneckiego 8", "PL"),
    ("Apartment 4B, 221 Baker Street", "GB"),
    ("Apartamento 3, Rua Augusta 90", "PT"),
    ("Apto. 12, Calle Mayor 5", "ES"),
    ("Calle del Apartadero 9", "ES"),
    ("Calle Casilla 5", "ES"),
    ("C/ O'Donnell 12", "ES"),
    ("C/ Olmo 4", "ES"),
    ("Av. Paseo de la Reforma 505, C.P. 06500", "MX"),
    ("Av. Santa Fe 1234, CP 1425", "AR"),
    ("Rua Augusta 90, C.P. 1100", "PT"),
    ("B.P. Koirala Marg 5", "NP"),
    ("Via Casella 12", "IT"),
    ("Via della Posta 5", "IT"),
    ("Rue de la Poste 3", "FR"),
    ("Chemin de la Boîte 4", "CH"),
    ("Cobourg Street 5", "GB"),
    ("Costa Street 8", "US"),
    ("Novo Nordisk A/S, Novo Allé 1", "DK"),
    ("Postbusweg 2", "NL"),
    ("Placa de Catalunya 1", "ES"),
    ("pl. Grunwaldzki 3", "PL"),
    ("Tverskaya ulitsa 7, kv. 12", "RU"),
    ("Тверская улица 7, кв. 12", "RU"),
    ("Odos Ermou 24", "GR"),
    ("Οδός Ερμού 24", "GR"),
    ("Presseweg 4", "DE"),
    ("Chemin des Bonnes Soeurs 2", "FR"),
    ("Careof Lane 3", "US"),
    ("Kotakinabalu Road 3", "MY"),
]


@pytest.mark.parametrize(("line", "country"), PO_BOXES_AND_CARE_OF)
def test_po_boxes_and_care_of_are_detected(line: str, country: str) -> None:
    assert po_box_or_care_of(line, country) is not None


@pytest.mark.parametrize(("line", "country"), ORDINARY_STREETS)
def test_ordinary_streets_pass(line: str, country: str) -> None:
    assert po_box_or_care_of(line, country) is None


def test_the_problem_names_what_was_found() -> None:
    assert address_line_problem("Postfach 10 01 52", "DE") == (
        "must not be a P.O. box or c/o address (found: Postfach)"
    )
    assert address_line_problem(None, "DE") is None


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (NOW, None),
        (NOW - timedelta(days=365), None),
        (datetime(2024, 6, 15, 12, 0, tzinfo=UTC), None),  # exactly 24 months
        (datetime(2024, 6, 15, 11, 59, tzinfo=UTC), "must not be older than 24 months"),
        (datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC), "must not be older than 24 months"),
        (NOW + timedelta(minutes=4), None),  # provider clock skew
        (NOW + timedelta(hours=1), "must not be in the future"),
    ],
)
def test_check_confirmed_at(value: datetime, problem: str | None) -> None:
    assert confirmed_at_problem(value, NOW) == problem


def test_months_before_falls_back_to_the_end_of_a_short_month() -> None:
    assert months_before(datetime(2026, 2, 28, tzinfo=UTC), 24) == datetime(2024, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2024, 2, 29, tzinfo=UTC), 24) == datetime(2022, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2030-01-01", date(2030, 1, 1)), ("2028-02-29", date(2028, 2, 29))],
)
def test_strict_iso_date_accepts_real_dates(value: str, expected: date) -> None:
    assert strict_iso_date(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "2030-02-30",
        "2027-02-29",
        "2030-13-01",
        "2030-1-1",
        "01.01.2030",
        "2030-01-01T00:00:00",
        20300101,
        "",
    ],
)
def test_strict_iso_date_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        strict_iso_date(value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (date(2030, 1, 1), None),
        (NOW.date(), None),  # valid through its last day
        (NOW.date() - timedelta(days=1), "must not be in the past (the document has expired)"),
    ],
)
def test_document_expiration_date(value: date, problem: str | None) -> None:
    assert expiration_problem(value, NOW.date()) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (date(2026, 1, 1), None),
        (NOW.date(), None),
        (NOW.date() + timedelta(days=1), "must not be in the future"),
    ],
)
def test_issuance_date(value: date, problem: str | None) -> None:
    assert issuance_problem(value, NOW.date()) == problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://bucket.customer.com/ident/user3.zip", None),
        ("HTTPS://bucket.customer.com/x.zip?sig=abc", None),
        ("http://bucket.customer.com/ident/user3.zip", "must be an https URL"),
        ("https: //bucket.customer.com/por/user3.zip", "must be an https URL without spaces"),
        ("ftp://bucket.customer.com/x.zip", "must be an https URL"),
        ("bucket.customer.com/x.zip", "must be an https URL"),
        ("https:///x.zip", "must be an https URL naming a host"),
        ("https://user:pw@bucket.customer.com/x.zip", "must not contain credentials"),
        ("https://bucket.customer.com:abc/x.zip", "must be a valid https URL"),
        ("https://b.example/" + "a" * 2000, "must be at most 2000 characters"),
    ],
)
def test_data_download_link(url: str, problem: str | None) -> None:
    assert https_url_problem(url) == problem
