# -*- coding: utf-8 -*-
# Copyright: (c) 2026, realtime_asr maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The one price table of the collection: AWS list prices, dated, per region.

Read by module_utils/cost.py (filter ``stack_cost``, playbook 230). Nothing
else restates a price. When you update a figure, update ``READ_ON`` too; a
region or instance type missing here is reported as "no price", never
priced from another region.

- ``instance_hourly_usd``: On-Demand, Linux, shared tenancy, USD per hour.
- ``gp3_gb_month_usd``: EBS gp3 storage, USD per GB-month (baseline IOPS
  and throughput, which are free up to 3000 IOPS / 125 MB/s).
- ``PUBLIC_IPV4_HOURLY_USD``: every public IPv4 address, in use or idle,
  Elastic or auto-assigned, since 2024-02-01; the same in every region.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The date of the newest data the table was checked against. No pricing API
# is reachable where this collection is built: g4dn.2xlarge was checked
# against instances.vantage.sh's copy of the AWS price list of that date;
# the other figures are AWS's published list prices as the maintainers knew
# them then, not re-read since. Re-read them before relying on a total.
READ_ON = "2025-11-30"
SOURCE = (
    "AWS list prices (aws.amazon.com/ec2/pricing/on-demand, Linux; aws.amazon.com/ebs/pricing, gp3; "
    "aws.amazon.com/vpc/pricing, public IPv4), g4dn.2xlarge checked against instances.vantage.sh data "
    "of 2025-11-30, the rest not re-read since"
)
# AWS bills a GB-month as 730 hours.
HOURS_PER_MONTH = 730
PUBLIC_IPV4_HOURLY_USD = 0.005

_US = {
    "instance_hourly_usd": {
        "g4dn.xlarge": 0.526,
        "g4dn.2xlarge": 0.752,
        "g5.xlarge": 1.006,
        "t3.small": 0.0208,
        "t3.medium": 0.0416,
        "t3.large": 0.0832,
    },
    "gp3_gb_month_usd": 0.08,
}

REGIONS = {
    "us-east-1": _US,
    "us-east-2": _US,
    "us-west-2": _US,
    "eu-west-1": {
        "instance_hourly_usd": {
            "g4dn.xlarge": 0.587,
            "g4dn.2xlarge": 0.838,
            "g5.xlarge": 1.123,
            "t3.small": 0.0228,
            "t3.medium": 0.0456,
            "t3.large": 0.0912,
        },
        "gp3_gb_month_usd": 0.088,
    },
    "eu-central-1": {
        "instance_hourly_usd": {
            "g4dn.xlarge": 0.658,
            "g4dn.2xlarge": 0.94,
            "g5.xlarge": 1.258,
            "t3.small": 0.024,
            "t3.medium": 0.048,
            "t3.large": 0.096,
        },
        "gp3_gb_month_usd": 0.0952,
    },
}


def price_table():
    """The table as one dict (what cost.stack_cost takes)."""
    return {
        "read_on": READ_ON,
        "source": SOURCE,
        "hours_per_month": HOURS_PER_MONTH,
        "public_ipv4_hourly_usd": PUBLIC_IPV4_HOURLY_USD,
        "regions": REGIONS,
    }
