"""The status table of playbook 230: every line as the playbook prints it, and bad inputs named.

The expected lines are the text the playbook's Jinja template printed before
module_utils/status.py replaced it (checked equal on these inputs and more).
"""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.realtime_asr.whisperlive.plugins.filter.status import FilterModule
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.cost import stack_cost
from ansible_collections.realtime_asr.whisperlive.plugins.module_utils.status import StatusInputError, status_table

EDGE = {"role": "edge", "instance_id": "i-0edge00000000001", "instance_type": "t3.medium", "state": "running",
        "private_ip": "10.42.1.10", "public_ip": "198.51.100.7"}
GPU = {"role": "gpu", "instance_id": "i-0gpu000000000001", "instance_type": "g4dn.xlarge", "state": "running",
       "private_ip": "10.42.2.20", "public_ip": ""}
EXPOSURE = {
    "edge": {"group_id": "sg-0edge", "rules": ["tcp/443 <- 203.0.113.0/24", "tcp/22 <- 192.0.2.5/32"],
             "world_open": []},
    "gpu": {"group_id": "sg-0gpu", "rules": ["tcp/9090 <- sg-0edge"], "world_open": []},
}
COST = {
    "region": "us-east-1", "read_on": "2025-01-15", "total_usd": 0.5726, "unknown": [], "source": "table",
    "rows": [
        {"item": "i-0edge00000000001 t3.medium compute", "state": "running", "hourly_usd": 0.0416, "note": ""},
        {"item": "i-0gpu000000000001 g4dn.xlarge compute", "state": "running", "hourly_usd": 0.526, "note": ""},
        {"item": "Elastic IP 198.51.100.7", "state": "attached to running instance", "hourly_usd": 0.005,
         "note": "attached to i-0edge00000000001"},
    ],
}
SLEEP = {"state": "awake", "since": "2026-01-02T03:04:05+00:00", "stay_awake": False, "idle_minutes": 30,
         "streams": 2, "slept_today_s": 5432.1, "saved_today": 0.7937, "gpu_hourly_usd": 0.526,
         "message": "The transcription server is up.", "eta_s": 60.0}

HEAD = [
    "ROLE  INSTANCE             TYPE         STATE    PRIVATE IP      PUBLIC IP       SERVICE",
]
EDGE_UP = "edge  i-0edge00000000001   t3.medium    running  10.42.1.10      198.51.100.7    https up"
GPU_UP = "gpu   i-0gpu000000000001   g4dn.xlarge  running  10.42.2.20      -               whisperlive up"
GROUPS = [
    "security group edge sg-0edge: tcp/443 <- 203.0.113.0/24; tcp/22 <- 192.0.2.5/32",
    "security group gpu sg-0gpu: tcp/9090 <- sg-0edge",
]
COST_LINES = [
    "Cost per hour, us-east-1 On-Demand prices read on 2025-01-15:",
    "  i-0edge00000000001 t3.medium compute           running                           $0.0416",
    "  i-0gpu000000000001 g4dn.xlarge compute         running                           $0.5260",
    "  Elastic IP 198.51.100.7                        attached to running instance      $0.0050"
    "  attached to i-0edge00000000001",
    "Hourly cost of the stack: $0.5726",
]
SLEEP_LINES = [
    "GPU sleep: awake since 2026-01-02T03:04:05+00:00, stopped after 30 min without a stream; 2 stream(s) open;",
    "  asleep 1.5 h today (UTC), saved $0.79",
    "  at $0.526/h for the GPU workers",
]


def _table(**changes):
    """The table of a running, checked stack, with ``changes`` to its inputs."""
    inputs = {
        "instances": [EDGE, GPU], "stack": "rasr-test", "region": "us-east-1", "cost": COST,
        "endpoint_url": "", "probed": [GPU["instance_id"]], "down": [], "edge_code": 200,
        "hosts_checked": True, "exposure": EXPOSURE, "gpu_sleep": SLEEP,
    }
    inputs.update(changes)
    return status_table(**inputs)


def test_a_running_stack_every_line():
    assert _table() == ["Stack rasr-test in us-east-1"] + HEAD + [EDGE_UP, GPU_UP] + GROUPS + COST_LINES + SLEEP_LINES


def test_an_endpoint_url_is_named_on_the_first_line():
    assert _table(endpoint_url="http://127.0.0.1:5000")[0] == "Stack rasr-test in us-east-1 via http://127.0.0.1:5000"
    assert _table(endpoint_url=None)[0] == "Stack rasr-test in us-east-1"


