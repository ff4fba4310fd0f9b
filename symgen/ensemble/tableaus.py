"""Coefficients of the ensemble solvers (plain numbers, checked by the order tests).

* Tsit5: Tsitouras' explicit Runge-Kutta 5(4) pair, FSAL, 7 stages
  (Ch. Tsitouras, Comput. Math. Appl. 62 (2011) 770-775).
* ROS3P: Lang & Verwer's third-order Rosenbrock method with an embedded second-order
  solution, 3 stages, A-stable (BIT 41 (2001) 731-738), in the transformed form of
  Hairer & Wanner II, eq. (IV.7.25): with ``W = I/(h*gamma) - J``,
  ``W u_i = f(t + c_i h, y + sum_j a_ij u_j) + sum_j (C_ij/h) u_j + h d_i df/dt``,
  ``y1 = y + sum_i b_i u_i`` and the error estimate ``sum_i btilde_i u_i``.
"""
from __future__ import annotations

import math

__all__ = ["TSIT5", "ROS3P"]

TSIT5 = {
    "c": (0.0, 0.161, 0.327, 0.9, 0.9800255409045097, 1.0, 1.0),
    "a": (
        (),
        (0.161,),
        (-0.008480655492356989, 0.335480655492357),
        (2.897153057105493, -6.359448489975075, 4.3622954328695815),
        (5.325864828439257, -11.748883564062828, 7.4955393428898365, -0.09249506636175525),
        (5.86145544294642, -12.92096931784711, 8.159367898576159, -0.071584973281401,
         -0.028269050394068383),
        (0.09646076681806523, 0.01, 0.4798896504144996, 1.379008574103742, -3.290069515436081,
         2.324710524099774),
    ),
    # b is the last row of a (first same as last); btilde = b - bhat (7 entries)
    "btilde": (-0.00178001105222577714, -0.0008164344596567469, 0.007880878010261995,
               -0.1447110071732629, 0.5823571654525552, -0.45808210592918697,
               0.015151515151515152),
    "order": 5,
}


def _ros3p() -> dict:
    gamma = 0.5 + math.sqrt(3.0) / 6.0
    ig = 1.0 / gamma
    c32 = -ig * (2.0 - 0.5 * ig)
    c31 = -ig * (1.0 - c32)
    b2 = ig * (2.0 / 3.0 - ig / 6.0)
    b = (ig * (1.0 + b2), b2, ig / 3.0)
    bhat = (2.113248654051871, 1.0, 0.4226497308103742)
    return {
        "gamma": gamma,
        "a": ((), (ig,), (ig, 0.0)),
        "C": ((), (-ig * ig,), (c31, c32)),
        "c": (0.0, 1.0, 1.0),
        "d": (gamma, gamma - 1.0, 0.5 - 2.0 * gamma),
        "b": b,
        "btilde": tuple(x - y for x, y in zip(b, bhat)),
        "order": 3,
    }


ROS3P = _ros3p()
