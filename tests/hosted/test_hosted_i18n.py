"""The flow's catalogue and language choice."""

from __future__ import annotations

import pytest

from kycd.hosted import i18n


def test_every_language_has_every_message_with_the_same_placeholders() -> None:
    import string

    def fields(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for code, catalogue in i18n.CATALOGUES.items():
        assert set(catalogue) == set(i18n.EN), code
        for key, text in catalogue.items():
            assert fields(text) == fields(i18n.EN[key]), (code, key)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("de-AT", "de"),
        ("fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "de"),
        ("en-GB,de;q=0.9", "en"),
        ("fr", "en"),
        ("de;q=0,en;q=0.1", "en"),
        ("*", "en"),
    ],
)
def test_accept_language(header: str | None, language: str) -> None:
    assert i18n.negotiate(header) == language


def test_an_explicit_choice_beats_the_browser() -> None:
    assert i18n.pick_language("de", None, "en") == "de"
    assert i18n.pick_language(None, "de", "en") == "de"
    assert i18n.pick_language("xx", None, "de") == "de"


def test_reject_labels_in_plain_words() -> None:
    t = i18n.translator("de")
    assert "unscharf" in i18n.label_text(t, "UNSATISFACTORY_PHOTOS")
    assert i18n.label_text(t, "SOMETHING_NEW") == i18n.DE["label.other"]
