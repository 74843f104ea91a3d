"""Operators for Huawei Cloud Firewall (CFW): create and delete firewalls."""

from __future__ import annotations
