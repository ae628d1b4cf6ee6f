"""module_utils/subnets.py: the GPU workers' private subnet inside the VPC."""

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.subnets import SubnetError, free_subnet

DEFAULT_SUBNETS = ["172.31.%d.0/20" % (16 * n) for n in range(6)]


def test_top_of_a_default_vpc():
    assert free_subnet("172.31.0.0/16", DEFAULT_SUBNETS) == "172.31.255.0/24"


def test_skips_what_is_taken_even_when_it_only_overlaps():
    assert free_subnet("10.0.0.0/16", ["10.0.254.0/23"]) == "10.0.253.0/24"


def test_a_full_vpc_names_what_is_in_use():
    with pytest.raises(SubnetError, match=r"no free /24 left in 10.0.0.0/24 \(subnets in use: 10.0.0.0/25, 10.0.0.128/25\)"):
        free_subnet("10.0.0.0/24", ["10.0.0.128/25", "10.0.0.0/25"])


def test_bad_input():
    with pytest.raises(SubnetError, match="not a network"):
        free_subnet("10.0.0.1/16")
    with pytest.raises(SubnetError, match="does not fit"):
        free_subnet("10.0.0.0/26", [], 24)
