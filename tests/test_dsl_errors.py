"""Bad models and bad inputs raise SymgenError subclasses naming equation and symbol."""
import math

import pytest
import sympy as sp

import symgen as sg


@pytest.fixture(scope="module")
def decay():
    t = sg.time()
    x, y = sg.states("x y")
    k = sg.params("k")
    return sg.compile(sg.ODESystem([sg.D(x) == -k * x, sg.D(y) == k * x], t, name="decay")), (x, y, k)


def test_undeclared_symbol_named():
    t = sg.time()
    x = sg.states("x")
    q = sp.Symbol("q")
    with pytest.raises(sg.UndeclaredSymbolError) as e:
        sg.ODESystem([sg.D(x) == -q * x], t)
    assert e.value.symbol == "q" and "D(x)" in e.value.equation


def test_state_without_equation():
    t = sg.time()
    x, y = sg.states("x y")
    with pytest.raises(sg.MissingEquationError) as e:
        sg.ODESystem([sg.D(x) == -x], t, states=[x, y])
    assert e.value.symbol == "y"


def test_two_equations_for_one_state():
    t = sg.time()
    x = sg.states("x")
    with pytest.raises(sg.DuplicateEquationError) as e:
        sg.ODESystem([sg.D(x) == -x, sg.D(x) == x], t)
    assert e.value.symbol == "x" and "D(x) == -x" in e.value.equation


def test_unsupported_function():
    t = sg.time()
    x = sg.states("x")
    g = sp.Function("g")
    with pytest.raises(sg.UnsupportedFunctionError) as e:
        sg.ODESystem([sg.D(x) == g(x)], t)
    assert e.value.symbol == "g" and "D(x)" in e.value.equation
    with pytest.raises(sg.UnsupportedFunctionError):
        sg.ODESystem([sg.D(x) == sp.besselj(0, x)], t)


def test_plain_sympy_comparison_is_not_an_equation():
    t = sg.time()
    x = sg.states("x")
    with pytest.raises(sg.ModelError):
        sg.ODESystem([sp.Eq(x, 1)], t)


def test_vector_size_mismatch():
    u = sg.states("u", shape=3)
    with pytest.raises(sg.ModelError):
        sg.D(u) == sp.Matrix([1, 2])


def test_missing_initial_value_and_parameter(decay):
    model, (x, y, k) = decay
    with pytest.raises(sg.MissingValueError) as e:
        model.solve({x: 1.0}, (0, 1), {k: 1.0})
    assert e.value.symbol == "y"
    with pytest.raises(sg.MissingValueError) as e:
        model.solve({x: 1.0, y: 0.0}, (0, 1), {})
    assert e.value.symbol == "k"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_initial_data(decay, bad):
    model, (x, y, k) = decay
    with pytest.raises(sg.NonFiniteValueError) as e:
        model.solve({x: bad, y: 0.0}, (0, 1), {k: 1.0})
    assert e.value.symbol == "x"
    with pytest.raises(sg.NonFiniteValueError) as e:
        model.solve({x: 1.0, y: 0.0}, (0, 1), {k: bad})
    assert e.value.symbol == "k"


def test_unknown_names_and_bad_options(decay):
    model, (x, y, k) = decay
    with pytest.raises(sg.SymgenError):
        model.solve({x: 1.0, y: 0.0, "nope": 1.0}, (0, 1), {k: 1.0})
    with pytest.raises(sg.SolverError):
        model.solve({x: 1.0, y: 0.0}, (0, 1), {k: 1.0}, method="euler")
    with pytest.raises(sg.SolverError):
        model.solve({x: 1.0, y: 0.0}, (0, 0), {k: 1.0})
    with pytest.raises(sg.SolverError):
        model.solve({x: 1.0, y: 0.0}, (0, 1), {k: 1.0}, rtol=-1.0)
    with pytest.raises(sg.SolverError):
        model.solve({x: 1.0, y: 0.0}, (0, 1), {k: 1.0}, t_eval=[0.5, 0.2])


def test_user_names_never_reach_generated_code():
    t = sg.time()
    from symgen.dsl.symbols import StateSymbol
    evil = StateSymbol("x')\n__import__('os').system('false') #", real=True)
    model = sg.compile(sg.ODESystem([sg.D(evil) == -evil], t, name="evil\nimport os"))
    src = model.source()
    assert "import__" not in src and "system" not in src and "evil" not in src
    sol = model.solve({evil: 1.0}, (0, 1))
    assert sol.success and abs(sol.y[0, -1] - math.exp(-1)) < 1e-5
