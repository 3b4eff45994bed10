"""Hypothesis strategies for W3C baggage and routing keys."""

from __future__ import annotations

from hypothesis import strategies as st

KEY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
TOKEN_ALPHABET = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# baggage-octet minus '%', so generated values are always valid to decode.
VALUE_ALPHABET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '",;\\%')

routing_keys = st.text(alphabet=KEY_ALPHABET, min_size=16, max_size=40)
ows = st.sampled_from(["", " ", "\t", "  ", " \t "])
# Keys that look like ours on purpose.
tricky_keys = st.sampled_from(
    [
        "xsidestage",
        "sidestagex",
        "Sidestage",
        "SIDESTAGE",
        "side",
        "foo",
        "sidestage-",
        "_sidestage",
    ]
)
other_keys = st.one_of(
    tricky_keys, st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=12)
).filter(lambda k: k != "sidestage")
values = st.text(alphabet=VALUE_ALPHABET, max_size=24)


@st.composite
def properties(draw: st.DrawFn, value_strategy: st.SearchStrategy[str] = values) -> str:
    out = ""
    for _ in range(draw(st.integers(0, 3))):
        pkey = draw(st.one_of(st.just("sidestage"), other_keys))
        out += f"{draw(ows)};{draw(ows)}{pkey}"
        if draw(st.booleans()):
            out += f"{draw(ows)}={draw(ows)}{draw(value_strategy)}"
    return out


@st.composite
def member(draw: st.DrawFn, key: str, value: str) -> str:
    return f"{draw(ows)}{key}{draw(ows)}={draw(ows)}{value}{draw(properties())}{draw(ows)}"


@st.composite
def foreign_members(draw: st.DrawFn, avoid: str) -> list[str]:
    """Members that never hold ``sidestage=<avoid>``, some of them crafted to look close."""
    out = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 4))
        if kind == 0:  # another member whose value is our key
            out.append(draw(member(draw(other_keys), avoid)))
        elif kind == 1:  # a value that embeds our member
            out.append(draw(member(draw(other_keys), f"sidestage={avoid}")))
        elif kind == 2:  # our member name with a longer key
            out.append(
                draw(
                    member("sidestage", avoid + draw(st.text(KEY_ALPHABET, min_size=1, max_size=4)))
                )
            )
        elif kind == 3:  # a property named like us
            out.append(draw(member(draw(other_keys), draw(values))) + f";sidestage={avoid}")
        else:
            out.append(draw(member(draw(other_keys), draw(values))))
    return out
