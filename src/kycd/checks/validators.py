# ruff: noqa: RUF001 - the patterns are written in the scripts customers use.
"""Pure rules for user checks (seed 004): no I/O, no database, no clock of their own.

* :func:`po_box_or_care_of` finds P.O. box, poste restante and c/o forms in an
  address line, in the languages customers write them, without catching
  ordinary streets that merely contain the same letters ("Boxhagener Straße",
  "ul. Pocztowa", "Apartamento 3", "B.P. Koirala Marg").
* :func:`confirmed_at_problem`, :func:`expiration_problem`,
  :func:`issuance_problem` and :func:`strict_iso_date` are the date rules.
* :func:`https_url_problem` is the shape of an evidence link; whether its host
  may be reached is :mod:`kycd.core.safe_http`'s business.

Every rule returns a message fit for a 400 (or ``None``), so the schemas and
the worker share one wording.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

# A provider's clock may run a little ahead of ours; a confirmation stamped a
# few minutes "in the future" is skew, not fraud.
CLOCK_SKEW = timedelta(minutes=5)
MAX_CHECK_AGE_MONTHS = 24
MAX_URL_LENGTH = 2000


def fold(text: str) -> str:
    """Lower-case and drop diacritics, so "Boîte", "BOITE" and "boite" compare equal.

    NFKD also spells compatibility characters out: "℅" becomes "c/o".
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Recompose what has no marks to drop: Hangul syllables decompose into jamo.
    return unicodedata.normalize("NFC", stripped).casefold()


@dataclass(frozen=True)
class _Form:
    label: str
    pattern: re.Pattern[str]
    # Countries where the same letters mean something harmless (None: everywhere).
    not_in: frozenset[str] = frozenset()


def _form(label: str, pattern: str, not_in: frozenset[str] = frozenset()) -> _Form:
    # Patterns are written against folded text (lower case, no diacritics).
    return _Form(label, re.compile(pattern, re.IGNORECASE), not_in)


# "C.P." is a post-office box in French, Italian, Romanian and Brazilian
# Portuguese, but "código postal" (the postcode) in Spanish and Portuguese
# addresses: "Av. Paseo de la Reforma 505, C.P. 06500".
_CODIGO_POSTAL_COUNTRIES = frozenset(
    [
        "AR",
        "BO",
        "CL",
        "CO",
        "CR",
        "CU",
        "DO",
        "EC",
        "ES",
        "GQ",
        "GT",
        "HN",
        "MX",
        "NI",
        "PA",
        "PE",
        "PR",
        "PT",
        "PY",
        "SV",
        "UY",
        "VE",
    ]
)

# "Calle Casilla 5" is a street; "Casilla 5" alone, or after a comma, is a box.
_SEGMENT_START = r"(?:^|[,;])\s*"

