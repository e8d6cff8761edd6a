"""Real Jupyter kernels for the side-by-side test: each one a process, as in JupyterLab.

`Kernel(env)` starts this venv's python3 kernel with the given environment; `.run(code)` executes
a cell and returns what it printed and displayed (text), failing on an error; `.run_notebook(path)`
runs every code cell of a notebook, in order. `.shutdown()` stops it.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from jupyter_client.manager import start_new_kernel


class KernelFailed(AssertionError):
    pass


class Kernel:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env, cwd=str(cwd), startup_timeout=120)

    def run(self, code: str, timeout: float = 180) -> str:
        """Execute `code` as one cell; the text of its stream and display outputs."""
        texts: list[str] = []
        errors: list[str] = []

        def hook(msg: dict) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                texts.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                data = content["data"]
                texts.append(data.get("text/markdown") or data.get("text/plain", ""))
            elif kind == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=hook, allow_stdin=False)
        if reply["content"]["status"] != "ok" or errors:
            raise KernelFailed(f"the cell failed: {errors or reply['content']}\n--- cell ---\n{code}")
        return "".join(texts)

    def run_notebook(self, path: Path) -> list[str]:
        nb = nbformat.read(path, as_version=4)
        return [self.run(cell.source) for cell in nb.cells if cell.cell_type == "code"]

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
