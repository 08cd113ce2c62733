"""Chat messages as a transcript prompt for a base model, within the model's window."""

from __future__ import annotations

import pytest

from ragworks.services.chat import ContextLengthExceeded, Message, build_prompt


def words(text: str) -> int:
    return len(text.split())


def test_transcript_ends_with_the_assistant_turn() -> None:
    messages = [
        Message("system", "Be brief."),
        Message("user", "Hi"),
        Message("assistant", "Hello."),
        Message("user", "What is ATP?"),
    ]

    prompt = build_prompt(messages, words, budget=100)

    assert prompt == "System: Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: What is ATP?\nAssistant:"


def test_developer_messages_count_as_system() -> None:
    prompt = build_prompt([Message("developer", "Rules."), Message("user", "Q")], words, budget=100)

    assert prompt.startswith("System: Rules.\n\n")


def test_oldest_turns_are_dropped_to_fit_and_system_text_stays() -> None:
    messages = [
        Message("system", "Be brief."),
        Message("user", "one two three four five six"),
        Message("assistant", "seven eight nine ten"),
        Message("user", "last question"),
    ]

    prompt = build_prompt(messages, words, budget=8)

    assert prompt == "System: Be brief.\n\nUser: last question\nAssistant:"


def test_a_conversation_that_cannot_fit_is_a_400() -> None:
    with pytest.raises(ContextLengthExceeded) as raised:
        build_prompt([Message("user", "word " * 50)], words, budget=10)

    assert raised.value.status_code == 400
