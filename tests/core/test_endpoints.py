"""The region tables against the official SDK's own region files (the SDK is a test dependency)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from airflow_provider_cfw.core import endpoints


def _sdk_regions(module: str, cls: str) -> dict[str, str]:
    # Not importorskip: the SDK is a locked test dependency, so its absence is a failure.
    region_class: Any = getattr(importlib.import_module(module), cls)
    return {region_id: region.endpoints[0] for region_id, region in region_class.static_fields.items()}


@pytest.fixture
def sdk_cfw(sdk_home: None) -> dict[str, str]:
    return _sdk_regions("huaweicloudsdkcfw.v1.region.cfw_region", "CfwRegion")


@pytest.fixture
def sdk_iam(sdk_home: None) -> dict[str, str]:
    return _sdk_regions("huaweicloudsdkiam.v3.region.iam_region", "IamRegion")


def test_cfw_regions_are_the_sdks(sdk_cfw: dict[str, str]) -> None:
    assert set(sdk_cfw) == endpoints.CFW_REGIONS
    assert {region: endpoints.cfw_endpoint(region) for region in sdk_cfw} == sdk_cfw


def test_iam_regions_are_the_sdks(sdk_iam: dict[str, str]) -> None:
    assert set(sdk_iam) == endpoints.IAM_REGIONS
    assert {region: endpoints.iam_endpoint(region) for region in sdk_iam} == sdk_iam


def test_every_cfw_region_gets_the_iam_the_sdk_would_use(
    sdk_cfw: dict[str, str], sdk_iam: dict[str, str]
) -> None:
    core: Any = importlib.import_module("huaweicloudsdkcore.auth.internal")
    for region in sdk_cfw:
        # The IAM SDK's region file first (it knows eu-west-101's .eu host), else the core's fallback.
        expected = sdk_iam.get(region) or core.IamHelper.get_iam_endpoint(region)
        assert endpoints.iam_endpoint(region) == expected, region
    without_own_iam = {r for r in sdk_cfw if r not in sdk_iam}
    assert without_own_iam == {"af-north-1", "ap-southeast-5", "cn-north-11", "cn-south-4", "cn-southwest-3"}
    assert endpoints.iam_endpoint("eu-west-101") == "https://iam.eu-west-101.myhuaweicloud.eu"
