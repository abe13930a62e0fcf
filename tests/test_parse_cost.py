"""Parsing takes work linear in the length of the text.

Before, each ``${`` followed by white space copied the rest of the string (``"${ x"`` x 128k
took a minute) and every character went through the Python loop one by one (a 10 MB string
with one ``${`` took seconds). The work is counted here, never timed: a ``str`` subclass
records how many characters parsing copies out of the text, and that count must grow in
proportion to the input.
"""

from __future__ import annotations

import contextlib
from typing import Any, SupportsIndex

import pytest

from awsrefs import RefSyntaxError, Template, parse


class CountingText(str):
    """Text that counts the characters sliced or stripped out of it."""

    copied = 0

    def __getitem__(self, key: SupportsIndex | slice) -> str:
        piece = super().__getitem__(key)
        CountingText.copied += len(piece)
        return piece

    def _count(self, result: str) -> str:
        CountingText.copied += len(result)
        return result

    def lstrip(self, chars: Any = None) -> str:
        return self._count(super().lstrip(chars))

    def rstrip(self, chars: Any = None) -> str:
        return self._count(super().rstrip(chars))

    def strip(self, chars: Any = None) -> str:
        return self._count(super().strip(chars))


def copied_by_parse(text: str) -> int:
    CountingText.copied = 0
    with contextlib.suppress(RefSyntaxError):
        parse(CountingText(text))
    return CountingText.copied


INPUTS = {
    "spaced openers": lambda n: "${ x" * n,
    "openers with words": lambda n: "${Note: x}" * n,
    "escapes": lambda n: "$${ssm:/a}" * n,
    "references": lambda n: "${ssm:/a}-" * n,
    "url references": lambda n: "${url:optional:ssm:/a}/" * n,
    "one opener at the end": lambda n: "a" * (8 * n) + "${",
    "unclosed after text": lambda n: "x" * (8 * n) + "${ssm:/a",
    "white space runs": lambda n: "${ " + " " * (8 * n) + "x",
    "long word": lambda n: "a" * (8 * n) + ":",
    "long word in opener": lambda n: "${" + "a" * (8 * n) + " :",
}


@pytest.mark.parametrize("make", INPUTS.values(), ids=INPUTS.keys())
def test_parse_copies_at_most_a_few_times_the_text(make):
    small, large = make(2_000), make(16_000)
    # Eight times the text: at most about eight times the work (quadratic would be 64).
    assert copied_by_parse(large) <= 10 * max(copied_by_parse(small), len(small))
    assert copied_by_parse(large) <= 4 * len(large)


def test_the_reported_inputs_parse_in_one_pass():
    # Sizes that took minutes with the quadratic scan; here they are only checked for their
    # result (the test would hang for minutes if the scan were quadratic again).
    assert parse("${ x" * 256_000) is None
    assert parse("a" * 10_000_000 + "${") is None
    many = parse("${ssm:/a}/" * 100_000)
    assert isinstance(many, Template)
    assert len(many.refs) == 100_000
