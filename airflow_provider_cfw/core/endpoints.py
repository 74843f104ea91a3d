"""Where CFW and IAM live for a region."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

#: Regions with a CFW endpoint in the official SDK 3.1.219. New regions appear often, so an unknown
#: one still works through the usual host pattern; it only earns a warning.
KNOWN_CFW_REGIONS = frozenset(
    {
        "cn-southwest-3", "cn-north-12", "ru-moscow-1", "eu-west-101", "cn-south-4", "cn-southwest-2",
        "cn-south-1", "cn-east-3", "cn-north-4", "ap-southeast-1", "ap-southeast-3", "la-north-2",
        "ap-southeast-2", "ap-southeast-4", "la-south-2", "cn-north-9", "cn-east-2", "af-south-1",
        "sa-brazil-1", "tr-west-1", "me-east-1", "cn-north-11", "cn-south-2", "cn-east-4",
        "ap-southeast-5", "af-north-1", "cn-east-5", "my-kualalumpur-1",
    }
)  # fmt: skip
#: Regions whose services live under a domain other than myhuaweicloud.com.
_REGION_DOMAINS = {"eu-west-101": "myhuaweicloud.eu"}
_warned: set[str] = set()


def _domain(region: str) -> str:
    return _REGION_DOMAINS.get(region, "myhuaweicloud.com")


def cfw_endpoint(region: str) -> str:
    if region not in KNOWN_CFW_REGIONS and region not in _warned:
        _warned.add(region)
        log.warning(
            "Region %s is not among the regions known to have CFW; using https://cfw.%s.%s. "
            "Set the connection's 'endpoint' extra if that is wrong.",
            region,
            region,
            _domain(region),
        )
    return f"https://cfw.{region}.{_domain(region)}"


def iam_endpoint(region: str | None) -> str:
    if region is None:
        return "https://iam.myhuaweicloud.com"
    return f"https://iam.{region}.{_domain(region)}"
