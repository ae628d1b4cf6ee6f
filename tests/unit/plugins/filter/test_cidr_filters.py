"""Filters cidr_errors and cidr_exposure: what the security_groups role calls."""

from ansible_collections.realtime_asr.whisperlive.plugins.filter.cidrs import FilterModule


def test_filters_are_registered_and_delegate():
    filters = FilterModule().filters()
    assert set(filters) == {"cidr_errors", "cidr_exposure"}
    assert filters["cidr_exposure"](["0.0.0.0/1", "128.0.0.0/1"])["internet_scale"]
    assert filters["cidr_errors"](["300.1.1.1/8"], "security_groups_client_cidrs")[0].startswith(
        "security_groups_client_cidrs: '300.1.1.1/8'")
