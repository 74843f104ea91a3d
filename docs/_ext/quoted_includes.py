"""Sphinx: the code a page quotes comes from its source file at build time, and a stale quote fails.

A page keeps a copy under a marker, so that it reads well on a code host too::

    <!-- include example_dags/example_cfw_hook.py howto_operator_cfw_hook -->   (a # [START]/[END] block)
    <!-- include docs/examples/testing/conftest.py -->                         (a whole file)

followed by a fenced block. At ``source-read`` the fenced copy is replaced by a ``literalinclude`` of
the file (between the markers, dedented), and a copy that differs from the file is a warning, which
``make docs`` (``-W``) turns into a failed build.

Links from a page to the repository outside ``docs/`` (``[example_dags/](../example_dags)``) work on a
code host; the built site has nothing to link them to, so there they become their text.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

QUOTE = re.compile(r"<!-- include (\S+)(?: (\w+))? -->\n```(\w+)\n(.*?)```\n", re.DOTALL)
LINK = re.compile(r"\[([^\]]+)\]\((\.\./[^)#\s]*)\)")


def _block(text: str, name: str) -> str | None:
    """The dedented lines between ``# [START name]`` and ``# [END name]``, or None without them."""
    match = re.search(
        rf"^[ \t]*# \[START {name}\][ \t]*\n(.*?)^[ \t]*# \[END {name}\][ \t]*$",
        text,
        re.MULTILINE | re.DOTALL,
    )
    if match is None:
        return None
    return textwrap.dedent(match.group(1)).strip("\n") + "\n"


def _directive(relative: str, language: str, name: str | None) -> str:
    lines = [f"```{{literalinclude}} {relative}", f":language: {language}"]
    if name:
        lines += [f':start-after: "# [START {name}]"', f':end-before: "# [END {name}]"', ":dedent:"]
    return "\n".join([*lines, "```", ""])


def _replace_quotes(app: Sphinx, docname: str, source: list[str]) -> None:
    root = Path(app.config.quoted_includes_root)
    doc_dir = (Path(app.srcdir) / docname).parent

    def replace(match: re.Match[str]) -> str:
        path, name, language, copy = match.groups()
        target = root / path
        if not target.is_file():
            logger.warning("%s: quoted file %s does not exist", docname, path, location=docname)
            return match.group(0)
        text = target.read_text(encoding="utf-8")
        expected = text if name is None else _block(text, name)
        if expected is None:
            logger.warning("%s: %s has no # [START/END %s] pair", docname, path, name, location=docname)
        elif copy != expected:
            quoted = f"{path} {name}" if name else path
            logger.warning("%s: the copy of %s is stale", docname, quoted, location=docname)
        relative = Path(*[".."] * len(doc_dir.relative_to(root).parts), path).as_posix()
        return _directive(relative, language, name)

    def unlink(match: re.Match[str]) -> str:
        target = (doc_dir / match.group(2)).resolve()
        return match.group(1) if not target.is_relative_to(Path(app.srcdir).resolve()) else match.group(0)

    source[0] = LINK.sub(unlink, QUOTE.sub(replace, source[0]))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("quoted_includes_root", "", "env")
    app.connect("source-read", _replace_quotes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
