"""Triggers for Huawei Cloud Firewall (CFW) jobs."""

from __future__ import annotations
