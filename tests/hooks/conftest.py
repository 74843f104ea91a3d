"""The hook tests share the emulator and connection fixtures of the trigger tests."""

from __future__ import annotations

from tests.triggers.conftest import conn, emu, set_conn

__all__ = ["conn", "emu", "set_conn"]
