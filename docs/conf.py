"""Sphinx configuration: ``make docs`` builds the Markdown pages of this folder (MyST) into _build/html."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]
# accessible-pygments (a dependency of the furo theme) calls logging.basicConfig(level=INFO) when Sphinx
# loads it, and autodoc imports Airflow, which logs at INFO while it reads its configuration, before its
# own logging settings apply: only warnings from Airflow belong in the build's output.
logging.getLogger("airflow").setLevel(logging.WARNING)

from airflow_provider_cfw.get_provider_info import __version__  # noqa: E402

project = "airflow-provider-cfw"
author = "airflow-provider-cfw developers"
copyright = "the airflow-provider-cfw developers; Apache License 2.0"
release = version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "quoted_includes"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "examples", "_ext"]
quoted_includes_root = str(ROOT)

# Anchors for the pages' own "#section" links, as a code host renders them.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"airflow-provider-cfw {release}"
