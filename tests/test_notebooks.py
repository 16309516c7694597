"""Every notebook executes top to bottom (nbclient), and no output carries a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is a test dependency")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a test dependency")

from dashboard.simulator.server import _demo_credentials  # noqa: E402

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path):
    """The notebook runs without an error cell and never prints the simulator's demo secret."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    text = nbformat.writes(nb)
    key, secret, _ = _demo_credentials(1)
    assert secret not in text and key not in text
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []


def test_there_is_a_notebook():
    """The quickstart notebook is where the README says it is."""
    assert any(p.name == "01_quickstart.ipynb" for p in NOTEBOOKS)
