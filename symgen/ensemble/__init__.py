"""Ensembles: one model, many trajectories (CPU threads, CUDA, Dask)."""
from .api import ENSEMBLE_BACKENDS, METHODS, EnsembleSolution, ensemble

__all__ = ["ensemble", "EnsembleSolution", "METHODS", "ENSEMBLE_BACKENDS"]
