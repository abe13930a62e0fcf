"""The reference grammar: turns setting strings into references. Pure; never imports boto3.

Here: the reference types, escapes, white space rules and templates; ``_scanner`` reads the body
of one reference (name or ARN, selector, key, stage, version id).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from awsrefs._scanner import Scanner, scan_secret, scan_ssm
from awsrefs.errors import RefSyntaxError

__all__ = [
    "LITERAL_PREFIX",
    "OPTIONAL_PREFIX",
    "SECRETS_MANAGER_PREFIX",
    "SSM_PREFIX",
    "Ref",
    "SSMRef",
    "SecretRef",
    "Template",
    "parse",
    "split_selector",
    "text_of",
]

SSM_PREFIX = "ssm:"
SECRETS_MANAGER_PREFIX = "secretsmanager:"
OPTIONAL_PREFIX = "optional:"
LITERAL_PREFIX = "literal:"
_REF_PREFIXES = (SSM_PREFIX, SECRETS_MANAGER_PREFIX)
# A value starting with one of these is taken verbatim after "literal:".
_ESCAPABLE = (SSM_PREFIX, SECRETS_MANAGER_PREFIX, OPTIONAL_PREFIX, LITERAL_PREFIX)
_TEMPLATE_OPENERS = tuple("${" + p for p in (*_REF_PREFIXES, OPTIONAL_PREFIX))


# Set while the parser builds a reference from text it has just checked; a reference built
# from fields (SecretRef("arn:x")) is checked by _check_fields instead.
_parsed = threading.local()
_ARNS = {
    "ssm": re.compile(r"arn:(aws|aws-cn|aws-us-gov):ssm:[a-z0-9-]+:\d{12}:parameter/\S+"),
    "secretsmanager": re.compile(
        r"arn:(aws|aws-cn|aws-us-gov):secretsmanager:[a-z0-9-]+:\d{12}:secret:\S+"
    ),
}


def _check_fields(ref: SSMRef | SecretRef) -> None:
    """Check the shape of a reference built from fields; raise RefSyntaxError where it is wrong.

    Only the shape: every field text, not empty, without white space, and a name with ':' only
    as a whole ARN of the right service. AWS judges the characters of names (it makes some
    itself that the text grammar does not take, such as RDS's ``rds!db-...`` secrets).
    """
    if getattr(_parsed, "on", False):
        return
    ssm = isinstance(ref, SSMRef)
    cls = type(ref).__name__
    names = ("name", "selector") if ssm else ("secret_id", "key", "stage", "version_id")
    text = str(ref) if all(isinstance(getattr(ref, n), (str, type(None))) for n in names) else ""
    start = text.index(":") + 1 if text else 0  # after "ssm:" or "secretsmanager:"
    if text.startswith(OPTIONAL_PREFIX):
        start = text.index(":", len(OPTIONAL_PREFIX)) + 1
    for number, name in enumerate(names):
        given = getattr(ref, name)
        if given is None and number > 0:
            continue
        if not isinstance(given, str):
            raise TypeError(f"{cls}({name}=...) takes text (str), not {type(given).__name__}")
        if number > 0:
            start = text.index(given, start) if given else start
        bad = _first_bad(given, arn=number == 0 and given.startswith("arn:"))
        if not given:
            raise RefSyntaxError(text, start, f"{cls}({name}=...) not empty (None leaves it out)")
        if bad >= 0:
            what = (
                "':' (it separates the parts)"
                if given[bad] == ":"
                else "white space or control characters"
            )
            raise RefSyntaxError(text, start + bad, f"{cls}({name}=...) without {what}")
        if number == 0 and given.startswith("arn:"):
            service = "ssm" if ssm else "secretsmanager"
            if not _ARNS[service].fullmatch(given):
                resource = "parameter/NAME" if ssm else "secret:NAME"
                raise RefSyntaxError(
                    text,
                    start,
                    f"an ARN such as arn:aws:{service}:REGION:ACCOUNT:{resource}",
                )
        start += len(given)


def _first_bad(value: str, *, arn: bool) -> int:
    """Index of the first white space or control character (or ':' outside an ARN), else -1."""
    for i, char in enumerate(value):
        if char.isspace() or ord(char) < 32 or 127 <= ord(char) < 160 or (char == ":" and not arn):
            return i
    return -1


def _set_arn_fields(ref: Any, identifier: str) -> None:
    """Fill a frozen reference's derived ``region`` and ``account`` from an ARN identifier."""
    if identifier.startswith("arn:"):
        _, _, _, region, account, _ = identifier.split(":", 5)
        object.__setattr__(ref, "region", region)
        object.__setattr__(ref, "account", account)


@dataclass(frozen=True, slots=True)
class SSMRef:
    """A Systems Manager parameter.

    Attributes:
        name: Parameter name (``/a/b`` or ``name``) or its full ARN.
        selector: Version number or label (``"3"``, ``"prod"``), or None for the latest.
        optional: A missing parameter drops the setting instead of failing.
        region: Region named by the ARN, or None to use the resolver's region.
        account: Account named by the ARN, or None.
    """

    name: str
    selector: str | None = None
    optional: bool = False
    region: str | None = field(default=None, init=False, compare=False, repr=False)
    account: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_fields(self)
        _set_arn_fields(self, self.name)

    @property
    def api_name(self) -> str:
        """The name as GetParameters takes it, selector included."""
        return f"{self.name}:{self.selector}" if self.selector else self.name

    def __str__(self) -> str:
        return (OPTIONAL_PREFIX if self.optional else "") + SSM_PREFIX + self.api_name


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A Secrets Manager secret, or one top-level key of a JSON secret.

    Attributes:
        secret_id: Secret name or ARN (full or partial).
        key: Top-level JSON key, or None for the whole secret.
        stage: Staging label (``AWSPREVIOUS``, ``AWSPENDING``...), or None for ``AWSCURRENT``.
        version_id: Version id, or None.
        optional: A missing secret or key drops the setting instead of failing.
        region: Region named by the ARN, or None to use the resolver's region.
        account: Account named by the ARN, or None.
    """

    secret_id: str
    key: str | None = None
    stage: str | None = None
    version_id: str | None = None
    optional: bool = False
    region: str | None = field(default=None, init=False, compare=False, repr=False)
    account: str | None = field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_fields(self)
        _set_arn_fields(self, self.secret_id)

    @property
    def is_current(self) -> bool:
        """True when this names the AWSCURRENT version (batchable with BatchGetSecretValue)."""
        return self.version_id is None and self.stage in (None, "AWSCURRENT")

    def __str__(self) -> str:
        text = SECRETS_MANAGER_PREFIX + self.secret_id
        key = self.key or ""
        if self.version_id:
            text += f":{key}:{self.stage or ''}:{self.version_id}"
        elif self.stage:
            text += f":{key}:{self.stage}"
        elif self.key:
            text += f":{key}"
        return (OPTIONAL_PREFIX if self.optional else "") + text


Ref: TypeAlias = SSMRef | SecretRef


@dataclass(frozen=True, slots=True)
class Template:
    """A string with ``${reference}`` parts, or an escaped literal.

    Attributes:
        parts: Literal text and references, in order.
    """

    parts: tuple[str | SSMRef | SecretRef, ...]

    @property
    def refs(self) -> tuple[Ref, ...]:
        """The references in this template, in order."""
        return tuple(p for p in self.parts if not isinstance(p, str))

    def render(self, values: dict[Ref, Any]) -> str:
        """Join the parts, each reference replaced by its value as text."""
        return "".join(p if isinstance(p, str) else text_of(values[p]) for p in self.parts)

    def __str__(self) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            literal = self.parts[0]
            if _is_escapable(literal):
                return LITERAL_PREFIX + literal
        out = []
        for part in self.parts:
            if isinstance(part, str):
                for opener in _TEMPLATE_OPENERS:
                    part = part.replace(opener, "$" + opener)
                out.append(part)
            else:
                out.append("${" + str(part) + "}")
        return "".join(out)


def split_selector(api_name: str) -> tuple[str, str | None]:
    """Split ``name:selector`` (a GetParameters name) into the name and the selector."""
    arn = api_name.startswith("arn:")
    if (arn and api_name.count(":") > 5) or (not arn and ":" in api_name):
        name, selector = api_name.rsplit(":", 1)
        return name, selector
    return api_name, None


def text_of(value: Any) -> str:
    """A resolved value as text, for use inside a template.

    Args:
        value: None (empty text), text, UTF-8 bytes, or a JSON value (written as JSON).

    Raises:
        ValueError: ``value`` is bytes that are not UTF-8; the error holds no byte of it.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass  # raised below, outside the handler: the decode error (and bytes) not chained
        raise ValueError("the value is binary and not UTF-8 text")
    import json  # not at import time: ``import awsrefs`` stays light

    return json.dumps(value)


def parse(text: str) -> SSMRef | SecretRef | Template | None:
    """Parse one setting value.

    Args:
        text: The setting value.

    Returns:
        An :class:`SSMRef` or :class:`SecretRef` when the whole value is a reference, a
        :class:`Template` when it contains ``${...}`` references or is an escaped literal, or
        None when it is plain text that stays as it is.

    Raises:
        RefSyntaxError: The value starts like a reference but is malformed; the error says
            where and what was expected.
    """
    if not isinstance(text, str):
        # Never the value itself: bytes may well be a secret.
        raise TypeError(f"awsrefs.parse() takes a str, not {type(text).__name__}")
    if text.startswith(LITERAL_PREFIX) and _is_escapable(text[len(LITERAL_PREFIX) :]):
        return Template((text[len(LITERAL_PREFIX) :],))
    _check_spacing(text)
    if text.startswith(_REF_PREFIXES):
        return _parse_ref(text, 0, len(text), optional=False, whole=text, offset=0)
    if text.startswith(OPTIONAL_PREFIX) and text.startswith(_REF_PREFIXES, len(OPTIONAL_PREFIX)):
        return _parse_ref(text, len(OPTIONAL_PREFIX), len(text), True, text, 0)
    if "${" in text:
        return _parse_template(text)
    return None


def _is_escapable(rest: str) -> bool:
    """True when ``literal:`` + ``rest`` is the escape (white space before a prefix too)."""
    return rest.lstrip().startswith(_ESCAPABLE)


def _starts_like_ref(text: str, at: int = 0) -> bool:
    if text.startswith(_REF_PREFIXES, at):
        return True
    if not text.startswith(OPTIONAL_PREFIX, at):
        return False
    rest = text[at + len(OPTIONAL_PREFIX) :].lstrip()
    return rest.startswith(_REF_PREFIXES) or rest.startswith(OPTIONAL_PREFIX)


def _check_spacing(text: str) -> None:
    """A reference with white space around it, or ``optional:`` twice, is an error.

    Silently taking ``" ssm:/a"`` as plain text would hand the reference text to the app
    as its value; stripping it would hide a typo. So both are errors with the position.
    """
    start = len(text) - len(text.lstrip())
    if not _starts_like_ref(text, start):
        return
    if start:
        raise RefSyntaxError(
            text,
            0,
            "the reference at the very start of the value, without white space before it "
            "(write literal: before a value that must start this way)",
        )
    body = len(OPTIONAL_PREFIX) if text.startswith(OPTIONAL_PREFIX) else 0
    if body:
        rest = text[body:]
        if rest[:1].isspace():
            raise RefSyntaxError(text, body, "'ssm:' or 'secretsmanager:' right after 'optional:'")
        if rest.startswith(OPTIONAL_PREFIX):
            raise RefSyntaxError(
                text, body, "'ssm:' or 'secretsmanager:' after 'optional:' (written once)"
            )
    end = len(text.rstrip())
    if end < len(text):
        raise RefSyntaxError(text, end, "the end of the reference (no white space after it)")


def _parse_template(text: str) -> Template | None:
    parts: list[str | SSMRef | SecretRef] = []
    literal: list[str] = []
    changed = False
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i) and text.startswith(_TEMPLATE_OPENERS, i + 1):
            literal.append("${")
            changed = True
            i += 3
        elif text.startswith(_TEMPLATE_OPENERS, i):
            end = text.find("}", i + 2)
            if end < 0:
                opener = next(o for o in _TEMPLATE_OPENERS if text.startswith(o, i))
                raise RefSyntaxError(
                    opener, n, "'}' closing the reference", offset=i, unclosed=True
                )
            start = i + 2
            optional = text.startswith(OPTIONAL_PREFIX, start)
            if optional:
                start += len(OPTIONAL_PREFIX)
                if not text.startswith(_REF_PREFIXES, start):
                    raise RefSyntaxError(
                        text[i : end + 1], start, "'ssm:' or 'secretsmanager:'", offset=i
                    )
            ref = _parse_ref(text, start, end, optional, text[i : end + 1], i)
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(ref)
            changed = True
            i = end + 1
        elif text.startswith("${", i) and text[i + 2 : i + 3].isspace():
            start = i + 2 + len(text[i + 2 :]) - len(text[i + 2 :].lstrip())
            if _starts_like_ref(text, start):
                # "${ ssm:/a}" would otherwise stay as written, like "${HOME}".
                raise RefSyntaxError(
                    text[i:start] + text[start : start + 4],
                    i + 2,
                    "the reference right after '${', without white space",
                    offset=i,
                )
            literal.append(text[i])
            i += 1
        else:
            literal.append(text[i])
            i += 1
    if not changed:
        return None
    if literal:
        parts.append("".join(literal))
    return Template(tuple(parts))


def _parse_ref(
    text: str, start: int, end: int, optional: bool, whole: str, offset: int
) -> SSMRef | SecretRef:
    """The reference ``ssm:...`` or ``secretsmanager:...`` at text[start:end]."""
    s = Scanner(text, start, end, whole, offset)
    ssm = text.startswith(SSM_PREFIX, start)
    s.i += len(SSM_PREFIX) if ssm else len(SECRETS_MANAGER_PREFIX)
    was, _parsed.on = getattr(_parsed, "on", False), True  # scanned: valid by construction
    try:
        if ssm:
            return SSMRef(*scan_ssm(s), optional)
        return SecretRef(*scan_secret(s), optional)
    finally:
        _parsed.on = was
