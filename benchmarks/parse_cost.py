"""DAG parse cost: ``import airflow.sdk`` alone against ``import airflow.sdk`` plus the sensor module.

Each sample is a fresh interpreter (nothing cached in ``sys.modules``), the two variants alternating
so that the machine's noise hits both; the figure is the median.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import ROOT, client_env

SENSOR_MODULE = "airflow_provider_cfw.sensors.cfw"
#: What a DAG file that only builds the sensor should not need.
HEAVY_MODULES = (
    "aiohttp",
    "requests",
    "tenacity",
    "yarl",
    "airflow_provider_cfw.hooks.cfw",
    "airflow_provider_cfw.core.transport",
    "airflow_provider_cfw.core.sync_transport",
    "airflow_provider_cfw.core.client",
)

_PROBE = """
import json, sys, time
t = time.perf_counter()
import airflow.sdk
sdk = time.perf_counter() - t
t = time.perf_counter()
if {with_sensor}:
    import {sensor}
sensor = time.perf_counter() - t
print(json.dumps({{"sdk": sdk, "sensor": sensor, "modules": [m for m in {heavy!r} if m in sys.modules]}}))
"""


@dataclass(frozen=True)
class ParseCost:
    """Medians over ``samples`` fresh interpreters per variant.

    :param sdk_s: ``import airflow.sdk`` alone.
    :param with_sensor_s: ``import airflow.sdk`` then the sensor module, in one process.
    :param sensor_s: the sensor module's own import, after ``airflow.sdk``.
    :param sdk_modules: heavy modules already loaded by ``airflow.sdk`` alone.
    :param sensor_modules: heavy modules loaded once the sensor module is imported too.
    :param added_pct: the sensor's import as a percentage of ``import airflow.sdk``, per process.
    """

    samples: int
    sdk_s: float
    with_sensor_s: float
    sensor_s: float
    sdk_modules: tuple[str, ...]
    sensor_modules: tuple[str, ...]

    #: The sensor's import as a share of ``import airflow.sdk`` in the same process (median): paired,
    #: so a busy moment slows both halves of a sample alike.
    added_pct: float

    @property
    def added_modules(self) -> tuple[str, ...]:
        return tuple(m for m in self.sensor_modules if m not in self.sdk_modules)


def _sample(with_sensor: bool, env: dict[str, str]) -> tuple[float, float, tuple[str, ...]]:
    """(``import airflow.sdk`` seconds, the sensor's seconds, heavy modules loaded) in a fresh process."""
    code = _PROBE.format(with_sensor=with_sensor, sensor=SENSOR_MODULE, heavy=HEAVY_MODULES)
    out = subprocess.run(  # noqa: S603 - this interpreter, our own probe
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    sample = json.loads(out.stdout.strip().splitlines()[-1])
    return float(sample["sdk"]), float(sample["sensor"]), tuple(sample["modules"])


def measure_parse_cost(samples: int = 7, provider_src: Path | None = None) -> ParseCost:
    with tempfile.TemporaryDirectory(prefix="cfw-bench-parse-") as home:
        env = client_env(provider_src, Path(home))
        _sample(True, env)  # the first import writes airflow.cfg and warms the page cache: not counted
        plain, with_sensor = [], []
        for _ in range(samples):
            plain.append(_sample(False, env))
            with_sensor.append(_sample(True, env))
    return ParseCost(
        samples=samples,
        sdk_s=statistics.median(sdk for sdk, _, _ in plain),
        with_sensor_s=statistics.median(sdk + sensor for sdk, sensor, _ in with_sensor),
        sensor_s=statistics.median(sensor for _, sensor, _ in with_sensor),
        sdk_modules=plain[0][2],
        sensor_modules=with_sensor[0][2],
        added_pct=statistics.median(sensor / sdk * 100 for sdk, sensor, _ in with_sensor),
    )
