"""Filter stack_cost: the collection's price table, errors as filter errors."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.filter.cost import FilterModule


def test_filter_prices_with_the_collection_table():
    stack_cost = FilterModule().filters()["stack_cost"]
    cost = stack_cost([{"instance_id": "i-1", "instance_type": "g4dn.xlarge", "state": "running",
                        "public_ip": "", "volumes": []}], [], "eu-central-1")
    assert cost["total_usd"] == 0.658 and cost["region"] == "eu-central-1"


def test_filter_reports_bad_input():
    with pytest.raises(AnsibleFilterError, match="stack_cost"):
        FilterModule().filters()["stack_cost"]([{"instance_id": "i-1"}], [], "us-east-1")


def test_instance_prices_are_the_tables_for_the_region():
    prices = FilterModule().filters()["instance_prices"]
    assert prices("eu-central-1")["g4dn.xlarge"] == 0.658
    assert prices("us-east-1")["g4dn.xlarge"] == 0.526
    assert prices("ap-south-9") == {}, "a region the table lacks is not priced with another's figures"
    with pytest.raises(AnsibleFilterError, match="instance_prices: the region must be a string"):
        prices(["us-east-1"])
