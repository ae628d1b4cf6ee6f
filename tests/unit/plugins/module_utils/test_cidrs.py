"""CIDR lists judged by what they admit together, not by how they are written."""

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cidrs import (
    CidrError,
    cidr_errors,
    cidr_exposure,
    parse_cidrs,
)


@pytest.mark.parametrize("cidrs", [
    ["0.0.0.0/0"],
    ["0.0.0.0/1", "128.0.0.0/1"],
    ["128.0.0.0/1", "0.0.0.0/1", "10.0.0.0/8"],
    ["0.0.0.0/1"],
    ["128.0.0.0/2"],
    ["10.0.0.0/8", "11.0.0.0/8"],          # merged: 10.0.0.0/7
    ["%d.0.0.0/8" % n for n in range(256)],  # every /8: all of IPv4
    ["3.0.0.0/8", "13.0.0.0/8"],            # two public /8s, not adjacent
])
def test_ipv4_lists_open_to_the_internet(cidrs):
    exposure = cidr_exposure(cidrs)
    assert exposure["internet_scale"] and exposure["ipv4"]["internet_scale"]
    assert exposure["opening_entries"]
    assert set(exposure["opening_entries"]) <= set(cidrs)
    assert exposure["reasons"] and not exposure["errors"]


def test_halves_merge_to_the_whole_internet():
    exposure = cidr_exposure(["0.0.0.0/1", "128.0.0.0/1"])
    assert exposure["ipv4"]["networks"] == ["0.0.0.0/0"]
    assert exposure["ipv4"]["share"] == 1.0
    assert exposure["opening_entries"] == ["0.0.0.0/1", "128.0.0.0/1"]
    assert exposure["reasons"] == ["0.0.0.0/1, 128.0.0.0/1 together cover all of IPv4"]


def test_a_slash_one_is_half_the_internet():
    exposure = cidr_exposure(["0.0.0.0/1"])
    assert exposure["ipv4"]["share"] == 0.5
    assert "50% of IPv4" in exposure["reasons"][0]


def test_many_slash_eights_that_cover_everything():
    cidrs = ["%d.0.0.0/8" % n for n in range(256)]
    exposure = cidr_exposure(cidrs)
    assert exposure["ipv4"]["networks"] == ["0.0.0.0/0"]
    assert "all of IPv4" in exposure["reasons"][0]


@pytest.mark.parametrize("cidrs", [
    ["::/0"],
    ["2000::/3"],
    ["::/1", "8000::/1"],
    ["2001:db8::/32", "2400::/12"],
    ["2a00::/32", "2a01::/32"],               # two whole ISP allocations
])
def test_ipv6_lists_open_to_the_internet(cidrs):
    exposure = cidr_exposure(cidrs)
    assert exposure["ipv6"]["internet_scale"] and exposure["internet_scale"]
    assert not exposure["ipv4"]["internet_scale"]


def test_ipv6_halves_cover_all():
    exposure = cidr_exposure(["::/1", "8000::/1"])
    assert exposure["ipv6"]["networks"] == ["::/0"]
    assert exposure["reasons"] == ["::/1, 8000::/1 together cover all of IPv6"]


@pytest.mark.parametrize("cidrs", [
    ["203.0.113.0/24"],
    ["198.51.100.0/24", "2001:db8::/32"],
    ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"],  # all private: not the internet
    ["3.0.0.0/8"],                                        # one /8: the threshold, not beyond
    ["2a00:1450::/32"],
    ["100.64.0.0/10", "fc00::/7"],
    [],
])
def test_lists_that_are_not_the_internet(cidrs):
    exposure = cidr_exposure(cidrs)
    assert not exposure["internet_scale"], exposure["reasons"]
    assert exposure["opening_entries"] == [] and exposure["reasons"] == []


def test_only_the_entries_that_open_it_are_named():
    exposure = cidr_exposure(["10.0.0.0/8", "0.0.0.0/1", "2001:db8::/48"])
    assert exposure["opening_entries"] == ["0.0.0.0/1"]


@pytest.mark.parametrize("entry, why", [
    ("300.1.1.1/8", "not an IPv4 or IPv6 address"),
    ("10.0.0.1/8", "host bits set"),
    ("2001:db8::1/32", "host bits set"),
    ("10.0.0.0", "no /prefix"),
    ("10.0.0.0/33", "longer than /32"),
    ("10.0.0.0/x", "not a number"),
    ("example.com/24", "not an IPv4 or IPv6 address"),
    ("", "no /prefix"),
])
def test_bad_cidrs_are_named_with_the_variable(entry, why):
    messages = cidr_errors(["192.0.2.0/24", entry], "security_groups_client_cidrs")
    assert len(messages) == 1
    assert messages[0].startswith("security_groups_client_cidrs: %r" % entry)
    assert why in messages[0]
    with pytest.raises(CidrError) as caught:
        parse_cidrs([entry], "security_groups_admin_cidrs")
    assert caught.value.variable == "security_groups_admin_cidrs"
    assert caught.value.bad[0][0] == entry


def test_every_bad_entry_is_reported_at_once():
    messages = cidr_errors(["300.1.1.1/8", "192.0.2.0/24", "10.0.0.1/8"], "security_groups_admin_cidrs")
    assert [m.split("'")[1] for m in messages] == ["300.1.1.1/8", "10.0.0.1/8"]


def test_not_a_list_and_not_a_string():
    assert cidr_errors("10.0.0.0/8", "v") == ["v: '10.0.0.0/8' is not a valid CIDR (expected a list of CIDRs)"]
    assert "not a string" in cidr_errors([8], "v")[0]


def test_exposure_leaves_bad_entries_out_and_lists_them():
    exposure = cidr_exposure(["300.1.1.1/8", "0.0.0.0/0"], "security_groups_client_cidrs")
    assert exposure["internet_scale"]
    assert exposure["ipv4"]["entries"] == ["0.0.0.0/0"]
    assert exposure["errors"] and "300.1.1.1/8" in exposure["errors"][0]
