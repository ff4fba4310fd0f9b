"""The parameter-estimation example recovers Robertson's rate constants."""
import pytest


def test_example_recovers_parameters_from_noisy_data(examples_path):
    import parameter_estimation as pe
    _, res, fit = pe.main(quiet=True)  # 1% noise, start 3x / 0.3x / 2x off
    assert res.success, res.message
    for name, value in fit.items():
        assert value == pytest.approx(pe.TRUE[name], rel=0.02), name


def test_example_exact_data_recovers_to_1e5(examples_path):
    import parameter_estimation as pe
    _, res, fit = pe.main(quiet=True, noise=0.0)
    for name, value in fit.items():
        assert value == pytest.approx(pe.TRUE[name], rel=1e-5), name
