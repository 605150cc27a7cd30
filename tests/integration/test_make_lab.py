"""`make lab` starts JupyterLab on the workbook (as root too) and serves the notebooks; bounded in time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx

from genai_lab.paths import repo_root

STARTUP_TIMEOUT_S = 120
TOKEN = "genai-lab-test-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group (make and jupyter), then SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def test_make_lab_serves_the_workbook(tmp_path):
    port = _free_port()
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={TOKEN} --ServerApp.port_retries=0"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
            cwd=repo_root(),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"token {TOKEN}"}
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"make lab exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{base}/api/status", headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"no answer in {STARTUP_TIMEOUT_S} s:\n{log.read_text()}"
            time.sleep(0.5)

        page = httpx.get(f"{base}/lab?token={TOKEN}", timeout=10, follow_redirects=True)
        assert page.status_code == 200 and "JupyterLab" in page.text

        listing = httpx.get(f"{base}/api/contents/notebooks", headers=headers, timeout=10)
        assert listing.status_code == 200
        names = {item["name"] for item in listing.json()["content"]}
        expected = {p.name for p in (repo_root() / "notebooks").glob("*.ipynb")}
        assert "00_setup.ipynb" in names and expected <= names

        unauthorised = httpx.get(f"{base}/api/contents/notebooks", timeout=10)
        assert unauthorised.status_code == 403  # the token is required
    finally:
        _stop(process)
    text = log.read_text()
    if os.geteuid() == 0:
        assert "--allow-root" in text and "running as root" in text
    assert "Running as root is not recommended" not in text
