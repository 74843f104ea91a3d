"""``make bench``: what a wait costs on the triggerer, the provider against a bare aiohttp floor.

Each client runs in its own process against one emulator process; see ``docs/performance.md``.
"""
