"""Running the notebooks of notebooks/ in kernels of their own (nbclient), for the tests."""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def kernel_env(overrides: dict) -> dict[str, str]:
    """The test process's environment (PYSPARK_PYTHON, GX_ANALYTICS_ENABLED...) plus the overrides as
    INLIFE_<SECTION>__<KEY> variables, which the notebook's load_config applies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLIFE_")}
    env.update({"INLIFE_ENV": "test", "GX_ANALYTICS_ENABLED": "false", "PYSPARK_PYTHON": sys.executable,
                "INLIFE_SPARK__SHOW_CONSOLE_PROGRESS": "false", "INLIFE_SPARK__UI_ENABLED": "false",
                "INLIFE_SPARK__DRIVER_MEMORY": "1g"})
    for key, value in overrides.items():
        env["INLIFE_" + key.upper().replace(".", "__")] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def execute(name: str, env: dict[str, str]):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    started = time.time()
    # A failing cell raises CellExecutionError with the cell's source and traceback.
    NotebookClient(nb, kernel_name="python3", timeout=600, startup_timeout=120,
                   resources={"metadata": {"path": str(NOTEBOOKS)}}).execute(env=env)
    print(f"[notebooks] {name}: {time.time() - started:.0f}s")
    return nb


# Two at a time: most of a run is a JVM starting and waiting on its driver, so two overlap well on two cores
# (with the other test worker beside them), and more would crowd the kernels' start-up timeouts.
AT_ONCE = 2


def execute_all(runs: dict[str, dict[str, str]]) -> dict[str, object]:
    """Several notebooks side by side, each in its own kernel and Spark. Key -> executed notebook; the first
    failure raises (the runs not started yet are cancelled)."""
    from jupyter_client.connect import LocalPortCache

    # the one cache of the ports handed to kernels, made here: two threads making it at once could each
    # hand the same port to their kernel
    LocalPortCache.instance()
    pool = ThreadPoolExecutor(max_workers=min(AT_ONCE, len(runs)))
    try:
        futures = {key: pool.submit(execute, name_of(key), env) for key, env in runs.items()}
        return {key: f.result() for key, f in futures.items()}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def name_of(key: str) -> str:
    """A run's notebook: the key itself, or the part before '#' (one notebook run with two environments)."""
    return key.split("#")[0]


def tagged(nb, tag: str) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and tag in c.metadata.get("tags", [])]


def text(cell) -> str:
    return "".join(o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
                   for o in cell.outputs)


def figures(cell) -> int:
    return sum("image/png" in o.get("data", {}) for o in cell.outputs)


def assert_every_plot_drawn(nb, name: str) -> None:
    plots = tagged(nb, "plot")
    assert plots, f"{name} has no cell tagged 'plot'"
    empty = [c.source.splitlines()[0] for c in plots if not figures(c)]
    assert not empty, f"{name}: plot cells without a figure: {empty}"
