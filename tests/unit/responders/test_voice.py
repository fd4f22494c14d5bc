import json

import pytest

from responders.voice import Voice, VoiceError, VoiceSettings, load_voice

SETTINGS = {
    "brand": "Skyway",
    "greeting": "Hi {handle},",
    "sign_off": "– {brand} Care",
    "dm_invitation": "DM us",
    "support_link": "https://skyway.example/help",
    "products": ["Skyway app"],
}


def test_a_voice_loads_from_json_settings() -> None:
    voice = load_voice(json.dumps(SETTINGS))
    assert voice == Voice(
        brand="Skyway",
        greeting="Hi {handle},",
        sign_off="– {brand} Care",
        dm_invitation="DM us",
        support_link="https://skyway.example/help",
        products=("Skyway app",),
    )
    assert voice.render_sign_off() == "– Skyway Care"
    assert load_voice(SETTINGS) == voice


def test_the_greeting_drops_a_missing_handle_tidily() -> None:
    voice = Voice(brand="Skyway", greeting="Hi {handle}, from {brand}!")
    assert voice.render_greeting("@kim") == "Hi @kim, from Skyway!"
    assert voice.render_greeting("") == "Hi, from Skyway!"


def test_a_misspelt_placeholder_is_refused_before_it_reaches_a_customer() -> None:
    with pytest.raises(VoiceError, match=r"\{name\}.*\{brand\}, \{handle\}"):
        Voice(brand="Skyway", greeting="Hi {name},")
    with pytest.raises(VoiceError, match="sign_off"):
        load_voice({**SETTINGS, "sign_off": "^{agent}"})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"brand": ""}, "brand"),
        ({"support_link": "skyway.example/help"}, "support_link"),
        ({"support_link": "https://skyway.example/a b"}, "support_link"),
        ({"colour": "blue"}, "colour"),
        ({"products": [""]}, "products"),
    ],
)
def test_bad_settings_name_the_field_at_fault(changes: dict[str, object], field: str) -> None:
    with pytest.raises(VoiceError, match=field):
        load_voice({**SETTINGS, **changes})


def test_settings_that_are_not_json_say_so() -> None:
    with pytest.raises(VoiceError, match="not valid JSON"):
        load_voice("{brand: Skyway")


def test_settings_strip_stray_whitespace() -> None:
    settings = VoiceSettings.model_validate({"brand": "  Skyway "})
    assert settings.to_voice().brand == "Skyway"
