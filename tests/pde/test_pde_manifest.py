"""PDE builds write a manifest.json next to their kernels, like ODE builds."""
import json

import sympy as sp

import symgen as sg
from symgen.cache import entry_dir


def _system(n):
    t = sg.time()
    g = sg.Grid(x=(0.0, 2.0, n), y=(0.0, 1.0, 8), periodic="y")
    u, w = sg.fields("u w", g)
    a = sg.params("a")
    return sg.PDESystem([sg.D(u) == a * sg.laplacian(u) - u * w, sg.D(w) == sg.pdiff(w, "y", 2) + u], t,
                        bcs=[sg.Dirichlet(u, "x-", sp.sin(t)), sg.Neumann(u, "x+", 0),
                             sg.Dirichlet(w, "x-", 0), sg.Robin(w, "x+", 1, 2, 0)],
                        defaults={a: 0.3}, name="manifest_demo")


def test_manifest_written_and_describes_the_build(tmp_cache):
    m = sg.compile(_system(11), order=2)
    path = entry_dir(m.code_key) / "manifest.json"
    assert path.exists()
    man = json.loads(path.read_text())
    assert man["key"] == m.code_key and man["kind"] == "pde" and man["name"] == "manifest_demo"
    assert man["fields"] == ["u", "w"] and man["params"] == ["a"]
    assert [a["axis"] for a in man["grid"]] == ["x", "y"]
    assert man["grid"][0]["nodes"] == 11 and man["grid"][0]["unknown_nodes"] == 9
    assert man["grid"][1]["periodic"] is True and man["states"] == m.n == 2 * 9 * 8
    st = man["stencil"]
    assert st["order"] == 2 and st["reach"] == [1, 1] and st["regions"] == len(m.stencil.regions)
    # interior: u couples to its 4 axis neighbours, itself and w; w to its 3 y-neighbours and u
    assert [p["neighbors"] for p in st["interior_points"]] == [6, 4]
    assert len(man["bcs"]) == 4 and "Neumann(u, 'x+', 0)" in man["bcs"]
    assert {"build", "discretize", "emit"} <= set(man["timings"])
    assert m.manifest["key"] == m.code_key and "timings" in m.manifest
    # a second grid size reuses the same build and its manifest
    m2 = sg.compile(_system(21), order=2)
    assert m2.cached and m2.code_key == m.code_key
    assert m2.manifest["grid"][0]["nodes"] == 21
    assert json.loads(path.read_text())["grid"][0]["nodes"] == 11
