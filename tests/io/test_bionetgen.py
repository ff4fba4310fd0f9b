"""BioNetGen importer: parsed networks solved by symgen reproduce BioNetGen's own
simulation output (.gdat, CVODE) for the small networks; malformed files give
BioNetGenParseError naming the file, the line and the token."""
from pathlib import Path

import numpy as np
import pytest

import symgen as sg
from symgen.io import BioNetGenParseError, load_bionetgen, read_gdat

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "bionetgen"
if not DATA.is_dir():  # a checkout next to shared/ (the usual layout) or inside it
    DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bionetgen"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared/data/bionetgen not present")


def _gdat_columns(net, names):
    """Observable names of the .gdat columns in the network's group names (toy-jim's
    .gdat spells two groups differently; its columns follow the group order)."""
    obs = names[1:]
    if set(obs) <= set(net.groups):
        return obs
    assert len(obs) == len(net.groups)
    return list(net.groups)


# network -> (time at which the .net amounts hold, rtol of our solve)
SMALL = {"tlbr": 0.0, "toy-jim": 0.0, "Repressilator": 0.0,
         # michment.net holds the state at t = 10 (after S was raised by 100), see the
         # importer's notes; the .gdat from t = 10 on is the reference
         "michment": 10.0}


@needs_data
@pytest.mark.parametrize("name", sorted(SMALL))
def test_small_network_matches_bionetgen(name):
    net = load_bionetgen(DATA / f"{name}.net")
    names, data = read_gdat(DATA / f"{name}.gdat")
    t0 = SMALL[name]
    # rows after t0 (at t0 itself michment's .gdat holds the state before the raise)
    rows = data[:, 0] > t0 if t0 > 0 else data[:, 0] >= t0
    times, ref = data[rows, 0], data[rows, 1:]
    model = sg.compile(net.to_system())
    sol = model.solve(net.initial_values(), (t0, times[-1]), method="radau5", rtol=1e-10,
                      atol=1e-12 * max(1.0, np.abs(ref).max()), t_eval=times)
    assert sol.status == 0, sol.message
    cols = _gdat_columns(net, names)
    got = np.column_stack([sol[c] for c in cols])
    scale = np.abs(ref).max(axis=0)
    mask = np.abs(ref) > 1e-6 * scale
    rel = np.abs(got - ref)[mask] / np.abs(ref)[mask]
    assert rel.max() < 1e-4, (name, rel.max())


@needs_data
def test_michment_function_rate_law_and_parameters():
    net = load_bionetgen(DATA / "michment.net")
    assert net.n_species == 5 and net.n_reactions == 6
    assert set(net.functions) == {"michment"}
    assert [s.index for s in net.species] == [1, 2, 3, 4, 5]
    r1 = net.reactions[0]
    assert r1.reactants == (1, 2) and r1.products == (3, 2)
    model = sg.compile(net.to_system())
    y = np.array(list(net.initial_values().values()))
    p = model.param_vector({})
    f = model.rhs(0.0, y, p)
    # d[S(a~P,c~R)]/dt = kcat/(Km + Sa0) [S(a~0,c~R)] [E] + kTR [S(a~P,c~T)] - kRT [S(a~P,c~R)]
    kcat, km, krt, ktr = 2.0, 40.0, 2.0, 1.0
    sa0 = y[0] + y[3]
    expect = kcat / (km + sa0) * y[0] * y[1] + ktr * y[4] - krt * y[2]
    assert f[2] == pytest.approx(expect, rel=1e-13)
    assert f[1] == 0.0  # the enzyme is conserved


def test_parameter_expressions_and_overrides(tmp_path):
    net = _write(tmp_path, """
begin parameters
 1 a 2.0
 2 b 3*a^2
end parameters
begin species
 1 X() b
 2 $Y() 5
end species
begin reactions
 1 1 0 a
 2 2 1 b
 3 1,1 2 0.5*a
end reactions
begin groups
 1 Xtot 1,2*2
end groups
""")
    assert net.parameter_values() == {"a": 2.0, "b": 12.0}
    assert net.parameter_values({"a": 1.0})["b"] == 3.0
    assert list(net.initial_values().values()) == [12.0, 5.0]
    model = sg.compile(net.to_system())
    y = np.array([1.5, 5.0])
    f = model.rhs(0.0, y, model.param_vector({}))
    # X: -a X + b Y - 2 * (0.5 a) X^2 ; Y is fixed
    assert f[0] == pytest.approx(-2.0 * 1.5 + 12.0 * 5.0 - 2 * 1.0 * 1.5**2, rel=1e-14)
    assert f[1] == 0.0
    f2 = model.rhs(0.0, y, model.param_vector({"a": 1.0}))  # b follows a at run time
    assert f2[0] == pytest.approx(-1.5 + 3.0 * 5.0 - 2 * 0.5 * 1.5**2, rel=1e-14)


