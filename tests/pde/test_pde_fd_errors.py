"""Finite-difference weights against published tables, and the PDE DSL's errors."""
import pytest
import sympy as sp

import symgen as sg
from symgen.pde.fd import accuracy, stencil, weights

R = sp.Rational


@pytest.mark.parametrize("m,offsets,expected", [
    (2, (-1, 0, 1), (1, -2, 1)),
    (2, (-2, -1, 0, 1, 2), (R(-1, 12), R(4, 3), R(-5, 2), R(4, 3), R(-1, 12))),
    (1, (-2, -1, 0, 1, 2), (R(1, 12), R(-2, 3), 0, R(2, 3), R(-1, 12))),
    (1, (0, 1, 2), (R(-3, 2), 2, R(-1, 2))),
    (1, (0, 1, 2, 3, 4), (R(-25, 12), 4, -3, R(4, 3), R(-1, 4))),
    (2, (0, 1, 2, 3, 4, 5), (R(15, 4), R(-77, 6), R(107, 6), -13, R(61, 12), R(-5, 6))),
    (4, (-2, -1, 0, 1, 2), (1, -4, 6, -4, 1)),
])
def test_weights_match_fornberg_tables(m, offsets, expected):
    assert weights(m, offsets) == tuple(sp.sympify(e) for e in expected)


@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("p", [2, 4])
@pytest.mark.parametrize("room", [None, 0, 1, 2])
def test_closures_stay_inside_and_keep_accuracy(m, p, room):
    st = stencil(m, p, room, None)
    offs = tuple(s for s, _ in st)
    full = tuple(range(min(offs), max(offs) + 1))
    assert room is None or min(offs) >= -room
    assert accuracy(m, full) >= p
    # exact on polynomials of degree < m + p: compare with SymPy's derivative
    x, h = sp.symbols("x h")
    poly = sum(sp.Rational(k + 2, k + 1) * x ** k for k in range(m + p))
    approx = sum(w * poly.subs(x, s * h) for s, w in st) / h ** m
    assert sp.simplify(approx - sp.diff(poly, x, m).subs(x, 0)) == 0


def test_unsupported_orders():
    with pytest.raises(sg.StencilOrderError):
        stencil(2, 3)
    with pytest.raises(sg.StencilOrderError):
        stencil(1, 6)
    g = sg.Grid(x=(0, 1, 20), periodic="x")
    u = sg.fields("u", g)
    with pytest.raises(sg.StencilOrderError, match="derivative order 5"):
        sg.pdiff(u, "x", 5)
    pde = sg.PDESystem([sg.D(u) == sg.laplacian(u)], sg.time())
    with pytest.raises(sg.StencilOrderError, match="order 6"):
        sg.compile(pde, order=6)


def _grid():
    return sg.Grid(x=(0, 1, 12), y=(0, 2, 10), periodic="y")


def test_field_without_equation():
    g = _grid()
    u, v = sg.fields("u v", g)
    with pytest.raises(sg.FieldWithoutEquationError) as e:
        sg.PDESystem([sg.D(u) == sg.laplacian(u) + v], sg.time(),
                     bcs=[sg.Dirichlet(u, "x-", 0), sg.Dirichlet(u, "x+", 0)])
    assert e.value.symbol == "v" and isinstance(e.value, sg.SymgenError)


def test_missing_boundary_condition_names_side():
    g = _grid()
    u = sg.fields("u", g)
    with pytest.raises(sg.MissingBoundaryConditionError, match="x\\+") as e:
        sg.PDESystem([sg.D(u) == sg.laplacian(u)], sg.time(), bcs=[sg.Dirichlet(u, "x-", 0)])
    assert e.value.symbol == "u"


def test_inconsistent_grids_and_bad_grids():
    t = sg.time()
    u = sg.fields("u", _grid())
    v = sg.fields("v", _grid())
    with pytest.raises(sg.GridError):
        sg.PDESystem([sg.D(u) == v, sg.D(v) == u], t)
    with pytest.raises(sg.GridError):
        sg.Grid(x=(1, 0, 10))
    with pytest.raises(sg.GridError):
        sg.Grid(x=(0, 1, 2))
    with pytest.raises(sg.GridError):
        sg.Grid(x=(0, 1, 10), periodic="z")
    with pytest.raises(sg.GridError):
        sg.Grid(x=(0, 1, 4), y=(0, 1, 4), z=(0, 1, 4), w=(0, 1, 4))
    with pytest.raises(sg.GridError):
        sg.pdiff(u, "z")


def test_bad_boundary_conditions():
    g = _grid()
    u = sg.fields("u", g)
    with pytest.raises(sg.BoundaryConditionError, match="periodic"):
        sg.Dirichlet(u, "y-", 0)
    with pytest.raises(sg.BoundaryConditionError):
        sg.Neumann(u, "x", 0)
    with pytest.raises(sg.BoundaryConditionError):
        sg.Robin(u, "x+", 0, 0, 1)
    with pytest.raises(sg.BoundaryConditionError, match="same side"):
        sg.PDESystem([sg.D(u) == sg.laplacian(u)], sg.time(),
                     bcs=[sg.Dirichlet(u, "x-", 0), sg.Neumann(u, "x-", 0), sg.Dirichlet(u, "x+", 0)])


def test_undeclared_symbol_and_duplicate_equation():
    g = _grid()
    u = sg.fields("u", g)
    k = sp.Symbol("k")
    bcs = [sg.Dirichlet(u, "x-", 0), sg.Dirichlet(u, "x+", 0)]
    with pytest.raises(sg.UndeclaredSymbolError) as e:
        sg.PDESystem([sg.D(u) == k * sg.laplacian(u)], sg.time(), bcs=bcs)
    assert e.value.symbol == "k"
    with pytest.raises(sg.DuplicateEquationError):
        sg.PDESystem([sg.D(u) == u, sg.D(u) == -u], sg.time(), bcs=bcs)


def test_grid_too_small_for_stencil():
    g = sg.Grid(x=(0, 1, 5))
    u = sg.fields("u", g)
    pde = sg.PDESystem([sg.D(u) == sg.laplacian(u)], sg.time(),
                       bcs=[sg.Neumann(u, "x-", 0), sg.Dirichlet(u, "x+", 0)])
    with pytest.raises(sg.GridError, match="at least"):
        sg.compile(pde, order=4)
