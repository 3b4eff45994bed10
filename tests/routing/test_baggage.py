"""W3C Baggage parsing, appending and the propagation limits."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.baggage import (
    MAX_BYTES,
    MAX_MEMBERS,
    BaggageError,
    BaggageLimitError,
    append_member,
    check_limits,
    encode_value,
    parse_baggage,
    remove_member,
    routing_key_from_headers,
)
from routing.model import WireConfig
from tests.routing.strategies import TOKEN_ALPHABET, ows

KEY = "abc0000000000000000x"


def test_parses_members_properties_and_whitespace():
    members = parse_baggage("userId=alice , serverNode = DF%2028 ;ttl=3;flag, isProd=false")
    assert [(m.key, m.value) for m in members] == [
        ("userId", "alice"),
        ("serverNode", "DF 28"),
        ("isProd", "false"),
    ]
    assert members[1].properties == (("ttl", "3"), ("flag", None))


def test_several_headers_are_one_list():
    members = parse_baggage(["a=1", "b=2, c=3"])
    assert [m.key for m in members] == ["a", "b", "c"]


def test_percent_encoding_is_utf8():
    (m,) = parse_baggage("name=J%C3%BCrgen%2C%3B")
    assert m.value == "Jürgen,;"


@pytest.mark.parametrize("bad", ["novalue", "=v", "k=v v", 'k="v"', "k=%ff", "k w=v", "k=a\\b"])
def test_malformed_members_are_skipped_or_raise_in_strict_mode(bad):
    assert [m.key for m in parse_baggage(f"a=1,{bad},b=2")] == ["a", "b"]
    with pytest.raises(BaggageError):
        parse_baggage(bad, strict=True)


def test_empty_members_are_tolerated():
    assert [m.key for m in parse_baggage(" ,a=1,, ,b=2,")] == ["a", "b"]
    assert parse_baggage(None) == []


def test_append_keeps_existing_members_verbatim():
    existing = "userId=alice;p=1, trace=x%20y"
    expected = f"userId=alice;p=1,trace=x%20y,sidestage={KEY}"
    assert append_member(existing, "sidestage", KEY) == expected
    assert append_member(None, "sidestage", KEY) == f"sidestage={KEY}"
    assert append_member(["a=1", "b=2"], "sidestage", KEY) == f"a=1,b=2,sidestage={KEY}"


def test_append_replaces_our_own_earlier_member_instead_of_duplicating():
    result = append_member("sidestage=old0000000000000000,a=1", "sidestage", KEY)
    assert result == f"a=1,sidestage={KEY}"


def test_append_encodes_values_and_properties():
    assert (
        append_member("", "k", "a b,c", [("p", "x;y"), ("flag", None)])
        == "k=a%20b%2Cc;p=x%3By;flag"
    )


def test_limits():
    full = ",".join(f"m{i}=1" for i in range(MAX_MEMBERS))
    check_limits(full)
    with pytest.raises(BaggageLimitError, match="65 members"):
        append_member(full, "sidestage", KEY)
    big = "a=" + "x" * (MAX_BYTES - 2)
    check_limits(big)
    with pytest.raises(BaggageLimitError, match="bytes"):
        append_member(big, "sidestage", KEY)


def test_remove_member_strips_only_ours():
    assert (
        remove_member(f"a=1, sidestage={KEY};p ,b=2;sidestage=3", "sidestage")
        == "a=1,b=2;sidestage=3"
    )
    assert remove_member(f"sidestage={KEY}", "sidestage") == ""


def test_routing_key_from_headers_prefers_the_dedicated_header():
    other = "zzz0000000000000000z"
    headers = [("X-Sidestage-Route", KEY), ("baggage", f"sidestage={other}")]
    assert routing_key_from_headers(headers) == KEY
    assert routing_key_from_headers({"baggage": f"a=1, sidestage = {other};p"}) == other
    assert routing_key_from_headers({"baggage": "sidestage=NOT-A-KEY"}) is None
    assert routing_key_from_headers({}) is None


def test_wire_names_are_configurable():
    wire = WireConfig(baggage_member="route", header="x-route")
    assert routing_key_from_headers({"x-route": KEY}, wire) == KEY
    assert routing_key_from_headers({"baggage": f"route={KEY}"}, wire) == KEY
    assert routing_key_from_headers({"x-sidestage-route": KEY}, wire) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"header": "X-Upper"},
        {"header": "bad header"},
        {"header": "baggage"},
        {"header": "l5d-dtab"},
        {"baggage_member": "a=b"},
        {"header": "x-a\n"},
    ],
)
def test_wire_config_rejects_unsafe_names(kwargs):
    with pytest.raises(ValueError):
        WireConfig(**kwargs)


unicode_values = st.text(max_size=30)
token_keys = st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=10)


@settings(max_examples=300)
@given(
    st.lists(
        st.tuples(
            token_keys,
            unicode_values,
            st.lists(st.tuples(token_keys, st.one_of(st.none(), unicode_values)), max_size=2),
        ),
        max_size=8,
    ),
    ows,
)
def test_append_then_parse_round_trips(members, space):
    header = ""
    expected = {}
    for key, value, props in members:
        header = append_member(header, key, value, props)
        expected.pop(key, None)
        expected[key] = (value, tuple(props))
    spaced = header.replace(",", f"{space},{space}")
    parsed = parse_baggage(spaced, strict=True)
    assert {m.key: (m.value, m.properties) for m in parsed} == expected


@settings(max_examples=300)
@given(unicode_values)
def test_encoded_values_are_baggage_octets(value):
    encoded = encode_value(value)
    assert all(0x21 <= ord(c) <= 0x7E and c not in '",;\\ ' for c in encoded)