# Each form names what it found, so a partner sees why an address was refused.
_FORMS: tuple[_Form, ...] = (
    # English, and the international "P.O. Box" used across Europe and Asia.
    _form("P.O. Box", r"\bp\s*\.?\s*o\s*\.?\s*b(?:ox\b|\.|\s*\d|$)"),
    _form("P.O. Box", r"\bpobox\b"),
    _form("P.O. Box", r"\bpost\s+office\s+box\b"),
    _form("GPO Box", r"\bg\s*\.?\s*p\s*\.?\s*o\s*\.?\s*box\b"),
    _form("Locked Bag / Private Bag", r"\b(?:locked|private)\s+bag\b"),
    _form("PMB (private mailbox)", r"\bpmb\s*#?\s*\d"),
    # Swedish "Box 1234" and the U.S. rural "Box 12": only a line that starts so,
    # never "Box Hill Road".
    _form("Box", r"^\s*box\s*#?\s*\d"),
    _form("Postbox", r"\bpostbox\s*\d"),
    # German.
    _form("Postfach", r"\bpostfach\b"),
    _form("Postfach", r"\bpostschliessfach\b"),
    _form("Postfach", r"\bpostf\.\s*\d"),
    _form("Packstation", r"\bpackstation\b"),
    # French.
    _form("Boîte postale", r"\bboite\s+postale\b"),
    _form("BP (boîte postale)", r"\bb\s*\.?\s*p\s*\.?\s*\d"),
    _form("Case postale", r"\bcase\s+postale\b"),
    # Italian, and C.P. in French, Italian, Romanian, Brazilian addresses.
    _form("Casella postale", r"\bcasella\s+postale\b"),
    _form("Casella postale", r"\bcas\.\s*post\."),
    _form(
        "C.P. (case / casella / caixa postale)",
        r"\bc\s*\.?\s*p\s*\.?\s*\d",
        _CODIGO_POSTAL_COUNTRIES,
    ),
    # Spanish and Portuguese.
    _form("Apartado", r"\bapartado\s+(?:de\s+correos?|postal|aereo)\b"),
    _form("Apartado", _SEGMENT_START + r"apartado\s*(?:n[o.º°]*\s*)?\d"),
    _form("Apartado", r"\bap(?:t)?do\.?\s*(?:de\s+correos?\s*|postal\s*)?(?:n[o.º°]*\s*)?\d"),
    _form("Apartado", r"\bap(?:t)?do\.?\s+(?:de\s+correos?|postal)\b"),
    _form("Casilla", r"\bcasilla\s+(?:de\s+correos?|postal)\b"),
    _form("Casilla", _SEGMENT_START + r"casilla\s*(?:n[o.º°]*\s*)?\d"),
    _form("Caixa postal", r"\bcaixa\s+postal\b"),
    # Polish.
    _form("Skrytka pocztowa", r"\bskrytka\b"),
    _form("Skrytka pocztowa", r"\bskr\.\s*poczt\b"),
    # Dutch, Afrikaans, Scandinavian, Finnish, Icelandic, Estonian.
    _form("Postbus", r"\bpostbus\s*\d"),
    _form("Posbus", r"\bposbus\b"),
    _form("Postboks", r"\bpostboks\b"),
    _form("Postilokero", r"\bpostilokero\b"),
    _form("PL (postilokero)", r"^\s*pl\s+\d+\s*$"),
    _form("Pósthólf", r"\bpostholf\b"),
    # Central and south-east Europe.
    _form("Postafiók", r"\bpostafiok\b"),
    _form("Pf. (postafiók)", r"\bpf\.\s*\d"),
    _form("Poštovní přihrádka", r"\bpostovni\s+prihradka\b"),
    _form("Poštový priečinok", r"\bpostovy\s+priecinok\b"),
    _form("Căsuța poștală", r"\bcasuta\s+postala\b"),
    _form("Poštanski pretinac", r"\bpostanski\s+(?:pretinac|fah)\b"),
    _form("Poštni predal", r"\bpostni\s+predal\b"),
    _form("P.P. (poštanski pretinac)", r"\bp\.\s*p\.\s*\d"),
    _form("Posta kutusu", r"\bposta\s+kutusu\b"),
    _form("P.K. (posta kutusu)", r"\bp\.\s*k\.\s*\d"),
    _form("Pašto dėžutė", r"\bpasto\s+dezute\b"),
    _form("Pasta kastīte", r"\bpasta\s+kastite\b"),
    # Greek, Cyrillic.
    _form("Τ.Θ. (ταχυδρομική θυρίδα)", r"(?<!\w)τ\s*\.\s*θ\s*\.?"),
    _form("Ταχυδρομική θυρίδα", r"\bταχυδρομικη\s+θυριδα\b"),
    _form("а/я (абонентский ящик)", r"(?<!\w)[ап]\s*/\s*я(?!\w)"),
    _form("Абонентский ящик", r"\bабонентск\w*\s+(?:ящик|скриньк\w*)"),
    _form("Почтовый ящик", r"\bпочтов\w*\s+ящик"),
    _form("а/с (абонентська скринька)", r"(?<!\w)а\s*/\s*с(?!\w)"),
    _form("Пощенска кутия", r"\bпощенска\s+кутия\b"),
    _form("Поштански фах", r"\bпоштански\s+(?:фах|преградак)\b"),
    # Arabic, Hebrew, Asian scripts.
    _form("ص.ب (صندوق بريد)", r"(?<!\w)ص(?:\s*\.\s*|\s+)ب(?!\w)"),
    _form("صندوق بريد", r"صندوق\s+بريد"),
    _form("ת.ד. (תא דואר)", r"(?<!\w)ת\s*[.\"״']\s*ד(?!\w)"),
    _form("תא דואר", r"תא\s+דואר"),
    _form("私書箱", r"私書箱"),
    _form("邮政信箱", r"[邮郵]政信箱"),
    _form("사서함", r"사서함"),
    _form("Kotak pos", r"\bkotak\s+pos\b"),
    _form("Peti surat", r"\bpeti\s+surat\b"),
    # Poste restante: collected at a post office, no residence either.
    _form("Poste restante", r"\bposte\s+restante\b"),
    _form("Poste restante", r"\bpostlagernd\b"),
    _form("Poste restante", r"\bgeneral\s+delivery\b"),
    _form("Poste restante", r"\blista\s+de\s+correos\b"),
    # Care of: the customer does not live there, someone else receives the mail.
    # Not "C/ O'Donnell 12": in Spain "C/" is "calle".
    _form("c/o", r"(?<!\w)c\s*/\s*o(?![\w'’])"),
    _form("c/o", r"\b(?:in\s+)?care\s+of\b"),
    _form("c/o (zu Händen)", r"\bz\s*\.?\s*hd\b\.?"),
    _form("c/o (zu Händen)", r"\bzu\s+handen\b"),
    _form("c/o (per Adresse)", r"\bp\.\s*a(?:dr)?\b"),
    _form("c/o (per Adresse)", r"\bper\s+adres(?:se)?\b"),
    _form("c/o (per adres)", r"(?<!\w)p\s*/\s*a(?!\w)"),
    _form("c/o (chez)", r"^\s*chez\b"),
    _form("c/o (aux bons soins de)", r"\baux\s+bons\s+soins\b"),
    _form("c/o (a/c)", r"(?<!\w)a\s*/\s*c(?!\w)"),
    _form("c/o (en casa de)", r"\ben\s+casa\s+de\b"),
    _form("c/o (presso)", r"^\s*presso\b"),
)


