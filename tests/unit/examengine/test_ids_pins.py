"""The GB 11643 check character is defined for exactly 17 digits: fewer or more is a
programming error, refused rather than given a wrong check (found by mutation testing)."""

from __future__ import annotations

import pytest

from examengine.ids import check_character


def test_the_check_character_of_the_standards_example() -> None:
    assert check_character("11010519491231002") == "X"


@pytest.mark.parametrize("digits", ["1101051949123100", "110105194912310021"])
def test_the_check_character_refuses_anything_but_seventeen_digits(digits: str) -> None:
    with pytest.raises(ValueError):
        check_character(digits)
