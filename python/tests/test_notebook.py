"""The example notebook's script twin runs top to bottom, shows the paper's two modules, and
matches the notebook cell for cell."""

import json
import subprocess
import sys

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "python"


def test_the_script_twin_knocks_out_each_module_of_the_paper(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLE / "symbolic_independence.py")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    intact = next(line for line in lines if line.startswith("intact"))
    knocked = [line for line in lines if line.startswith("without module")]
    assert len(knocked) == 2, done.stdout
    mse = lambda line: [float(v.rstrip(",")) for v in line.split()[-3::2]]
    base = mse(intact)
    # Each module carries one output: without it, that output's error grows a hundredfold
    # and the other's stays.
    carried = []
    for line in knocked:
        y1, y2 = mse(line)
        ratios = [y1 / base[0], y2 / base[1]]
        assert max(ratios) > 100 and min(ratios) < 1.5, (line, intact)
        carried.append(ratios.index(max(ratios)))
    assert sorted(carried) == [0, 1]


def test_the_notebook_holds_the_scripts_code_and_its_outputs():
    notebook = json.loads((EXAMPLE / "symbolic_independence.ipynb").read_text())
    script = (EXAMPLE / "symbolic_independence.py").read_text()
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    for cell in code:
        source = "".join(cell["source"])
        if not source.startswith("run  #"):  # the notebook shows the graph instead
            assert source in script, source
        assert cell["outputs"], f"a cell without its outputs: {source[:60]}"
