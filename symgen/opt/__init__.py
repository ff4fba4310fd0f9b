"""Optimization: objectives and constraints -> gradients, sparse Hessians, compiled solvers."""
