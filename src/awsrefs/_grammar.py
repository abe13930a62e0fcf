"""The reference grammar: turns setting strings into references. Pure; never imports boto3.

Here: the reference types, escapes, white space rules, templates and mistyped prefixes, and
the :class:`Scanner` that reads the body of one reference (what follows ``ssm:`` or
``secretsmanager:``: a name or ARN, then a selector, or ``:key:stage:version-id`` for a
secret) into its fields, each error with its position.

Parsing takes time linear in the length of the text: the template scan jumps from one ``${`` to
the next with ``str.find``, and each look at a prefix reads a bounded number of characters (or
white space that no other look reads), never the rest of the string.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from awsrefs.errors import RefSyntaxError

__all__ = [
    "LITERAL_PREFIX",
    "OPTIONAL_PREFIX",
    "SECRETS_MANAGER_PREFIX",
    "SSM_PREFIX",
    "URL_PREFIX",
    "QuotedRef",
    "Ref",
    "SSMRef",
    "Scanner",
    "SecretRef",
    "Template",
    "parse",
    "scan_secret",
    "scan_ssm",
    "split_selector",
    "text_of",
]


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


SSM_PREFIX = "ssm:"
SECRETS_MANAGER_PREFIX = "secretsmanager:"
OPTIONAL_PREFIX = "optional:"
LITERAL_PREFIX = "literal:"
URL_PREFIX = "url:"
_REF_PREFIXES = (SSM_PREFIX, SECRETS_MANAGER_PREFIX)
_MODIFIERS = (OPTIONAL_PREFIX, URL_PREFIX)
# A value starting with one of these is taken verbatim after "literal:" (so is one that
# starts with a mistyped prefix, or with "url:" before a reference).
_ESCAPABLE = (SSM_PREFIX, SECRETS_MANAGER_PREFIX, OPTIONAL_PREFIX, LITERAL_PREFIX)
_SPACE = re.compile(r"\s*")
# A word that may be a mistyped prefix: letters (with - or _), white space, ':'. The word is
# at most 30 characters, so a look at one reads a bounded part of the text (plus white space).
_PREFIX_WORD = re.compile(r"([A-Za-z][A-Za-z_-]{0,29})(\s*):")
# One letter off 'ssm' but real words and URL schemes: never taken for a mistyped 'ssm:'.
_NOT_SSM = frozenset({"ssh", "sms", "ssl", "sam", "scm", "sso", "sse", "sts", "sns"})
_SSM_BODY_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
_SECRET_BODY_START = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-"
)


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
class QuotedRef:
    """A template part written ``${url:<reference>}``: the value, percent-encoded for a URL.

    Every character but the unreserved ``A-Z a-z 0-9 _ . - ~`` is encoded (as UTF-8), so a
    password such as ``p@ss:w/rd?#%`` stays one URL component and reads back exactly.

    Attributes:
        ref: The reference whose value is encoded.
    """

    ref: Ref

    def __str__(self) -> str:
        return "${" + URL_PREFIX + str(self.ref) + "}"


@dataclass(frozen=True, slots=True)
class Template:
    """A string with ``${reference}`` parts, or an escaped literal.

    Attributes:
        parts: Literal text, references (``${...}``) and URL-quoted references
            (``${url:...}``), in order.
    """

    parts: tuple[str | SSMRef | SecretRef | QuotedRef, ...]

    @property
    def refs(self) -> tuple[Ref, ...]:
        """The references in this template, in order."""
        return tuple(
            p.ref if isinstance(p, QuotedRef) else p for p in self.parts if not isinstance(p, str)
        )

    def render(self, values: dict[Ref, Any]) -> str:
        """Join the parts, each reference replaced by its value as text (``url:``: quoted)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, QuotedRef):
                out.append(url_quote(text_of(values[part.ref])))
            else:
                out.append(text_of(values[part]))
        return "".join(out)

    def __str__(self) -> str:
        if len(self.parts) == 1 and isinstance(self.parts[0], str):
            literal = self.parts[0]
            if _is_escapable(literal, 0):
                return LITERAL_PREFIX + literal
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(_escape_openers(part))
            elif isinstance(part, QuotedRef):
                out.append(str(part))
            else:
                out.append("${" + str(part) + "}")
        return "".join(out)


