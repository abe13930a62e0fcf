"""One reference's body scanned into its fields, each error with its position. Pure.

The body is what follows ``ssm:`` or ``secretsmanager:``: a name or an ARN, then a selector
(parameters) or ``:key:stage:version-id`` (secrets). ``_grammar`` builds the references.
"""

from __future__ import annotations

from dataclasses import dataclass

from awsrefs.errors import RefSyntaxError

__all__ = ["Scanner", "scan_secret", "scan_ssm"]

_DIGITS = frozenset("0123456789")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_SSM_LABEL = _ALNUM | frozenset("_.-")
_STAGE = _ALNUM | frozenset("/_+=.@-")
_VERSION_ID = _ALNUM | frozenset("-")
_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


class Scanner:
    """Walks text[start:end], raising RefSyntaxError with positions in the whole string.

    Args:
        text: The string that holds the reference.
        start: Where the scan starts in ``text``.
        end: Where the reference ends in ``text``.
        fragment: The reference as errors show it (the value, or the ``${...}`` part).
        offset: Where ``fragment`` starts in ``text``.
    """

    def __init__(self, text: str, start: int, end: int, fragment: str, offset: int) -> None:
        self.text = text
        self.i = start
        self.end = end
        self.fragment = fragment
        self.offset = offset

    def fail(self, expected: str, at: int | None = None) -> RefSyntaxError:
        return RefSyntaxError(
            self.fragment, self.i if at is None else at, expected, offset=self.offset
        )

    def at_end(self) -> bool:
        return self.i >= self.end

    def peek(self) -> str:
        return self.text[self.i] if self.i < self.end else ""

    def literal(self, word: str, expected: str) -> None:
        if not self.text.startswith(word, self.i) or self.i + len(word) > self.end:
            raise self.fail(expected)
        self.i += len(word)

    def run(self, allowed: frozenset[str]) -> str:
        start = self.i
        while self.i < self.end and self.text[self.i] in allowed:
            self.i += 1
        return self.text[start : self.i]

    def field(self) -> tuple[int, str]:
        """The text up to the next ':' (not consumed) and where it started."""
        start = self.i
        stop = self.text.find(":", start, self.end)
        self.i = self.end if stop < 0 else stop
        return start, self.text[start : self.i]


def _parse_arn(s: Scanner, service: str) -> None:
    """Consume ``arn:partition:service:region:account:`` with positions for each part."""
    s.literal("arn:", "'arn:'")
    at, partition = s.field()
    if partition not in _PARTITIONS:
        raise s.fail("an ARN partition (aws, aws-cn or aws-us-gov)", at)
    s.literal(":", "':' after the partition")
    at, svc = s.field()
    if svc != service:
        raise s.fail(f"the ARN service '{service}'", at)
    s.literal(":", "':' after the service")
    at, region = s.field()
    pieces = region.split("-")
    if len(pieces) < 3 or not all((p.isalnum() and p.islower()) or p.isdigit() for p in pieces):
        raise s.fail("an AWS region such as 'us-east-1'", at)
    s.literal(":", "':' after the region")
    at, account = s.field()
    if len(account) != 12 or not account.isdigit():
        raise s.fail("a 12-digit account id", at)
    s.literal(":", "':' after the account id")


@dataclass(frozen=True, slots=True)
class _NameRule:
    """What a parameter or secret name may be, and what its ARN holds before it."""

    service: str  # the service an ARN must name
    resource: str  # what an ARN has after the account id, before the name
    allowed: frozenset[str]  # the characters of the name itself
    maximum: int  # the most characters of the name itself (the ARN prefix not counted)
    expected: str  # what an empty name lacks


_SSM_NAME = _NameRule(
    "ssm",
    "parameter/",
    _ALNUM | frozenset("_.-/"),
    2048,
    "a parameter name (letters, digits and _.-/)",
)
_SECRET_NAME = _NameRule(
    "secretsmanager",
    "secret:",
    _ALNUM | frozenset("/_+=.@-"),
    512,
    "a secret name (letters, digits and /_+=.@-)",
)


def _scan_name(s: Scanner, rule: _NameRule) -> str:
    """Consume a name, or an ARN ending in one, and return it whole (the ARN included)."""
    start = s.i
    if s.text.startswith("arn:", s.i):
        _parse_arn(s, rule.service)
        s.literal(rule.resource, f"'{rule.resource}' after the account id")
    body = s.i
    s.run(rule.allowed)
    if s.i == body:
        raise s.fail(rule.expected)
    if s.i - body > rule.maximum:
        at = body + rule.maximum  # the first character too many
        raise s.fail(f"the end of the name (at most {rule.maximum} characters)", at)
    return s.text[start : s.i]


def scan_ssm(s: Scanner) -> tuple[str, str | None]:
    """Scan a parameter reference's body (after ``ssm:``) up to its end.

    Returns:
        The name (ARN included) and the version number or label, or None.

    Raises:
        RefSyntaxError: The body is malformed.
    """
    name = _scan_name(s, _SSM_NAME)
    selector = None
    if not s.at_end():
        s.literal(":", "a parameter name character (letters, digits and _.-/) or ':'")
        sel_start = s.i
        if s.peek() in _DIGITS:
            s.run(_DIGITS)
            expected = "a version number (digits only)"
        else:
            s.run(_SSM_LABEL)
            expected = "a version number or label (letters, digits and _.-)"
        selector = s.text[sel_start : s.i]
        if not selector or not s.at_end():
            raise s.fail(expected)
    return name, selector


def scan_secret(s: Scanner) -> tuple[str, str | None, str | None, str | None]:
    """Scan a secret reference's body (after ``secretsmanager:``) up to its end.

    Returns:
        The secret id (ARN included), then the JSON key, staging label and version id that
        may follow it after ':', each None when absent or empty.

    Raises:
        RefSyntaxError: The body is malformed.
    """
    secret_id = _scan_name(s, _SECRET_NAME)
    fields: list[str] = []
    checks = (
        (None, "a JSON key"),
        (_STAGE, "a staging label (letters, digits and /_+=.@-)"),
        (_VERSION_ID, "a version id (letters, digits and -)"),
    )
    while not s.at_end():
        if len(fields) == len(checks):
            raise s.fail("the end of the reference (at most :key:stage:version-id)")
        s.literal(":", "a secret name character (letters, digits and /_+=.@-) or ':'")
        allowed, expected = checks[len(fields)]
        at, value = s.field()
        for pos, char in enumerate(value, at):
            bad = char in "{}" or char.isspace() if allowed is None else char not in allowed
            if bad:
                raise s.fail(expected, pos)
        fields.append(value)
    fields += [""] * (len(checks) - len(fields))
    key, stage, version_id = (f or None for f in fields)
    return secret_id, key, stage, version_id