def test_a_stopped_gpu_worker_is_not_checked():
    stopped = dict(GPU, instance_id="i-0gpu000000000002", state="stopped", private_ip="10.42.2.21")
    rows = _table(instances=[EDGE, GPU, stopped])[2:5]
    assert rows == [
        EDGE_UP,
        GPU_UP,
        "gpu   i-0gpu000000000002   g4dn.xlarge  stopped  10.42.2.21      -               not checked",
    ]


def test_a_down_whisperlive_and_a_failing_edge():
    rows = _table(down=[GPU["instance_id"]], edge_code=502)[2:4]
    assert rows == [
        "edge  i-0edge00000000001   t3.medium    running  10.42.1.10      198.51.100.7    https DOWN (502)",
        "gpu   i-0gpu000000000001   g4dn.xlarge  running  10.42.2.20      -               whisperlive DOWN",
    ]
    # An edge that did not answer, and a code handed in as text (as from a
    # non-native template) read the same.
    assert _table(edge_code=-1)[2].endswith("https DOWN (-1)")
    assert _table(edge_code="200")[2] == EDGE_UP


def test_hosts_not_checked():
    lines = _table(hosts_checked=False, probed=[], edge_code=-1, gpu_sleep={})
    assert lines[2:4] == [
        "edge  i-0edge00000000001   t3.medium    running  10.42.1.10      198.51.100.7    not checked",
        "gpu   i-0gpu000000000001   g4dn.xlarge  running  10.42.2.20      -               not checked",
    ]
    assert lines[-1] == "GPU sleep: not deployed (gpu_sleep_enabled false) or not asked"
    # The defaults are "nothing checked".
    assert status_table([EDGE, GPU], "rasr-test", "us-east-1", COST) == lines[:4] + COST_LINES + lines[-1:]


def test_a_world_open_group_and_a_group_without_rules():
    exposure = {
        "edge": {"group_id": "sg-0edge", "rules": ["tcp/443 <- 0.0.0.0/0", "tcp/80 <- ::/0"],
                 "world_open": ["tcp/443 <- 0.0.0.0/0 (the whole IPv4 internet)", "tcp/80 <- ::/0"]},
        "gpu": {"group_id": "sg-0gpu", "rules": [], "world_open": []},
    }
    assert _table(exposure=exposure)[4:6] == [
        "security group edge sg-0edge: tcp/443 <- 0.0.0.0/0; tcp/80 <- ::/0"
        "  OPEN TO THE INTERNET: tcp/443 <- 0.0.0.0/0 (the whole IPv4 internet); tcp/80 <- ::/0",
        "security group gpu sg-0gpu: admits nothing",
    ]
    lines = _table(exposure={})
    assert lines[4] == COST_LINES[0], "no groups, no lines"
    assert _table(exposure=None) == lines


def test_unknown_cost_parts():
    cost = dict(COST, total_usd=0.0466, unknown=["i-0edge00000000001: volume sizes unknown", "no price for p9 in x"],
                rows=[COST["rows"][0], {"item": "i-0edge00000000001 EBS volumes", "state": "running",
                                        "hourly_usd": None, "note": "volume sizes unknown"}])
    assert _table(cost=cost)[7:10] == [
        "  i-0edge00000000001 t3.medium compute           running                           $0.0416",
        "  i-0edge00000000001 EBS volumes                 running                           unknown  volume sizes unknown",
        "Hourly cost of the stack: $0.0466 + unknown (i-0edge00000000001: volume sizes unknown; no price for p9 in x)",
    ]


def test_the_cost_of_stack_cost_as_playbook_230_prints_it():
    instances = [EDGE, GPU]
    cost = stack_cost(instances, [{"public_ip": EDGE["public_ip"], "instance_id": EDGE["instance_id"]}], "us-east-1")
    lines = _table(cost=cost)
    total = ("Hourly cost of the stack: $%.4f + unknown (i-0edge00000000001: volume sizes unknown; "
             "i-0gpu000000000001: volume sizes unknown)" % (0.0416 + 0.526 + 0.005))
    assert total == "Hourly cost of the stack: $0.5726 + unknown (i-0edge00000000001: volume sizes unknown; " \
                    "i-0gpu000000000001: volume sizes unknown)"
    assert total in lines
    assert "  i-0gpu000000000001 EBS volumes                 running                           unknown" \
           "  volume sizes unknown" in lines