def _write(tmp_path, text, name="net"):
    p = tmp_path / f"{name}.net"
    p.write_text(text.lstrip())
    return load_bionetgen(p)


BAD = [
    ("begin species\n 1 X() 1\nend species\nbegin reactions\n 1 1 7 2.0\nend reactions\n",
     "unknown species index", 5, "7"),
    ("begin species\n 1 X() 1\nend species\nbegin reactions\n 1 1 0 kx\nend reactions\n",
     "unknown name", 5, "kx"),
    ("begin species\n 1 X() 1\n 1 Y() 2\nend species\nbegin reactions\nend reactions\n",
     "used twice", 3, "1"),
    ("begin species\n 1 X() 1\nend species\nbegin reactions\n 1 1 0 2.0 +\nend reactions\n",
     "expected", 5, ""),
    ("begin species\n 1 X() 1\nbegin reactions\nend reactions\n", "inside block", 3, "begin"),
    ("begin species\n 1 X() 1\nend species\n", "no 'begin species' or no 'begin reactions'", None, "begin"),
    ("begin parameters\n 1 a 1\n 2 a 2\nend parameters\nbegin species\n 1 X() 1\nend species\n"
     "begin reactions\nend reactions\n", "defined twice", 3, "a"),
    ("begin species\n x X() 1\nend species\nbegin reactions\nend reactions\n", "malformed line", 2, "x"),
    ("begin functions\n 1 f() g()\n 2 g() f()\nend functions\nbegin species\n 1 X() 1\nend species\n"
     "begin reactions\n 1 1 0 f\nend reactions\n", "cycle", 2, "f"),
]


@pytest.mark.parametrize("text, message, line, token", BAD, ids=[b[1] for b in BAD])
def test_malformed_files_name_line_and_token(tmp_path, text, message, line, token):
    with pytest.raises(BioNetGenParseError, match=message) as info:
        _write(tmp_path, text)
    err = info.value
    assert err.line == line and err.token == token
    assert isinstance(err, sg.SymgenError) and "net.net" in str(err)


def test_missing_file_and_bad_gdat(tmp_path):
    with pytest.raises(BioNetGenParseError, match="cannot read"):
        load_bionetgen(tmp_path / "nope.net")
    g = tmp_path / "x.gdat"
    g.write_text("# time A B\n0 1 2\n1 2\n")
    with pytest.raises(BioNetGenParseError):
        read_gdat(g)


@needs_data
def test_compile_bionetgen_warm_start_skips_sympy(tmp_cache):
    from symgen.io import compile_bionetgen
    path = DATA / "toy-jim.net"
    cold, net = compile_bionetgen(path, backend="numba")
    assert not cold.cached and len(cold.problem.rhs) == net.n_species
    warm, net2 = compile_bionetgen(path, backend="numba")
    assert warm.cached and warm.problem.rhs == ()  # names only: nothing symbolic was built
    assert warm.key == cold.key and warm.states == cold.states and warm.params == cold.params
    assert warm.observed == cold.observed
    y = np.array(list(net2.initial_values().values())) * 1.3 + 0.1
    np.testing.assert_array_equal(warm.rhs(0.5, y, warm.param_vector({})), cold.rhs(0.5, y, cold.param_vector({})))
    names, data = read_gdat(DATA / "toy-jim.gdat")
    sol = warm.solve(net2.initial_values(), (0.0, data[-1, 0]), method="radau5", rtol=1e-10, atol=1e-12,
                     t_eval=data[:, 0])
    ref = data[:, 1:]
    got = np.column_stack([sol[c] for c in _gdat_columns(net2, names)])
    mask = np.abs(ref) > 1e-6 * np.abs(ref).max(axis=0)
    assert (np.abs(got - ref)[mask] / np.abs(ref)[mask]).max() < 1e-4
    other = tmp_cache.parent / "other.net"  # a different file is a different model
    other.write_text((DATA / "toy-jim.net").read_text().replace("begin species", "# edited\nbegin species", 1))
    m3, _ = compile_bionetgen(other, backend="numba")
    assert m3.cached  # same system: the code cache hits, but through the full build
    assert len(m3.problem.rhs) == net.n_species
