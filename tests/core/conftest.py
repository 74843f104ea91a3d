from __future__ import annotations

import pytest


@pytest.fixture
def sdk_home(tmp_path, monkeypatch) -> None:
    # Importing huaweicloudsdkcore writes ~/.huaweicloud/application_id: keep it in a temp HOME.
    monkeypatch.setenv("HOME", str(tmp_path))