def test_gpu_sleep_state_present():
    assert _table()[-3:] == SLEEP_LINES
    staying = dict(SLEEP, stay_awake=True, streams=0, slept_today_s=0, saved_today=0, gpu_hourly_usd=1.026)
    del staying["idle_minutes"]
    assert _table(gpu_sleep=staying)[-3:] == [
        "GPU sleep: awake since 2026-01-02T03:04:05+00:00 (stay awake: never stopped); 0 stream(s) open;",
        "  asleep 0.0 h today (UTC), saved $0.00",
        "  at $1.026/h for the GPU workers",
    ]


def test_gpu_sleep_state_absent():
    why = "no answer from /run/rasr-gpu-sleep/gpu.sock (gpu_sleep off, or the daemon is down: refused)"
    assert _table(gpu_sleep={"message": why})[-1] == "GPU sleep: " + why
    assert _table(gpu_sleep={})[-1] == "GPU sleep: not deployed (gpu_sleep_enabled false) or not asked"
    assert _table(gpu_sleep=None)[-1] == "GPU sleep: not deployed (gpu_sleep_enabled false) or not asked"


def test_none_prints_as_the_template_printed_it():
    # On its own: nothing; inside a column: "None".
    lines = _table(stack=None, instances=[dict(EDGE, state=None, public_ip=None)], gpu_sleep={"message": None})
    assert lines[0] == "Stack  in us-east-1"
    assert lines[2] == "edge  i-0edge00000000001   t3.medium    None     10.42.1.10      -               https up"
    assert lines[-1] == "GPU sleep: "


def test_a_line_break_in_a_value_makes_two_lines():
    assert _table(gpu_sleep={"message": "one\ntwo"})[-2:] == ["GPU sleep: one", "two"]


@pytest.mark.parametrize("changes, named", [
    ({"instances": {"edge": EDGE}}, "instances: expected a list"),
    ({"instances": [dict(EDGE, private_ip=None), "i-1"]}, "instances[1]: expected a dict"),
    ({"instances": [{k: v for k, v in GPU.items() if k != "private_ip"}]}, "lacks private_ip"),
    ({"probed": "i-0gpu000000000001"}, "probed: expected a list"),
    ({"down": {"i-1": True}}, "down: expected a list"),
    ({"edge_code": "teapot"}, "edge_code: expected an HTTP status code"),
    ({"hosts_checked": "yes"}, "hosts_checked: expected a boolean"),
    ({"endpoint_url": ["http://x"]}, "endpoint_url: expected a string"),
    ({"exposure": ["sg-1"]}, "exposure: expected a dict"),
    ({"exposure": {"edge": {"group_id": "sg-1", "rules": []}}}, "exposure['edge'] {'group_id': 'sg-1', 'rules': []} "
                                                                "lacks world_open"),
    ({"exposure": {"edge": dict(EXPOSURE["edge"], rules="tcp/22")}}, "exposure['edge'].rules: expected a list"),
    ({"cost": None}, "cost: expected a dict"),
    ({"cost": {k: v for k, v in COST.items() if k not in ("total_usd", "read_on")}}, "lacks read_on, total_usd"),
    ({"cost": dict(COST, rows=[{"item": "x", "state": "running", "hourly_usd": 1.0}])}, "cost.rows[0]"),
    ({"cost": dict(COST, rows=[dict(COST["rows"][0], hourly_usd="0.1")])}, "cost.rows[0].hourly_usd: expected a number"),
    ({"cost": dict(COST, total_usd="0.57")}, "cost.total_usd: expected a number"),
    ({"cost": dict(COST, unknown="x")}, "cost.unknown: expected a list"),
    ({"gpu_sleep": "asleep"}, "gpu_sleep: expected a dict"),
    ({"gpu_sleep": {"state": "asleep", "since": "x"}}, "lacks stay_awake, streams, slept_today_s"),
    ({"gpu_sleep": {k: v for k, v in SLEEP.items() if k != "idle_minutes"}}, "lacks idle_minutes"),
    ({"gpu_sleep": dict(SLEEP, saved_today=None)}, "gpu_sleep.saved_today: expected a number"),
])
def test_a_bad_input_is_named(changes, named):
    with pytest.raises(StatusInputError) as raised:
        _table(**changes)
    assert named in str(raised.value)


def test_the_filter_renders_and_reports_bad_input():
    status = FilterModule().filters()["status_table"]
    lines = status([EDGE, GPU], stack="rasr-test", region="us-east-1", cost=COST, probed=[GPU["instance_id"]],
                   edge_code=200, hosts_checked=True, exposure=EXPOSURE, gpu_sleep=SLEEP)
    assert lines == _table()
    with pytest.raises(AnsibleFilterError, match=r"^status_table: cost: expected a dict, got \[\]"):
        status([EDGE], stack="rasr-test", region="us-east-1", cost=[])
