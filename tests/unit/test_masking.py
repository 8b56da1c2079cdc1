"""Pages show logins masked: an ID number or a phone never whole on a screen."""

from __future__ import annotations

from examengine.ids import masked


def test_an_id_number_keeps_its_first_six_and_last_four() -> None:
    assert masked("11010519491231002X") == "110105********002X"


def test_a_phone_keeps_its_first_three_and_last_four() -> None:
    assert masked("13800000001") == "138****0001"


def test_a_staff_login_is_shown_as_it_is() -> None:
    assert masked("operator1") == "operator1"
