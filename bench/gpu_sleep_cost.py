#!/usr/bin/env python
"""What GPU sleep saves: the AWS stack's daily cost for a team that uses it a few hours a day.

Prices come from the collection's one price table (plugins/module_utils/
aws_prices.py, dated); nothing here restates a price. Prints figures, not
pass/fail.

    .venv/bin/python bench/gpu_sleep_cost.py --hours 6 --sessions 2 --idle-minutes 30

Always on: the GPU worker runs 24 h. By hand (the original guide): 210 in
the evening and 220 in the morning, so it runs a working day whether anyone
speaks or not. GPU sleep: it runs while people speak, plus the idle time
after each session (gpu_sleep_idle_minutes) and each start. The edge, the
volumes and the Elastic IP cost the same in all three.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "collections"))

from ansible_collections.realtime_asr.whisperlive.plugins.module_utils import aws_prices  # noqa: E402


def daily(region, gpu_type, edge_type, gpu_hours, gpu_gb=100, edge_gb=20):
    table = aws_prices.REGIONS[region]
    gpu = table["instance_hourly_usd"][gpu_type] * gpu_hours
    fixed = 24 * (table["instance_hourly_usd"][edge_type] + aws_prices.PUBLIC_IPV4_HOURLY_USD
                  + (gpu_gb + edge_gb) * table["gp3_gb_month_usd"] / aws_prices.HOURS_PER_MONTH)
    return gpu + fixed, gpu, fixed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--gpu-type", default="g4dn.xlarge")
    parser.add_argument("--edge-type", default="t3.medium")
    parser.add_argument("--hours", type=float, default=6.0, help="hours a day somebody streams")
    parser.add_argument("--sessions", type=int, default=2, help="separate sessions a day")
    parser.add_argument("--idle-minutes", type=float, default=30.0, help="gpu_sleep_idle_minutes")
    parser.add_argument("--start-minutes", type=float, default=2.0, help="a start, until the page streams")
    parser.add_argument("--workday", type=float, default=10.0, help="hours between 220 and 210, by hand")
    args = parser.parse_args(argv)
    sleep_hours = args.hours + args.sessions * (args.idle_minutes + args.start_minutes) / 60.0
    rows = [("always on", 24.0), ("210/220 by hand (%.0f h a day)" % args.workday, args.workday),
            ("GPU sleep (%d session(s), idle %.0f min)" % (args.sessions, args.idle_minutes), sleep_hours)]
    print("%s, %s GPU + %s edge, prices read on %s; a team streaming %.1f h a day" % (
        args.region, args.gpu_type, args.edge_type, aws_prices.READ_ON, args.hours))
    base = None
    for label, hours in rows:
        total, gpu, fixed = daily(args.region, args.gpu_type, args.edge_type, hours)
        base = total if base is None else base
        print("  %-40s GPU %5.1f h/day  $%6.2f/day (GPU $%5.2f + edge, volumes, IPv4 $%4.2f)  %3.0f%% of always on"
              % (label, hours, total, gpu, fixed, 100.0 * total / base))


if __name__ == "__main__":
    main()