def url_quote(text: str) -> str:
    """``text`` percent-encoded as one URL component (``/``, ``@``, ``:``, ``%`` included)."""
    from urllib.parse import quote  # not at import time: ``import awsrefs`` stays light

    # surrogatepass: text with a lone surrogate (possible from JSON) is encoded, not an error
    # whose message would carry the value.
    return quote(text, safe="", errors="surrogatepass")


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
        RefSyntaxError: The value starts like a reference but is malformed, or starts with
            a mistyped prefix (``SSM:/a``, ``secretmanager:a``, ``${optinal:ssm:/a}``); the
            error says where and what was expected.
    """
    if not isinstance(text, str):
        # Never the value itself: bytes may well be a secret.
        raise TypeError(f"awsrefs.parse() takes a str, not {type(text).__name__}")
    if text.startswith(LITERAL_PREFIX) and _is_escapable(text, len(LITERAL_PREFIX)):
        return Template((text[len(LITERAL_PREFIX) :],))
    _check_start(text)
    if text.startswith(_REF_PREFIXES):
        return _parse_ref(text, 0, len(text), optional=False, whole=text, offset=0)
    if text.startswith(OPTIONAL_PREFIX) and text.startswith(_REF_PREFIXES, len(OPTIONAL_PREFIX)):
        return _parse_ref(text, len(OPTIONAL_PREFIX), len(text), True, text, 0)
    if "${" in text:
        return _parse_template(text)
    return None


def _skip_space(text: str, at: int) -> int:
    """The index of the first character at or after ``at`` that is not white space."""
    match = _SPACE.match(text, at)
    assert match is not None  # r"\s*" matches everywhere
    return match.end()


def _is_escapable(text: str, at: int) -> bool:
    """True when ``literal:`` + ``text[at:]`` is the escape (white space before a prefix too)."""
    at = _skip_space(text, at)
    return (
        text.startswith(_ESCAPABLE, at)
        or _url_before_ref(text, at)
        or _mistyped_prefix(text, at) is not None
    )


def _escape_openers(literal: str) -> str:
    """Literal text as a template writes it: ``$`` doubled before each ``${`` that would open."""
    out = []
    i = 0
    j = literal.find("${")
    while j >= 0:
        if _opens(literal, j + 2):
            out.append(literal[i:j] + "$")
            i = j
        j = literal.find("${", j + 2)
    out.append(literal[i:])
    return "".join(out)


def _opens(text: str, at: int) -> bool:
    """True when ``${`` before ``text[at:]`` opens a reference: what ``$${`` escapes.

    White space before the reference counts, and so does a mistyped prefix: both are errors
    after ``${``, so the escape must cover them.
    """
    at = _skip_space(text, at)
    return (
        text.startswith((*_REF_PREFIXES, OPTIONAL_PREFIX), at)
        or _url_before_ref(text, at)
        or _mistyped_prefix(text, at) is not None
    )


def _url_before_ref(text: str, at: int) -> bool:
    """True at ``url:`` followed by a reference (possibly malformed or mistyped)."""
    if not text.startswith(URL_PREFIX, at):
        return False
    at = _skip_space(text, at + len(URL_PREFIX))
    return _starts_like_ref(text, at) or _mistyped_prefix(text, at) is not None


def _starts_like_ref(text: str, at: int = 0) -> bool:
    """True at a reference prefix, also after ``optional:``/``url:`` and white space."""
    for _ in range(4):  # a prefix and three modifiers at most: "optional:url:optional:ssm:"
        if text.startswith(_REF_PREFIXES, at):
            return True
        if not text.startswith(_MODIFIERS, at):
            return False
        at = _skip_space(text, text.index(":", at) + 1)
    return False


def _meant(word: str) -> tuple[str, bool] | None:
    """The prefix ``word`` may be a mistyping of, and whether only case or ``-``/``_`` differ."""
    norm = word.lower().replace("-", "").replace("_", "")
    if norm in ("ssm", "url", "optional", "secretsmanager"):
        return norm, True
    if norm[0] not in "so":  # a misspelling keeps the first letter
        return None
    if _distance(norm, "secretsmanager", 2) <= 2:
        return "secretsmanager", False
    if _distance(norm, "optional", 1) <= 1:
        return "optional", False
    if norm not in _NOT_SSM and _distance(norm, "ssm", 1) <= 1:
        return "ssm", False
    return None


def _distance(a: str, b: str, limit: int) -> int:
    """Edit distance (an adjacent swap counts one); ``limit + 1`` when clearly more."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            best = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                best = min(best, previous2[j - 2] + 1)
            row.append(best)
        previous2, previous = previous, row
    return previous[-1]


def _mistyped_prefix(text: str, at: int, depth: int = 0) -> tuple[int, str] | None:
    """A mistyped reference prefix at ``text[at:]``: where it ends, and the prefix meant.

    Narrow on purpose, so that prose and URLs are never taken for references: a word that
    differs from ``ssm``, ``secretsmanager``, ``optional`` or ``url`` only in case, ``-`` or
    ``_`` or white space before its ``:`` (``SSM:``, ``ssm :``, ``Secrets_Manager:``), or
    is a small misspelling of one with its first letter right (``secretmanager:``,
    ``optinal:``, ``smm:``). A mistyped ``ssm``/``secretsmanager`` counts only when a name
    follows its ``:`` at once (a misspelled ``ssm`` only before ``:/name``); a mistyped
    ``optional``/``url`` only when a reference prefix, or a mistyped one, follows. Exact
    prefixes are not reported here.
    """
    match = _PREFIX_WORD.match(text, at)
    if match is None or depth > 2:
        return None
    meant = _meant(match.group(1))
    if meant is None:
        return None
    prefix, same_letters = meant
    exact = same_letters and match.group(1) == prefix and not match.group(2)
    after = match.end()
    if prefix in ("optional", "url"):
        # A modifier counts only before a reference prefix, exact or mistyped: "Optional: ..."
        # is prose and "optional:yes" plain text.
        rest = after
        while text.startswith(_MODIFIERS, rest) and rest - after < 2 * len(OPTIONAL_PREFIX):
            rest = text.index(":", rest) + 1
        if text.startswith(_REF_PREFIXES, rest):
            inner = None
        else:
            inner = _mistyped_prefix(text, rest, depth + 1)
            if inner is None:
                return None
        return inner if exact else (match.end(1), prefix)
    if exact:
        return None
    following = text[after : after + 2]
    if same_letters:
        allowed = _SSM_BODY_START if prefix == "ssm" else _SECRET_BODY_START
        if following[:1] in allowed and following[:1]:
            return match.end(1), prefix
        return None
    if prefix == "ssm" and (len(following) < 2 or following[0] != "/" or following[1] == "/"):
        return None  # a misspelled 'ssm' only before ':/name', never before '://' (a URL)
    if prefix == "secretsmanager" and not (following[:1] and following[:1] in _SECRET_BODY_START):
        return None
    return match.end(1), prefix


def _mistyped_error(text: str, found: tuple[int, str], offset: int = -1) -> RefSyntaxError:
    """The error for a mistyped prefix ending at ``found[0]`` (``offset``: its ``${``)."""
    position, meant = found
    keep = (
        "write literal: before a value that must start this way"
        if offset < 0
        else "write $${ for a '${' that must stay as written"
    )
    offset = max(offset, 0)
    # The part shown ends just after the prefix: the rest may be anything.
    return RefSyntaxError(
        text[offset : position + 2],
        position,
        f"a reference prefix: did you mean '{meant}:'? ({keep})",
        offset=offset,
    )


def _check_start(text: str) -> None:
    """Raise for white space around a reference, a doubled or mistyped prefix, a bare ``url:``.

    Silently taking ``" ssm:/a"`` or ``"SSM:/a"`` as plain text would hand the reference text
    to the app as its value; stripping it would hide a typo. So each is an error with the
    position.
    """
    start = _skip_space(text, 0) if text[:1].isspace() else 0
    mistyped = _mistyped_prefix(text, start)
    if mistyped is not None:
        raise _mistyped_error(text, mistyped)
    url_at = start + len(OPTIONAL_PREFIX) if text.startswith(OPTIONAL_PREFIX, start) else start
    if _url_before_ref(text, url_at):
        raise RefSyntaxError(
            text[: url_at + len(URL_PREFIX) + 1],
            url_at + len(URL_PREFIX) - 1,
            "a reference ('url:' quotes a value inside a template only, as in "
            "'https://u:${url:ssm:/a}@host/')",
        )
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
        if text[body : body + 1].isspace():
            raise RefSyntaxError(text, body, "'ssm:' or 'secretsmanager:' right after 'optional:'")
        if text.startswith(OPTIONAL_PREFIX, body):
            raise RefSyntaxError(
                text, body, "'ssm:' or 'secretsmanager:' after 'optional:' (written once)"
            )
    end = len(text.rstrip())
    if end < len(text):
        raise RefSyntaxError(text, end, "the end of the reference (no white space after it)")


def _parse_template(text: str) -> Template | None:
    """The ``${...}`` parts of ``text``; None when it has none (and no ``$${`` escape).

    Only the places where ``${`` occurs are looked at (found with ``str.find``), so the work
    is linear in the length of the text.
    """
    parts: list[str | SSMRef | SecretRef | QuotedRef] = []
    literal: list[str] = []
    changed = False
    i = 0  # the start of the text not yet taken into parts
    j = text.find("${")
    while j >= 0:
        k = j + 2
        if j > i and text[j - 1] == "$" and _opens(text, k):
            literal.append(text[i : j - 1] + "${")  # '$${' before a prefix: a literal '${'
            changed = True
            i = k
        elif text.startswith((*_REF_PREFIXES, OPTIONAL_PREFIX), k) or _url_before_ref(text, k):
            part, end = _template_part(text, j)
            literal.append(text[i:j])
            if any(literal):
                parts.append("".join(literal))
            literal = []
            parts.append(part)
            changed = True
            i = end + 1
        elif text[k : k + 1].isspace():
            start = _skip_space(text, k)
            if _starts_like_ref(text, start):
                # "${ ssm:/a}" would otherwise stay as written, like "${HOME}".
                raise RefSyntaxError(
                    text[j:start] + text[start : start + 4],
                    k,
                    "the reference right after '${', without white space",
                    offset=j,
                )
            mistyped = _mistyped_prefix(text, start)
            if mistyped is not None:
                raise _mistyped_error(text, mistyped, offset=j)
        else:
            mistyped = _mistyped_prefix(text, k)
            if mistyped is not None:
                raise _mistyped_error(text, mistyped, offset=j)
        j = text.find("${", max(i, k))
    if not changed:
        return None
    literal.append(text[i:])
    if any(literal):
        parts.append("".join(literal))
    return Template(tuple(parts))


def _template_part(text: str, at: int) -> tuple[SSMRef | SecretRef | QuotedRef, int]:
    """The ``${...}`` reference opening at ``text[at]``, and the index of its ``}``."""
    start = at + 2
    end = text.find("}", start)
    if end < 0:
        word = _PREFIX_WORD.match(text, start)
        opener = text[at : word.end() if word else start]
        raise RefSyntaxError(
            opener, len(text), "'}' closing the reference", offset=at, unclosed=True
        )
    optional = quoted = False
    while True:
        if not optional and text.startswith(OPTIONAL_PREFIX, start, end):
            optional = True
            start += len(OPTIONAL_PREFIX)
        elif not quoted and text.startswith(URL_PREFIX, start, end):
            quoted = True
            start += len(URL_PREFIX)
        else:
            break
    fragment = text[at : end + 1]
    if not text.startswith(_REF_PREFIXES, start, end):
        mistyped = _mistyped_prefix(text, start)
        if mistyped is not None and mistyped[0] < end:
            raise _mistyped_error(text, mistyped, offset=at)
        raise RefSyntaxError(fragment, start, "'ssm:' or 'secretsmanager:'", offset=at)
    ref = _parse_ref(text, start, end, optional, fragment, at)
    return (QuotedRef(ref) if quoted else ref), end


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
