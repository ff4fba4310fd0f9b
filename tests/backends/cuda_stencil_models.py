"""PDE models for the CUDA stencil tests (shared by the test process and the
CUDA-simulator subprocess): 1D/2D/3D, orders 2 and 4, Dirichlet / Neumann / Robin /
periodic boundaries (inner and outer periodic axes), two coupled fields, parameters,
coordinates and time in the expressions."""
import sympy as sp

import symgen as sg


def _two_fields(g, bcs_of, second):
    t = sg.time()
    a, b = sg.params("a b")
    u, v = sg.fields("u v", g)
    c = g.coords
    k = 1 + c[0] / 2 + sp.sin(t) / 4
    eqs = [sg.D(u) == k * sg.laplacian(u) + a * u ** 2 * v - sg.upwind(v, u, str(c[0])),
           sg.D(v) == b * sg.laplacian(v) - u * v + sg.pdiff(u * v, second)]
    return sg.PDESystem(eqs, t, bcs=bcs_of(u, v, c, t), defaults={a: 0.3, b: 0.7})


def _one_field(g, bcs_of, second):
    t = sg.time()
    a, b = sg.params("a b")
    u = sg.fields("u", g)
    c = g.coords
    k = 1 + c[0] / 2 + sp.sin(t) / 4
    eqs = [sg.D(u) == k * sg.laplacian(u) + a * u ** 2 + b * sg.pdiff(u * u, second)]
    return sg.PDESystem(eqs, t, bcs=bcs_of(u, c, t), defaults={a: 0.3, b: 0.7})


def model(name: str):
    """``(PDESystem, order)`` by case name (kept small: the CPU reference kernels of
    models with many boundary regions take minutes to compile)."""
    if name == "1d_o2_two_fields":
        g = sg.Grid(x=(0, 1, 13))
        return _two_fields(g, lambda u, v, c, t: [
            sg.Dirichlet(u, "x-", sp.cos(t)), sg.Neumann(u, "x+", 0.5),
            sg.Neumann(v, "x-", 1), sg.Dirichlet(v, "x+", 2)], "x"), 2
    if name == "1d_o4_periodic":
        g = sg.Grid(x=(0, 1, 17), periodic="x")
        return _one_field(g, lambda u, c, t: [], "x"), 4
    if name == "2d_o2_inner_periodic":
        g = sg.Grid(x=(0, 1, 9), y=(0, 2, 10), periodic="y")
        return _one_field(g, lambda u, c, t: [
            sg.Dirichlet(u, "x-", sp.cos(t) * c[1]), sg.Neumann(u, "x+", c[1] ** 2)], "y"), 2
    if name == "2d_o4_outer_periodic":
        g = sg.Grid(x=(0, 1, 11), y=(0, 1, 12), periodic="x")
        return _one_field(g, lambda u, c, t: [
            sg.Dirichlet(u, "y-", c[0]), sg.Neumann(u, "y+", -c[0])], "y"), 4
    if name == "3d_o2_mixed":
        g = sg.Grid(x=(0, 1, 7), y=(0, 1, 6), z=(0, 1, 8), periodic=("y", "z"))
        return _one_field(g, lambda u, c, t: [
            sg.Dirichlet(u, "x-", c[2]), sg.Robin(u, "x+", 1, 1, t)], "z"), 2
    if name == "3d_o4_periodic":
        g = sg.Grid(x=(0, 1, 9), y=(0, 1, 10), z=(0, 1, 11), periodic=("x", "y", "z"))
        return _one_field(g, lambda u, c, t: [], "z"), 4
    raise KeyError(name)


CASES = ("1d_o2_two_fields", "1d_o4_periodic", "2d_o2_inner_periodic", "2d_o4_outer_periodic",
         "3d_o2_mixed", "3d_o4_periodic")
