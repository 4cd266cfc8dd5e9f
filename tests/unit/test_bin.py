"""The business identification number (BIN): 12 digits whose last one is a check digit.

The expected check digits below are worked out by hand from the official algorithm
(weights 1..11, sum mod 11; if 10, weights 3..11,1,2; if 10 again, no check digit exists),
so these tests do not merely repeat the implementation.
"""

from __future__ import annotations

import pytest

from domain.base import InvalidValue
from domain.tenants import bin_check_digit, validate_bin
from services.api.errors import status_of


def test_the_check_digit_is_the_weighted_sum_mod_eleven():
    # 9*1 + 7*2 + 0*3 + 1*4 + 4*5 + 0*6 + 0*7 + 0*8 + 0*9 + 0*10 + 1*11 = 58; 58 mod 11 = 3
    assert bin_check_digit("97014000001") == 3


def test_a_first_pass_remainder_of_ten_falls_back_to_the_second_weights():
    # Pass 1: 1+4+9+16+25+36+49+64+81+0+11 = 296; 296 mod 11 = 10 -> pass 2.
    # Pass 2 (weights 3..11,1,2): 3+8+15+24+35+48+63+80+99+0+2 = 377; 377 mod 11 = 3
    assert bin_check_digit("12345678901") == 3


def test_eleven_digits_that_give_ten_on_both_passes_have_no_check_digit():
    # Pass 1: 2*9 + 8*10 + 1*11 = 109; 109 mod 11 = 10.
    # Pass 2: 2*11 + 8*1 + 1*2 = 32; 32 mod 11 = 10.
    assert bin_check_digit("00000000281") is None


@pytest.mark.parametrize("value", ["970140000013", "123456789013", "000000000010"])
def test_a_bin_with_its_correct_check_digit_is_accepted_unchanged(value):
    assert validate_bin(value) == value


@pytest.mark.parametrize("good", ["970140000013", "123456789013"])
def test_every_other_last_digit_is_refused_as_a_wrong_check_digit(good):
    for digit in "0123456789":
        candidate = good[:11] + digit
        if candidate == good:
            continue
        with pytest.raises(InvalidValue) as refused:
            validate_bin(candidate)
        assert refused.value.field == "bin"
        assert "check digit" in refused.value.detail


@pytest.mark.parametrize("last", list("0123456789"))
def test_no_twelfth_digit_makes_a_valid_bin_of_eleven_digits_without_a_check_digit(last):
    with pytest.raises(InvalidValue) as refused:
        validate_bin("00000000281" + last)
    assert refused.value.field == "bin"


@pytest.mark.parametrize(
    "value",
    [
        "97014000001a",  # a letter
        "9701400000 3",  # a space
        "970140-00013",  # a dash
        "９７０１４０００００１３",  # full-width digits: str.isdigit() says yes, a BIN says no
        "٩٧٠١٤٠٠٠٠٠١٣",  # Arabic-Indic digits
        "+97014000013",
    ],
)
def test_a_bin_with_anything_but_ascii_digits_is_refused(value):
    with pytest.raises(InvalidValue) as refused:
        validate_bin(value)
    assert refused.value.field == "bin"
    assert status_of(refused.value) == 422


@pytest.mark.parametrize("value", ["", "97014000001", "9701400000130", "0" * 11, "1" * 20])
def test_a_bin_that_is_not_exactly_twelve_digits_long_is_refused(value):
    with pytest.raises(InvalidValue) as refused:
        validate_bin(value)
    assert refused.value.field == "bin"
    assert "12 digits" in refused.value.detail
