"""Where CFW and IAM live for a region: the provider's one copy of Huawei's region tables.

The tables follow the official SDK 3.1.219's region files (``huaweicloudsdkcfw.v1.region`` and
``huaweicloudsdkiam.v3.region``); a test compares them, so an SDK upgrade shows what changed. The
SDK itself is never imported here.
"""

from __future__ import annotations

from difflib import get_close_matches

from airflow_provider_cfw.core.errors import CfwConfigError

#: Regions with a CFW endpoint in the SDK.
CFW_REGIONS = frozenset(
    {
        "af-north-1", "af-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
        "ap-southeast-4", "ap-southeast-5", "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5",
        "cn-north-4", "cn-north-9", "cn-north-11", "cn-north-12", "cn-south-1", "cn-south-2",
        "cn-south-4", "cn-southwest-2", "cn-southwest-3", "eu-west-101", "la-north-2", "la-south-2",
        "me-east-1", "my-kualalumpur-1", "ru-moscow-1", "sa-brazil-1", "tr-west-1",
    }
)  # fmt: skip
#: Regions with an IAM endpoint of their own in the SDK; every other region uses the global one.
IAM_REGIONS = frozenset(
    {
        "ae-ad-1", "af-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-1", "cn-north-2", "cn-north-4",
        "cn-north-9", "cn-north-12", "cn-south-1", "cn-south-2", "cn-southwest-2", "eu-west-0",
        "eu-west-101", "la-north-2", "la-south-2", "me-east-1", "my-kualalumpur-1", "na-mexico-1",
        "ru-moscow-1", "sa-brazil-1", "tr-west-1",
    }
)  # fmt: skip
#: IAM for regions without their own (af-north-1, cn-north-11, ... in SDK 3.1.219), as in the SDK.
GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"
#: Regions whose services live under a domain other than myhuaweicloud.com.
_REGION_DOMAINS = {"eu-west-101": "myhuaweicloud.eu"}


def _domain(region: str) -> str:
    return _REGION_DOMAINS.get(region, "myhuaweicloud.com")


def cfw_endpoint(region: str, field: str = "region") -> str:
    """CFW's base URL in ``region``.

    :param region: a region id.
    :param field: the name to blame when the region is unknown.
    :raises CfwConfigError: for a region not in the table: a typo would otherwise surface as DNS
        failures, retried, long after the connection was saved.
    """
    if region not in CFW_REGIONS:
        raise CfwConfigError(
            field,
            f"a CFW region this provider knows (known: {', '.join(sorted(CFW_REGIONS))}); "
            "set the connection's 'endpoint' extra to use a new region",
            got=repr(region)[:80],
        )
    return f"https://cfw.{region}.{_domain(region)}"


def iam_endpoint(region: str | None) -> str:
    """IAM's base URL for ``region``: its own where it has one, else the global IAM."""
    if region is None or region not in IAM_REGIONS:
        return GLOBAL_IAM_ENDPOINT
    return f"https://iam.{region}.{_domain(region)}"


def unknown_region_note(region: str) -> str:
    """``'cn-nort-4' is not a CFW region this provider knows (did you mean 'cn-north-4'?)``, or ``""``
    for a known region.

    With ``endpoint`` set, any region id is accepted (a private cloud names its own), so a typo is only
    found when IAM knows no project by that name: this says then which of the two it most likely is.
    """
    if region in CFW_REGIONS:
        return ""
    close = get_close_matches(region, sorted(CFW_REGIONS), n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{region!r} is not a CFW region this provider knows{guess}"
