"""The hosted flow's words, in English and German. Pure.

A gettext-style catalogue small enough to read: one dictionary per language,
the English one complete, every other one checked against it by the tests.
The language comes from ``?lang=`` (remembered in a cookie), else from the
browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

from collections.abc import Callable

DEFAULT_LANGUAGE = "en"

EN: dict[str, str] = {
    "title": "Identity verification",
    "skip": "Skip to content",
    "language": "Language",
    "intro": "{partner} asks you to verify your identity. It takes a few minutes: have your identity document ready.",
    "steps_heading": "Your steps",
    "step.questionnaire": "Personal details",
    "step.identity_doc": "Identity document",
    "step.selfie": "Photo of yourself",
    "step.poa": "Proof of address",
    "state.open": "To do",
    "state.retry": "Please try again",
    "state.waiting": "Handed in, being checked",
    "state.done": "Accepted",
    "state.refused": "Not accepted",
    "optional": "optional",
    "start": "Start",
    "retry": "Try again",
    "continue": "Continue",
    "submit": "Send",
    "back": "Back to the overview",
    "all_done": "Thank you: you have handed in everything we need. We will check it and let {partner} know.",
    "return": "Return to {partner}",
    "finished.approved": "Your verification is complete.",
    "finished.closed": "This verification is closed. If you have questions, contact {partner}.",
    "retry_heading": "Some things need to be done again",
    "consent.heading": "Before you start",
    "consent.notice": "To verify your identity, {partner} and its verification service process the personal details, document images and photo you provide here. They are used only to check who you are and to meet legal duties against money laundering and fraud, stored securely, and kept only as long as the law requires. You may ask {partner} for access to your data, its correction or deletion where the law allows.",
    "consent.checkbox": "I have read the privacy notice and agree that my data is processed for identity verification.",
    "consent.required": "Please tick the box to continue.",
    "form.errors": "Please correct the fields marked below.",
    "field.first_name": "First name(s)",
    "field.last_name": "Last name",
    "field.date_of_birth": "Date of birth",
    "field.nationality": "Nationality",
    "field.country_of_residence": "Country of residence",
    "field.tax_country": "Country where you pay taxes",
    "field.occupation": "Occupation",
    "field.source_of_funds": "Main source of your money",
    "field.email": "E-mail address",
    "field.phone": "Phone number (international, with +)",
    "field.address_line1": "Street and house number",
    "field.address_postal_code": "Postal code",
    "field.address_city": "City",
    "field.address_country": "Country",
    "field.document_type": "Type of document",
    "field.issuing_country": "Issuing country",
    "field.document_number": "Document number",
    "field.expiry_date": "Valid until",
    "field.mrz": "Machine-readable zone (optional)",
    "field.mrz_hint": "The lines with <<< at the bottom of the photo page or the back of the card, exactly as printed.",
    "field.front": "Front side (photo page)",
    "field.back": "Back side",
    "field.back_hint": "Not needed for a passport.",
    "field.selfie": "Photo of your face",
    "field.poa_type": "Type of document",
    "field.poa_file": "Document (photo or PDF)",
    "choose": "Please choose",
    "doc.PASSPORT": "Passport",
    "doc.ID_CARD": "Identity card",
    "doc.DRIVERS_LICENSE": "Driving licence",
    "doc.RESIDENCE_PERMIT": "Residence permit",
    "doc.UTILITY_BILL": "Utility bill",
    "doc.BANK_STATEMENT": "Bank statement",
    "doc.PROOF_OF_ADDRESS": "Other proof of address",
    "source.SALARY": "Salary",
    "source.SAVINGS": "Savings",
    "source.BUSINESS": "Business income",
    "source.PENSION": "Pension",
    "source.INHERITANCE": "Inheritance or gift",
    "source.INVESTMENTS": "Investments",
    "source.OTHER": "Other",
    "photo_tips": "Use good light, hold the camera steady, and make sure all four corners and all text are visible and sharp.",
    "selfie_tips": "Look straight into the camera, without glasses or a hat, in good light.",
    "error.required": "This field is required.",
    "error.invalid": "Please check this field: {detail}",
    "error.date": "Please give a date such as 1990-05-31.",
    "error.country": "Please choose a country.",
    "error.file_type": "The file must be a photo (JPEG, PNG or WebP){pdf}.",
    "error.file_type_pdf": " or a PDF",
    "error.file_size": "The file is larger than {limit} MB.",
    "error.file_unreadable": "The file could not be read as a picture.",
    "error.document_number": "Letters and digits only, up to 40.",
    "link.unknown.title": "This link is not valid",
    "link.unknown.body": "Please check that you opened the complete link you received, or ask {partner} for a new one.",
    "link.unknown.partner": "the company that sent it",
    "link.expired.title": "This link has expired",
    "link.expired.body": "For your security, verification links work for a limited time only. Please ask for a new link.",
    "error.title": "Something went wrong",
    "error.already": "This step has already been handed in.",
    "label.LOW_QUALITY": "The picture is too small or the file could not be used. Please take a larger, clearer photo.",
    "label.UNSATISFACTORY_PHOTOS": "The photo is blurry. Please take it again in good light and hold the camera steady.",
    "label.EXPIRATION_DATE": "The document has expired. Please use a valid document.",
    "label.AGE_REQUIREMENT_MISMATCH": "You must be at least 18 years old. Please check your date of birth.",
    "label.ID_INVALID": "The machine-readable zone you typed is not valid. Please copy it again exactly as printed.",
    "label.REQUESTED_DATA_MISMATCH": "The details you gave do not match your document. Please check them.",
    "label.DOCUMENT_PAGE_MISSING": "A page or side of the document is missing. Please upload both sides.",
    "label.BAD_PROOF_OF_IDENTITY": "The identity document could not be accepted. Please upload another one.",
    "label.BAD_PROOF_OF_ADDRESS": "The proof of address could not be accepted. Please upload a recent one showing your name and address.",
    "label.BAD_SELFIE": "The photo of your face could not be accepted. Please take a new one.",
    "label.BAD_FACE_MATCHING": "The photo of your face could not be matched to your document. Please take a new one.",
    "label.SCREENSHOTS": "Screenshots cannot be accepted. Please photograph the document itself.",
    "label.FRONT_SIDE_MISSING": "The front side of the document is missing.",
    "label.BACK_SIDE_MISSING": "The back side of the document is missing.",
    "label.INCOMPLETE_DOCUMENT": "The document is incomplete or partly hidden. Please show the whole document.",
    "label.other": "This step could not be accepted. Please do it again.",
}

DE: dict[str, str] = {
    "title": "Identitätsprüfung",
    "skip": "Zum Inhalt springen",
    "language": "Sprache",
    "intro": "{partner} bittet Sie, Ihre Identität zu bestätigen. Das dauert wenige Minuten: Halten Sie Ihr Ausweisdokument bereit.",
    "steps_heading": "Ihre Schritte",
    "step.questionnaire": "Persönliche Angaben",
    "step.identity_doc": "Ausweisdokument",
    "step.selfie": "Foto von Ihnen",
    "step.poa": "Adressnachweis",
    "state.open": "Offen",
    "state.retry": "Bitte erneut versuchen",
    "state.waiting": "Eingereicht, wird geprüft",
    "state.done": "Akzeptiert",
    "state.refused": "Nicht akzeptiert",
    "optional": "freiwillig",
    "start": "Beginnen",
    "retry": "Erneut versuchen",
    "continue": "Weiter",
    "submit": "Senden",
    "back": "Zurück zur Übersicht",
    "all_done": "Vielen Dank: Sie haben alles Nötige eingereicht. Wir prüfen es und informieren {partner}.",
    "return": "Zurück zu {partner}",
    "finished.approved": "Ihre Identitätsprüfung ist abgeschlossen.",
    "finished.closed": "Diese Prüfung ist geschlossen. Bei Fragen wenden Sie sich an {partner}.",
    "retry_heading": "Einiges muss noch einmal erledigt werden",
    "consent.heading": "Bevor Sie beginnen",
    "consent.notice": "Um Ihre Identität zu prüfen, verarbeiten {partner} und sein Prüfdienst die persönlichen Angaben, Dokumentbilder und das Foto, die Sie hier angeben. Sie werden nur verwendet, um zu prüfen, wer Sie sind, und um gesetzliche Pflichten gegen Geldwäsche und Betrug zu erfüllen, sicher gespeichert und nur so lange aufbewahrt, wie es das Gesetz verlangt. Sie können von {partner} Auskunft, Berichtigung oder, wo das Gesetz es erlaubt, Löschung Ihrer Daten verlangen.",
    "consent.checkbox": "Ich habe die Datenschutzhinweise gelesen und bin einverstanden, dass meine Daten zur Identitätsprüfung verarbeitet werden.",
    "consent.required": "Bitte setzen Sie das Häkchen, um fortzufahren.",
    "form.errors": "Bitte korrigieren Sie die markierten Felder.",
    "field.first_name": "Vorname(n)",
    "field.last_name": "Nachname",
    "field.date_of_birth": "Geburtsdatum",
    "field.nationality": "Staatsangehörigkeit",
    "field.country_of_residence": "Wohnsitzland",
    "field.tax_country": "Land, in dem Sie Steuern zahlen",
    "field.occupation": "Beruf",
    "field.source_of_funds": "Wichtigste Herkunft Ihres Geldes",
    "field.email": "E-Mail-Adresse",
    "field.phone": "Telefonnummer (international, mit +)",
    "field.address_line1": "Straße und Hausnummer",
    "field.address_postal_code": "Postleitzahl",
    "field.address_city": "Ort",
    "field.address_country": "Land",
    "field.document_type": "Art des Dokuments",
    "field.issuing_country": "Ausstellungsland",
    "field.document_number": "Dokumentnummer",
    "field.expiry_date": "Gültig bis",
    "field.mrz": "Maschinenlesbare Zone (freiwillig)",
    "field.mrz_hint": "Die Zeilen mit <<< unten auf der Datenseite oder auf der Rückseite der Karte, genau wie gedruckt.",
    "field.front": "Vorderseite (Datenseite)",
    "field.back": "Rückseite",
    "field.back_hint": "Für einen Reisepass nicht nötig.",
    "field.selfie": "Foto Ihres Gesichts",
    "field.poa_type": "Art des Dokuments",
    "field.poa_file": "Dokument (Foto oder PDF)",
    "choose": "Bitte wählen",
    "doc.PASSPORT": "Reisepass",
    "doc.ID_CARD": "Personalausweis",
    "doc.DRIVERS_LICENSE": "Führerschein",
    "doc.RESIDENCE_PERMIT": "Aufenthaltstitel",
    "doc.UTILITY_BILL": "Versorgerrechnung",
    "doc.BANK_STATEMENT": "Kontoauszug",
    "doc.PROOF_OF_ADDRESS": "Anderer Adressnachweis",
    "source.SALARY": "Gehalt",
    "source.SAVINGS": "Ersparnisse",
    "source.BUSINESS": "Geschäftseinkommen",
    "source.PENSION": "Rente",
    "source.INHERITANCE": "Erbschaft oder Schenkung",
    "source.INVESTMENTS": "Kapitalanlagen",
    "source.OTHER": "Sonstiges",
    "photo_tips": "Sorgen Sie für gutes Licht, halten Sie die Kamera ruhig und achten Sie darauf, dass alle vier Ecken und der ganze Text sichtbar und scharf sind.",
    "selfie_tips": "Schauen Sie direkt in die Kamera, ohne Brille und Kopfbedeckung, bei gutem Licht.",
    "error.required": "Dieses Feld ist erforderlich.",
    "error.invalid": "Bitte prüfen Sie dieses Feld: {detail}",
    "error.date": "Bitte geben Sie ein Datum wie 1990-05-31 an.",
    "error.country": "Bitte wählen Sie ein Land.",
    "error.file_type": "Die Datei muss ein Foto sein (JPEG, PNG oder WebP){pdf}.",
    "error.file_type_pdf": " oder ein PDF",
    "error.file_size": "Die Datei ist größer als {limit} MB.",
    "error.file_unreadable": "Die Datei konnte nicht als Bild gelesen werden.",
    "error.document_number": "Nur Buchstaben und Ziffern, höchstens 40.",
    "link.unknown.title": "Dieser Link ist ungültig",
    "link.unknown.body": "Bitte prüfen Sie, ob Sie den vollständigen Link geöffnet haben, oder bitten Sie {partner} um einen neuen.",
    "link.unknown.partner": "das Unternehmen, das ihn gesendet hat",
    "link.expired.title": "Dieser Link ist abgelaufen",
    "link.expired.body": "Zu Ihrer Sicherheit sind Prüfungslinks nur begrenzt gültig. Bitte fordern Sie einen neuen Link an.",
    "error.title": "Etwas ist schiefgelaufen",
    "error.already": "Dieser Schritt wurde bereits eingereicht.",
    "label.LOW_QUALITY": "Das Bild ist zu klein oder die Datei war nicht verwendbar. Bitte machen Sie ein größeres, klareres Foto.",
    "label.UNSATISFACTORY_PHOTOS": "Das Foto ist unscharf. Bitte machen Sie es bei gutem Licht erneut und halten Sie die Kamera ruhig.",
    "label.EXPIRATION_DATE": "Das Dokument ist abgelaufen. Bitte verwenden Sie ein gültiges Dokument.",
    "label.AGE_REQUIREMENT_MISMATCH": "Sie müssen mindestens 18 Jahre alt sein. Bitte prüfen Sie Ihr Geburtsdatum.",
    "label.ID_INVALID": "Die eingegebene maschinenlesbare Zone ist ungültig. Bitte übertragen Sie sie noch einmal genau wie gedruckt.",
    "label.REQUESTED_DATA_MISMATCH": "Ihre Angaben stimmen nicht mit Ihrem Dokument überein. Bitte prüfen Sie sie.",
    "label.DOCUMENT_PAGE_MISSING": "Eine Seite des Dokuments fehlt. Bitte laden Sie beide Seiten hoch.",
    "label.BAD_PROOF_OF_IDENTITY": "Das Ausweisdokument konnte nicht akzeptiert werden. Bitte laden Sie ein anderes hoch.",
    "label.BAD_PROOF_OF_ADDRESS": "Der Adressnachweis konnte nicht akzeptiert werden. Bitte laden Sie einen aktuellen mit Ihrem Namen und Ihrer Adresse hoch.",
    "label.BAD_SELFIE": "Das Foto Ihres Gesichts konnte nicht akzeptiert werden. Bitte machen Sie ein neues.",
    "label.BAD_FACE_MATCHING": "Das Foto Ihres Gesichts passte nicht zu Ihrem Dokument. Bitte machen Sie ein neues.",
    "label.SCREENSHOTS": "Bildschirmfotos werden nicht akzeptiert. Bitte fotografieren Sie das Dokument selbst.",
    "label.FRONT_SIDE_MISSING": "Die Vorderseite des Dokuments fehlt.",
    "label.BACK_SIDE_MISSING": "Die Rückseite des Dokuments fehlt.",
    "label.INCOMPLETE_DOCUMENT": "Das Dokument ist unvollständig oder teilweise verdeckt. Bitte zeigen Sie das ganze Dokument.",
    "label.other": "Dieser Schritt konnte nicht akzeptiert werden. Bitte erledigen Sie ihn erneut.",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "de": DE}
LANGUAGES = tuple(CATALOGUES)
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}

Translate = Callable[..., str]


def translator(language: str) -> Translate:
    catalogue = CATALOGUES.get(language, EN)

    def t(key: str, **values: object) -> str:
        text = catalogue.get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    return t


def label_text(t: Translate, label: str) -> str:
    """A reject label in plain words; labels without a sentence get the generic one."""
    text = t(f"label.{label}")
    return text if text != f"label.{label}" else t("label.other")


def negotiate(accept_language: str | None) -> str:
    """The best of :data:`LANGUAGES` for an ``Accept-Language`` header (RFC 9110
    quality values; ``de-AT`` counts as ``de``)."""
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        # Earlier tags win ties, as browsers list them in order of preference.
        score = q - position * 1e-6
        if primary in CATALOGUES and q > 0 and score > best_q:
            best, best_q = primary, score
    return best


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    for choice in (query, cookie):
        if choice in CATALOGUES:
            return str(choice)
    return negotiate(accept_language)
