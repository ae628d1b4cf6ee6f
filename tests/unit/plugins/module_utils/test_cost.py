"""Hourly cost of the stack: regional prices, idle public IPv4, rows that add up."""

import pytest

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import aws_prices
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import CostInputError, stack_cost

EDGE_IP = "198.51.100.7"


def _edge(state="running", public_ip=EDGE_IP):
    return {"instance_id": "i-edge", "instance_type": "t3.medium", "state": state, "public_ip": public_ip,
            "volumes": [{"volume_id": "vol-edge", "size": 20, "volume_type": "gp3"}]}


def _gpu(state="running", public_ip="203.0.113.9", instance_type="g4dn.xlarge"):
    return {"instance_id": "i-gpu", "instance_type": instance_type, "state": state, "public_ip": public_ip,
            "volumes": [{"volume_id": "vol-gpu", "size": 100, "volume_type": "gp3"}]}


EIP = [{"public_ip": EDGE_IP, "instance_id": "i-edge"}]


def _row(cost, kind, instance_id=None):
    return [r for r in cost["rows"] if r["kind"] == kind and (instance_id is None or r["instance_id"] == instance_id)]


def test_a_stopped_edge_still_pays_for_its_elastic_ip_and_volume():
    # AWS stops billing compute, keeps billing the address (USD 0.005/h since
    # 2024-02-01) and the EBS volume. A stopped instance keeps its Elastic IP.
    cost = stack_cost([_edge(state="stopped")], EIP, "us-east-1")
    (ip,) = _row(cost, "public_ipv4")
    assert ip["hourly_usd"] == 0.005
    assert ip["item"] == "Elastic IP %s" % EDGE_IP
    assert ip["state"] == "attached to stopped instance"
    (compute,) = _row(cost, "compute")
    assert compute["hourly_usd"] == 0.0
    (volume,) = _row(cost, "storage")
    assert volume["hourly_usd"] == round(20 * 0.08 / 730, 4)
    assert cost["total_usd"] == round(0.005 + round(20 * 0.08 / 730, 4), 4)
    assert cost["unknown"] == []


def test_an_unattached_elastic_ip_costs_the_same():
    cost = stack_cost([], [{"public_ip": "192.0.2.1", "instance_id": ""}], "eu-west-1")
    assert [(r["hourly_usd"], r["state"]) for r in cost["rows"]] == [(0.005, "not attached")]
    assert cost["total_usd"] == 0.005


def test_the_elastic_ip_is_counted_once():
    cost = stack_cost([_edge()], EIP, "us-east-1")
    assert len(_row(cost, "public_ipv4")) == 1


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "eu-central-1"])
@pytest.mark.parametrize("gpu_state", ["running", "stopped"])
def test_rows_add_up_to_the_total(region, gpu_state):
    gpu = _gpu(state=gpu_state, public_ip="" if gpu_state == "stopped" else "203.0.113.9")
    cost = stack_cost([_edge(), gpu], EIP, region)
    rows = [r["hourly_usd"] for r in cost["rows"]]
    assert None not in rows
    assert cost["total_usd"] == round(sum(rows), 4)
    # What the table renders (4 decimals) adds up too.
    assert "%.4f" % cost["total_usd"] == "%.4f" % sum(float("%.4f" % r) for r in rows)


def test_running_stack_in_us_east_1():
    cost = stack_cost([_edge(), _gpu()], EIP, "us-east-1")
    assert _row(cost, "compute", "i-gpu")[0]["hourly_usd"] == 0.526
    assert _row(cost, "compute", "i-edge")[0]["hourly_usd"] == 0.0416
    assert len(_row(cost, "public_ipv4")) == 2
    expected = 0.526 + 0.0416 + 2 * 0.005 + round(100 * 0.08 / 730, 4) + round(20 * 0.08 / 730, 4)
    assert cost["total_usd"] == round(expected, 4)


def test_eu_west_1_is_not_priced_as_us_east_1():
    virginia = stack_cost([_edge(), _gpu()], EIP, "us-east-1")
    ireland = stack_cost([_edge(), _gpu()], EIP, "eu-west-1")
    assert _row(ireland, "compute", "i-gpu")[0]["hourly_usd"] == 0.587
    assert _row(ireland, "compute", "i-gpu")[0]["hourly_usd"] != _row(virginia, "compute", "i-gpu")[0]["hourly_usd"]
    assert _row(ireland, "storage", "i-gpu")[0]["hourly_usd"] == round(100 * 0.088 / 730, 4)
    assert ireland["total_usd"] > virginia["total_usd"]


def test_an_unknown_region_is_reported_not_priced():
    cost = stack_cost([_gpu()], [], "ap-south-2")
    compute = _row(cost, "compute")[0]
    assert compute["hourly_usd"] is None
    assert compute["note"] == "no price for g4dn.xlarge in ap-south-2 in the table dated %s" % aws_prices.READ_ON
    assert _row(cost, "storage")[0]["hourly_usd"] is None
    assert any(m.startswith("no prices for region ap-south-2") for m in cost["unknown"])
    # The public IPv4 price is the same in every region.
    assert cost["total_usd"] == 0.005


def test_an_unknown_instance_type_is_reported_not_priced():
    cost = stack_cost([_gpu(instance_type="p5.48xlarge")], [], "eu-central-1")
    assert _row(cost, "compute")[0]["hourly_usd"] is None
    assert cost["unknown"] == [
        "no price for p5.48xlarge in eu-central-1 in the table dated %s" % aws_prices.READ_ON]
    assert cost["total_usd"] == round(0.005 + round(100 * 0.0952 / 730, 4), 4)


def test_unknown_volume_sizes_are_reported():
    gpu = _gpu()
    del gpu["volumes"]
    cost = stack_cost([gpu], [], "us-east-1")
    assert _row(cost, "storage")[0]["hourly_usd"] is None
    assert cost["unknown"] == ["i-gpu: volume sizes unknown"]


def test_every_region_of_the_table_prices_the_stack_types():
    for region in ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1"):
        prices = aws_prices.REGIONS[region]
        for instance_type in ("g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge", "t3.small", "t3.medium", "t3.large"):
            assert prices["instance_hourly_usd"][instance_type] > 0
        assert prices["gp3_gb_month_usd"] > 0
    assert aws_prices.READ_ON and aws_prices.SOURCE


def test_bad_input_names_what_is_missing():
    with pytest.raises(CostInputError, match="instance_type"):
        stack_cost([{"instance_id": "i-1", "state": "running"}], [], "us-east-1")


def test_volumes_from_ec2_vol_info_are_matched_by_attachment():
    edge = _edge(state="stopped")
    del edge["volumes"]
    volumes = [{"id": "vol-1", "size": 20, "type": "gp3", "attachment_set": [{"instance_id": "i-edge"}]},
               {"id": "vol-2", "size": 8, "type": "io2", "attachment_set": [{"instance_id": "i-edge"}]},
               {"id": "vol-3", "size": 50, "type": "gp3", "attachment_set": [{"instance_id": "i-other"}]}]
    cost = stack_cost([edge], EIP, "us-east-1", volumes=volumes)
    storage = _row(cost, "storage")
    assert [r["item"] for r in storage] == ["vol-1 20 GiB gp3 (i-edge)", "vol-2 8 GiB io2 (i-edge)"]
    assert storage[0]["hourly_usd"] == round(20 * 0.08 / 730, 4) and storage[1]["hourly_usd"] is None
    assert cost["unknown"] == ["no price for io2 storage in us-east-1 in the table dated %s" % aws_prices.READ_ON]
