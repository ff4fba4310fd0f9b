"""Sensitivities: gradients of losses through solves (adjoint), forward sensitivities,
implicit differentiation of steady states and optimization solutions.

Models must be compiled with ``sg.compile(system, sensitivities=True)`` so that the
generated ``jvp``/``vjp``/``pvjp`` kernels exist.
"""
from .adjoint import AdjointResult, adjoint_gradient
from .forward import SensitivityResult, forward_sensitivities
from .implicit import (CompiledOptimization, OptimizationProblem, SteadyState, steady_state,
                       steady_state_gradient, steady_state_sensitivity)
from .loss import CompiledLoss, Loss, compile_loss

__all__ = ["Loss", "CompiledLoss", "compile_loss", "AdjointResult", "adjoint_gradient",
           "SensitivityResult", "forward_sensitivities",
           "SteadyState", "steady_state", "steady_state_gradient", "steady_state_sensitivity",
           "OptimizationProblem", "CompiledOptimization"]
