"""A voila server for the browser and side-by-side tests, and an offline chromium page.

The server is started the way `make dashboards` starts it (from the repository root, so voila.json
applies; the offline template from share/jupyter), on a free port, in its own process group, and
stopped by its id. Pages block every request that does not go to 127.0.0.1 and record it.
Under CI=true a missing chromium or playwright fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("SALESPIPE_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")


def require_browser():
    """The playwright sync API, or a skip (a failure under CI=true) naming what is missing."""
    ci = os.environ.get("CI", "").lower() == "true"
    try:
        from playwright import sync_api
    except ImportError:
        if ci:
            pytest.fail("CI=true but the playwright package is not installed", pytrace=False)
        pytest.skip("the playwright package is not installed", allow_module_level=True)
    if not Path(CHROMIUM).is_file():
        if ci:
            pytest.fail(f"CI=true but there is no chromium at {CHROMIUM} (apt-get install -y chromium)", pytrace=False)
        pytest.skip(f"no chromium binary at {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
    return sync_api


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Voila:
    """`voila notebooks` on a free port with SALESPIPE_DB=db; .url(notebook) is a dashboard's address."""

    def __init__(self, db: Path, log: Path, *, preheat: bool = False) -> None:
        self.port = free_port()
        self.db = db
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESPIPE_")}
        env.update(
            SALESPIPE_DB=str(db),
            JUPYTER_PATH=str(ROOT / "share" / "jupyter"),
            PLOOMBER_STATS_ENABLED="false",
            PYTHONUNBUFFERED="1",
        )
        command = [sys.executable, "-m", "voila", "notebooks", "--no-browser", f"--port={self.port}"]
        if preheat:
            command += ["--preheat_kernel=True", "--pool_size=1"]
        self.log = log
        self._out = open(log, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"voila did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)

    def url(self, notebook: str) -> str:
        return f"http://127.0.0.1:{self.port}/voila/render/{notebook}"

    def kernels(self) -> list[int]:
        """The pids of the kernels voila started (its child processes running ipykernel)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid and "ipykernel_launcher" in cmdline:
                found.append(int(entry.name))
        return sorted(found)

    def stop(self) -> None:
        """SIGTERM voila (it shuts its kernels down), then SIGKILL whatever is left of its process group.

        The group is killed while voila is still an unreaped zombie, so its id cannot have been
        given to another process group in between (pid_max is 32768 here)."""
        if self.proc.returncode is None:
            if self._exited() is None:
                self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 20
            while self._exited() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this class started, kernels included
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._out.close()

    def _exited(self) -> int | None:
        """voila's pid if it has exited (it stays a zombie until waited for), else None."""
        found = os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return None if found is None else found.si_pid


class OfflinePage:
    """A chromium page whose every non-local request is aborted and recorded in `.attempted`."""

    def __init__(self, browser) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.attempted: list[str] = []
        self.errors: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _route(self, route) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            self.attempted.append(route.request.url)
            route.abort()

    def charts(self, count: int, timeout: float = 120_000) -> None:
        """Wait until `count` plotly charts are drawn."""
        self.page.wait_for_function(
            f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {count}", timeout=timeout
        )

    def data(self, chart: str) -> list:
        """The traces' (y, x) of a dashboard chart as plotly.js holds them."""
        return self.page.evaluate(
            """(name) => { const el = document.querySelector(`.sp-chart-${name} .js-plotly-plot`);
                           return el.data.map(t => [Array.from(t.y || []), Array.from(t.x || [])]); }""",
            chart,
        )

    def kernel_id(self) -> str:
        return self.page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )

    def close(self) -> None:
        self.context.close()
