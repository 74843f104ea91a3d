"""The sensor tests reuse the trigger tests' emulator and connection fixtures."""

from __future__ import annotations

from tests.triggers.conftest import conn, emu, set_conn

__all__ = ["conn", "emu", "set_conn"]