def po_box_or_care_of(line: str, country: str | None = None) -> str | None:
    """The P.O. box or c/o form found in one address line, or None."""
    text = fold(line)
    country = (country or "").upper()
    for form in _FORMS:
        if country in form.not_in:
            continue
        if form.pattern.search(text):
            return form.label
    return None


def address_line_problem(line: str | None, country: str | None) -> str | None:
    if not line:
        return None
    found = po_box_or_care_of(line, country)
    if found is None:
        return None
    return f"must not be a P.O. box or c/o address (found: {found})"


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment ``months`` earlier; the 29th-31st fall back to
    the last day of a shorter month."""
    total = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            day -= 1


def confirmed_at_problem(value: datetime, now: datetime) -> str | None:
    """``check_confirmed_at``: not in the future and not older than 24 months."""
    if value > now + CLOCK_SKEW:
        return "must not be in the future"
    if value < months_before(now, MAX_CHECK_AGE_MONTHS):
        return f"must not be older than {MAX_CHECK_AGE_MONTHS} months"
    return None


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def strict_iso_date(value: object) -> date:
    """A calendar date written exactly ``YYYY-MM-DD`` (no time, no other format).

    Raises ValueError for "2030-1-1", "01.01.2030", "2030-02-30" and numbers.
    """
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError("must be a date in YYYY-MM-DD format")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError("must be a real calendar date (YYYY-MM-DD)") from exc


def expiration_problem(value: date, today: date) -> str | None:
    """``document_expiration_date``: the document must still be valid today."""
    if value < today:
        return "must not be in the past (the document has expired)"
    return None


def issuance_problem(value: date, today: date) -> str | None:
    """``issuance_date`` of a proof of residence: not in the future."""
    if value > today:
        return "must not be in the future"
    return None


def https_url_problem(value: str) -> str | None:
    """``data_download_link``: an absolute https URL naming a host, no credentials."""
    if len(value) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if any(c.isspace() for c in value):
        return "must be an https URL without spaces"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is what raises on "host:abc"
    except ValueError:
        return "must be a valid https URL"
    if parts.scheme.lower() != "https":
        return "must be an https URL"
    if not parts.hostname:
        return "must be an https URL naming a host"
    if parts.username or parts.password:
        return "must not contain credentials"
    return None
