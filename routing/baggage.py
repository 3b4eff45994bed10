"""W3C Baggage: parse, append our member, remove it, and match it with a regex.

Grammar (https://www.w3.org/TR/baggage/#header-content)::

    baggage-string = list-member 0*179( OWS "," OWS list-member )
    list-member    = key OWS "=" OWS value *( OWS ";" OWS property )
    property       = key OWS "=" OWS value / key OWS
    key            = token
    value          = *baggage-octet   ; no SP, DQUOTE, ",", ";" or "\\"

A "," never occurs inside a valid member, so splitting on "," finds the members
even when properties are present. Several ``baggage`` headers are one list joined
with ",", exactly as HTTP combines repeated fields (and as Envoy matches them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from routing.keys import is_valid_routing_key
from routing.model import DEFAULT_WIRE, WireConfig, is_token

MAX_MEMBERS = 64
MAX_BYTES = 8192
# Istio rejects header-match regexes longer than this.
ISTIO_MAX_REGEX = 1024

_OWS = " \t"
# Characters a baggage value may carry unencoded, besides alphanumerics.
_VALUE_SAFE = "!#$&'()*+-./:<=>?@[]^_`{|}~"


class BaggageError(ValueError):
    """A baggage header that does not follow the W3C grammar."""


class BaggageLimitError(BaggageError):
    """Appending would exceed the W3C propagation limits (64 members, 8192 bytes)."""


@dataclass(frozen=True)
class BaggageMember:
    key: str
    value: str  # percent-decoded
    properties: tuple[tuple[str, str | None], ...] = ()
    raw: str = ""  # the member as received, OWS trimmed


def _combine(headers: str | Iterable[str] | None) -> str:
    if headers is None:
        return ""
    if isinstance(headers, str):
        return headers
    return ",".join(headers)


def _raw_members(value: str) -> list[str]:
    # Empty members ("a=1,,b=2") are tolerated and dropped, as OpenTelemetry does.
    return [m.strip(_OWS) for m in value.split(",") if m.strip(_OWS)]


def _decode(text: str) -> str:
    for ch in text:
        if ch in ' ",;\\' or not 0x21 <= ord(ch) <= 0x7E:
            raise BaggageError(f"character {ch!r} is not allowed in a baggage value")
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError as exc:
        raise BaggageError(f"value {text!r} is not valid percent-encoded UTF-8") from exc


def _split_pair(text: str, *, allow_bare: bool) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    key = key.strip(_OWS)
    if not is_token(key):
        raise BaggageError(f"baggage key {key!r} is not a token")
    if not sep:
        if allow_bare:
            return key, None
        raise BaggageError(f"baggage member {text!r} has no '='")
    return key, _decode(value.strip(_OWS))


def parse_member(raw: str) -> BaggageMember:
    """Parse one list-member; raises :class:`BaggageError` if malformed."""
    head, *props = raw.split(";")
    key, value = _split_pair(head, allow_bare=False)
    properties = tuple(_split_pair(p, allow_bare=True) for p in props)
    return BaggageMember(key=key, value=value or "", properties=properties, raw=raw.strip(_OWS))


def parse_baggage(
    headers: str | Iterable[str] | None, *, strict: bool = False
) -> list[BaggageMember]:
    """Parse one or several ``baggage`` header values into members, in order.

    With ``strict=False`` (the default, as receivers should be lenient) malformed
    members are skipped; with ``strict=True`` they raise :class:`BaggageError`.
    The propagation limits apply to what is sent, not to what is read, so they are
    not enforced here; see :func:`check_limits`.
    """
    members: list[BaggageMember] = []
    for raw in _raw_members(_combine(headers)):
        try:
            members.append(parse_member(raw))
        except BaggageError:
            if strict:
                raise
    return members


def check_limits(value: str) -> None:
    """Raise :class:`BaggageLimitError` if ``value`` exceeds what W3C says to propagate."""
    count = len(_raw_members(value))
    if count > MAX_MEMBERS:
        raise BaggageLimitError(f"baggage has {count} members; at most {MAX_MEMBERS} propagate")
    size = len(value.encode())
    if size > MAX_BYTES:
        raise BaggageLimitError(f"baggage is {size} bytes; at most {MAX_BYTES} propagate")


def encode_value(value: str) -> str:
    """Percent-encode a baggage value (UTF-8), leaving baggage-octets other than '%' alone."""
    return quote(value, safe=_VALUE_SAFE)


def remove_member(headers: str | Iterable[str] | None, key: str) -> str:
    """Drop every member named ``key``, keep all other members byte-for-byte.

    Returns ``""`` when nothing is left (a caller should then drop the header).
    """
    kept = []
    for raw in _raw_members(_combine(headers)):
        name = raw.split(";", 1)[0].split("=", 1)[0].strip(_OWS)
        if name != key:
            kept.append(raw)
    return ",".join(kept)


def append_member(
    headers: str | Iterable[str] | None,
    key: str,
    value: str,
    properties: Iterable[tuple[str, str | None]] = (),
) -> str:
    """Add ``key=value`` to an existing baggage value without dropping other members.

    An earlier member with the same key is replaced, not duplicated: two
    ``sidestage`` members would make the route ambiguous. Raises
    :class:`BaggageLimitError` rather than silently dropping someone else's member
    when the result would not propagate.
    """
    if not is_token(key):
        raise BaggageError(f"baggage key {key!r} is not a token")
    member = f"{key}={encode_value(value)}"
    for pkey, pvalue in properties:
        if not is_token(pkey):
            raise BaggageError(f"property key {pkey!r} is not a token")
        member += f";{pkey}" if pvalue is None else f";{pkey}={encode_value(pvalue)}"
    rest = remove_member(headers, key)
    result = f"{rest},{member}" if rest else member
    check_limits(result)
    return result


def _header_values(headers: Mapping[str, str] | Iterable[tuple[str, str]], name: str) -> list[str]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [v for k, v in pairs if k.lower() == name]


def routing_key_from_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], wire: WireConfig = DEFAULT_WIRE
) -> str | None:
    """The routing key a request carries, or None.

    The dedicated header wins over baggage, mirroring how an explicit choice should
    beat an inherited context. Among several baggage members the first valid one
    counts. Invalid keys are ignored rather than raised: this reads untrusted input.
    """
    for value in _header_values(headers, wire.header):
        if is_valid_routing_key(value.strip(_OWS)):
            return value.strip(_OWS)
    for member in parse_baggage(_header_values(headers, "baggage")):
        if member.key == wire.baggage_member and is_valid_routing_key(member.value):
            return member.value
    return None


def _re2_escape(text: str) -> str:
    # RE2 accepts a backslash before any punctuation, so escaping every
    # non-alphanumeric character is always safe.
    return "".join(c if c.isalnum() else "\\" + c for c in text)


def baggage_match_regex(
    keys: Iterable[str],
    member: str = DEFAULT_WIRE.baggage_member,
    *,
    max_length: int = ISTIO_MAX_REGEX,
) -> str:
    """An anchored RE2 regex that matches a baggage value holding ``member=<one of keys>``.

    ``(?:.*,)?`` puts the member at the start or right after a ",", so ``xsidestage=``
    and ``foo=sidestage=`` cannot match, nor can a *property* named like the member
    (``foo=1;sidestage=k``). After the key only OWS, ";" (properties) or "," (the next
    member) may follow, so key ``abc`` never matches ``abcdef``. The explicit ``^``
    and ``$`` make it exact under both full-match (Envoy) and search (Linkerd)
    semantics. Values are matched as sent: a key is ``[a-z0-9]`` and never needs
    percent-encoding, and an encoded one falls through to the baseline.
    """
    key_list = sorted(set(keys))
    if not key_list:
        raise ValueError("no keys to match")
    for key in key_list:
        if not is_valid_routing_key(key):
            raise ValueError(f"invalid routing key {key!r}")
    ows = "[ \\t]*"
    alternation = "|".join(key_list)
    regex = f"^(?:.*,)?{ows}{_re2_escape(member)}{ows}={ows}(?:{alternation}){ows}(?:[;,].*)?$"
    if len(regex) > max_length:
        raise ValueError(
            f"baggage regex for {len(key_list)} keys is {len(regex)} characters; "
            f"the limit is {max_length}"
        )
    return regex
