"""The anchored baggage regex, run as Envoy and Linkerd run it (RE2)."""

import re

import pytest
import re2
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from routing.baggage import ISTIO_MAX_REGEX, baggage_match_regex, parse_baggage
from tests.routing.strategies import foreign_members, member, properties, routing_keys

EXAMPLES = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


def matches(regex: str, header: str) -> bool:
    compiled = re2.compile(regex)
    full = compiled.fullmatch(header) is not None  # Envoy safe_regex semantics
    search = compiled.search(header) is not None  # Linkerd (Rust regex) is_match semantics
    assert full == search, "anchoring must make full-match and search agree"
    return full


KEY = "abc0000000000000000x"


@pytest.mark.parametrize(
    "header",
    [
        f"sidestage={KEY}",
        f"sidestage = {KEY}",
        f"foo=1,sidestage={KEY}",
        f"foo=1, \tsidestage={KEY};prop;p2=v ,bar=2",
        f"a=b,c=d,sidestage={KEY}",
        f"sidestage={KEY} ; ttl=3",
        f"userId=alice,sidestage={KEY},tenant=x",
    ],
)
def test_matches_our_member_anywhere(header):
    assert matches(baggage_match_regex([KEY]), header)


@pytest.mark.parametrize(
    "header",
    [
        f"sidestage={KEY}def",  # a longer key that starts with ours
        f"xsidestage={KEY}",
        f"foo=sidestage={KEY}",
        f"foo=1;sidestage={KEY}",  # a property, not a member
        f"sidestage=x{KEY}",
        f"Sidestage={KEY}",
        f"sidestage={KEY[:-1]}",
        f"sidestage:{KEY}",
        "",
        f"{KEY}",
    ],
)
def test_does_not_match_near_misses(header):
    assert not matches(baggage_match_regex([KEY]), header)


def test_several_keys_share_one_alternation_and_are_sorted():
    regex = baggage_match_regex(["b" * 16, "a" * 16])
    assert regex.index("a" * 16) < regex.index("b" * 16)
    assert matches(regex, "sidestage=" + "b" * 16)
    assert not matches(regex, "sidestage=" + "c" * 16)


def test_custom_member_name_is_escaped():
    regex = baggage_match_regex([KEY], member="my.route")
    assert matches(regex, f"my.route={KEY}")
    assert not matches(regex, f"myxroute={KEY}")


def test_regex_respects_istio_length_limit():
    keys = [f"{i:0>20}" for i in range(60)]
    with pytest.raises(ValueError, match="limit is 1024"):
        baggage_match_regex(keys)
    assert len(baggage_match_regex(keys[:40])) <= ISTIO_MAX_REGEX


def test_invalid_keys_never_reach_a_regex():
    with pytest.raises(ValueError):
        baggage_match_regex(["a.*"])
    with pytest.raises(ValueError):
        baggage_match_regex([])


@EXAMPLES
@given(routing_keys, routing_keys, st.data())
def test_rule_for_k1_never_matches_baggage_holding_only_k2(k1, k2, data):
    assume(k1 != k2)
    members = data.draw(foreign_members(avoid=k1))
    members += [data.draw(member("sidestage", k2)) for _ in range(data.draw(st.integers(0, 2)))]
    order = data.draw(st.permutations(members))
    header = ",".join(order)
    assert not matches(baggage_match_regex([k1]), header), header


@EXAMPLES
@given(routing_keys, st.data())
def test_rule_matches_our_member_at_any_position(k1, data):
    others = data.draw(foreign_members(avoid=k1))
    position = data.draw(st.integers(0, len(others)))
    ours = data.draw(member("sidestage", k1))
    header = ",".join([*others[:position], ours, *others[position:]])
    assert matches(baggage_match_regex([k1]), header), header


@EXAMPLES
@given(routing_keys, st.data())
def test_several_baggage_headers_joined_like_envoy_still_match(k1, data):
    first = ",".join(data.draw(foreign_members(avoid=k1))) or "a=b"
    second = data.draw(member("sidestage", k1)) + data.draw(properties())
    assert matches(baggage_match_regex([k1]), f"{first},{second}")


@EXAMPLES
@given(routing_keys, st.data())
def test_regex_agrees_with_the_parser(k1, data):
    members = data.draw(foreign_members(avoid=k1))
    if data.draw(st.booleans()):
        members.insert(data.draw(st.integers(0, len(members))), data.draw(member("sidestage", k1)))
    header = ",".join(members)
    by_parser = any(m.key == "sidestage" and m.value == k1 for m in parse_baggage(header))
    assert matches(baggage_match_regex([k1]), header) == by_parser


@EXAMPLES
@given(routing_keys, st.data())
def test_python_re_agrees_with_re2(k1, data):
    # mirrord uses a backtracking engine; the same pattern must mean the same there.
    members = data.draw(foreign_members(avoid=k1))
    header = ",".join([*members, data.draw(member("sidestage", k1))])
    regex = baggage_match_regex([k1])
    assert bool(re.fullmatch(regex, header)) == matches(regex, header)
