from sentiment.signals import (
    find_insult,
    find_signals,
    has_profanity,
    mentions_handle,
)


def kinds(text: str) -> dict[str, str]:
    return {s.kind: s.evidence for s in find_signals(text)}


def test_time_pressure_keeps_the_phrase_an_agent_reads():
    found = kinds("@SkywayAir my flight leaves in 2 hours and you cancelled it")
    assert found["time_pressure"] == "my flight leaves in 2 hours"


def test_double_charge_is_a_money_signal():
    assert "charged me twice" in kinds("@NimbusBank you charged me twice!!")["money"]


def test_hacked_account_and_outage_and_safety_and_legal():
    assert "account_security" in kinds("I think my account was hacked, unknown sign-in")
    assert "outage" in kinds("is it down? anyone else having issues")
    assert "safety" in kinds("there is smoke in the cabin, this is unsafe")
    assert "legal" in kinds("I am calling my lawyer tomorrow")


def test_a_calm_question_has_no_signals():
    assert find_signals("Does your lounge have showers?") == ()


def test_dangling_evidence_is_completed():
    assert kinds("stuck at the gate for 3 hrs")["travel_disruption"] == "stuck at the gate"


def test_describe_reads_like_an_agent_note():
    (signal,) = [s for s in find_signals("you charged me twice") if s.kind == "money"]
    assert signal.describe() == "money: 'charged me twice'"


def test_insult_and_profanity_are_told_apart():
    assert find_insult("you are a clown") == "you are a clown"
    assert find_insult("where the fuck is my bag") is None
    assert has_profanity("where the fuck is my bag")


def test_handles_other_than_tweeteval_placeholder_count_as_addressed():
    assert mentions_handle("@SkywayAir hi")
    assert not mentions_handle("@user hi")
