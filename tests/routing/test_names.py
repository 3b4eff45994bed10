import re

from hypothesis import given
from hypothesis import strategies as st

from routing.keys import generate_routing_key
from routing.names import (
    MANAGED_BY_LABEL,
    SANDBOX_LABEL,
    SERVICE_LABEL,
    fork_object_name,
    managed_labels,
)

DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

service_names = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=16, max_size=40)


def test_short_names_are_kept_readable():
    assert fork_object_name("orders", "abcdefghij0123456789") == "orders-sbx-abcdefghij0123456789"


def test_long_names_are_shortened_with_a_hash():
    key = generate_routing_key()
    name = fork_object_name("a-really-long-service-name-that-goes-on-and-on", key)
    assert len(name) <= 63
    assert DNS_1035.match(name)
    other = fork_object_name("a-really-long-service-name-that-goes-on-and-on-2", key)
    assert name != other


def test_names_starting_with_a_digit_become_dns_1035():
    assert DNS_1035.match(fork_object_name("3d-render", "abcdefghij0123456789"))


@given(service_names, keys)
def test_fork_names_are_always_valid_and_deterministic(service, key):
    name = fork_object_name(service, key)
    assert len(name) <= 63
    assert DNS_1035.match(name), name
    assert name == fork_object_name(service, key)


def test_label_keys():
    assert managed_labels() == {MANAGED_BY_LABEL: "sidestage"}
    assert managed_labels(sandbox_key="k", service="orders") == {
        "app.kubernetes.io/managed-by": "sidestage",
        "sidestage.dev/sandbox": "k",
        "sidestage.dev/service": "orders",
    }
    assert (SANDBOX_LABEL, SERVICE_LABEL) == ("sidestage.dev/sandbox", "sidestage.dev/service")
