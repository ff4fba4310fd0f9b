"""The emission order of kernel statements (symgen.passes.schedule): a permutation of
the statements in which every temporary comes before its uses and right before the first
one, with the outputs in their order."""
import sympy as sp

from symgen.ir.kernels import Assign, Kernel
from symgen.passes.lower import make_kernel
from symgen.passes.schedule import emission_order


def _check_valid(kernel, order):
    temps = {a.target for a in kernel.body}
    assert sorted(str(t) for t, _, i in order if i is None) == sorted(str(t) for t in temps)
    assert [i for t, _, i in order if t is None] == [i for i, _ in kernel.outputs]
    seen = set()
    for target, expr, _ in order:
        assert (expr.free_symbols & temps) <= seen     # defined before use
        if target is not None:
            seen.add(target)


def test_grid_kernel_temporaries_are_local():
    # out[2i], out[2i+1] share u_i * v_i and u_i**2 (as a reaction-diffusion Jacobian)
    y = sp.symbols("y0:40")
    outs = []
    for i in range(20):
        u, v = y[2 * i], y[2 * i + 1]
        outs += [(2 * i, 2 * u * v + sp.sin(u * v) + u**2), (2 * i + 1, u**2 - u * v + sp.cos(u * v))]
    k = make_kernel("k", outs, 40)
    assert len(k.body) >= 20                      # CSE found the shared products
    order = emission_order(k)
    _check_valid(k, order)
    # each temporary is emitted right before the output pair that uses it: between two
    # consecutive outputs at most the temporaries of one grid point
    pos = {t: n for n, (t, _, i) in enumerate(order) if i is None}
    first_use = {}
    for n, (t, e, i) in enumerate(order):
        for s in e.free_symbols:
            if s in pos:
                first_use.setdefault(s, n)
    assert all(first_use[s] - pos[s] <= 3 for s in pos)


def test_dependencies_between_temporaries_and_unused_temporaries():
    x = sp.Symbol("x")
    a, b, c, d = sp.symbols("a b c d", cls=sp.Dummy)
    body = (Assign(a, x + 1), Assign(b, a * 2), Assign(c, sp.exp(x)), Assign(d, b * a))
    k = Kernel("k", ("t", "y", "p", "out"), body, ((0, c + 1), (1, d - b)), 2, False)
    order = emission_order(k)
    _check_valid(k, order)
    assert [t for t, _, _ in order] == [c, None, a, b, d, None]


def test_order_is_a_function_of_the_kernel_only():
    x = sp.symbols("x0:6")
    outs = [(i, (x[i] * x[(i + 1) % 6]) ** 2 + x[i] * x[(i + 1) % 6]) for i in range(6)]
    k1 = make_kernel("k", outs, 6)
    k2 = make_kernel("k", outs, 6)
    # the same kernel built twice has fresh Dummies (other hashes): the emitted sequence,
    # temporaries named by their body position, must be the same
    def seq(k):
        pos = {a.target: n for n, a in enumerate(k.body)}
        return [("t", pos[t]) if t is not None else ("o", i) for t, _, i in emission_order(k)]
    assert seq(k1) == seq(k2)
    assert any(kind == "t" for kind, _ in seq(k1))
