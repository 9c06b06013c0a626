"""The editor settings and the configs through the one converter (texpaste.typed): typed, strict,
one sentence per mistake, null and missing keys keep what was there."""

from __future__ import annotations

import typing

import pytest

from texpaste.editor.settings import Settings
from texpaste.editor.wrapping import MODES, WrapOptions
from texpaste.typed import describe


def test_settings_read_their_json_keys_over_a_base():
    base = Settings(model="texpaste-small", candidates=3)
    s = Settings.from_dict(
        {"mode": "inline", "showErrors": False, "screenshotCommand": ["maim", "-s", "%f"], "device": None},
        base=base,
    )
    assert (s.model, s.candidates, s.mode, s.show_errors) == ("texpaste-small", 3, "inline", False)
    assert s.screenshot_command == ["maim", "-s", "%f"] and s.device is None
    assert base.mode == "auto"  # the base is not changed
    assert Settings.from_dict({"model": ""}, base=base).model is None  # "" is the default
    assert Settings.from_dict({"delimiters": {"tex": {"display": "equation"}}}).wrap == WrapOptions.from_dict(
        {"tex": {"display": "equation"}}
    )
    # what other clients send along is not ours and not a mistake
    assert Settings.from_dict({"trace": "verbose", "serverCommand": "x", "pasteProvider": True}) == Settings()


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"candidates": 0}, "'candidates' must be a whole number from 1 to 16 (got 0)"),
        ({"candidates": True}, "candidates must be a whole number, not True"),
        ({"candidates": "3"}, "candidates must be a whole number, not '3' (quoted)"),
        ({"mode": "sideways"}, "mode must be one of auto, inline, display, raw, not 'sideways'"),
        ({"showErrors": "no"}, "showErrors must be true or false"),
        ({"model": 3}, "model must be a string or empty, not 3"),
        ({"screenshotCommand": "maim -s"}, "screenshotCommand must be a list of strings or empty"),
        ({"screenshotCommand": []}, "'screenshotCommand' must be a list of strings"),
        ({"delimiters": {"tex": {"inline": "brackets"}}}, "'tex.inline' must be one of"),
    ],
)
def test_a_bad_setting_is_one_sentence_naming_it(raw, words):
    with pytest.raises(ValueError) as info:
        Settings.from_dict(raw)
    message = str(info.value)
    assert words in message and message.endswith(".") and ". " not in message.rstrip(".")


def test_unknown_settings_are_logged_and_ignored(caplog):
    assert Settings.from_dict({"candidate": 3}) == Settings()
    assert "ignoring unknown setting 'candidate'" in caplog.text


def test_the_mode_setting_lists_the_wrapping_modes():
    assert typing.get_args(typing.get_type_hints(Settings)["mode"]) == MODES
    assert describe(list[str] | None) == "a list of strings or empty"
