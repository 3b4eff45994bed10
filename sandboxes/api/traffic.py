"""`GET /api/v1/sandboxes/<name>/traffic`: the routing-propagation check over the mesh's
own request counts (see `sandboxes.telemetry` and docs/routing.md). Serializers only
describe and validate; the work is in `sandboxes.telemetry`."""

from __future__ import annotations

from rest_framework import serializers

from routing.propagation import FindingKind, HopStatus, Severity
from sandboxes.api.serializers import TenantQueryIn
from sandboxes.telemetry import DEFAULT_WINDOW, WINDOWS

__all__ = ["DEFAULT_WINDOW", "WINDOWS"]


class TrafficQueryIn(TenantQueryIn):
    window = serializers.ChoiceField(
        choices=list(WINDOWS),
        required=False,
        default=DEFAULT_WINDOW,
        help_text="How far back to count requests.",
    )


class TrafficSourceOut(serializers.Serializer):
    workload = serializers.CharField(help_text="namespace/name, as the mesh names it.")
    role = serializers.CharField(
        help_text="fork:<service>, baseline:<service>, 'outside the mesh', or empty."
    )
    requests = serializers.FloatField()


class TrafficForkOut(serializers.Serializer):
    service = serializers.CharField()
    fork = serializers.CharField(help_text="The fork's workload, namespace/name.")
    baseline = serializers.CharField(help_text="The baseline's workload, namespace/name.")
    requests = serializers.FloatField(help_text="Requests the fork received in the window.")
    errors = serializers.FloatField()
    errorRate = serializers.FloatField(allow_null=True)
    baselineRequests = serializers.FloatField()
    baselineErrors = serializers.FloatField()
    baselineErrorRate = serializers.FloatField(allow_null=True)
    sources = TrafficSourceOut(many=True)


class TrafficHopOut(serializers.Serializer):
    # `from` is a Python keyword: declared through the fields mapping below.
    to = serializers.CharField()
    toFork = serializers.FloatField(help_text="Calls of fork `from` that reached `to`'s fork.")
    toBaseline = serializers.FloatField(
        help_text="Calls of fork `from` that reached `to`'s baseline: the key was lost."
    )
    status = serializers.ChoiceField(choices=[s.value for s in HopStatus])

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        return {"from": serializers.CharField(help_text="The calling service."), **fields}


class TrafficLinkOut(serializers.Serializer):
    title = serializers.CharField()
    url = serializers.URLField()


class TrafficFindingOut(serializers.Serializer):
    kind = serializers.ChoiceField(choices=[k.value for k in FindingKind])
    severity = serializers.ChoiceField(choices=[s.value for s in Severity])
    service = serializers.CharField()
    destination = serializers.CharField()
    message = serializers.CharField()
    links = TrafficLinkOut(many=True)


class TelemetryOut(serializers.Serializer):
    state = serializers.ChoiceField(choices=["ok", "not_configured"])
    message = serializers.CharField()
    source = serializers.CharField(help_text="The telemetry backend's URL (no credentials).")
    queries = serializers.ListField(child=serializers.CharField())
    manualQuery = serializers.CharField(
        help_text="With no telemetry configured: a curl that runs the query by hand."
    )


class TrafficOut(serializers.Serializer):
    sandbox = serializers.CharField()
    window = serializers.ChoiceField(choices=list(WINDOWS))
    howToTest = serializers.CharField(help_text="A curl that sends a request with the key.")
    telemetry = TelemetryOut()
    skipped = serializers.ListField(
        child=serializers.CharField(),
        help_text="Forked services whose mesh keeps no such counts (Linkerd 1).",
    )
    forks = TrafficForkOut(many=True)
    hops = TrafficHopOut(many=True)
    findings = TrafficFindingOut(many=True)
    keyDropped = serializers.BooleanField(help_text="True when some hop dropped the key.")
