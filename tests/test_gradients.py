"""lossFun is correct: it matches numerical gradients and the per-time-step oracle."""
import numpy as np
import pytest

from common import SCRIPTS, oracle_for_script, random_model

LAYERS = {'min_char_rnn.py': 1, 'rnn3.py': 3}


@pytest.mark.parametrize('script', SCRIPTS)
def test_gradients_match_central_differences_for_every_parameter(script):
    rng = np.random.default_rng(0)
    V, H, T = 7, 5, 6
    m, params, hprev = random_model(script, LAYERS[script], H, V, rng, scale=0.3)
    inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    loss, grads, _ = m.lossFun(inputs, targets, hprev, params)
    assert len(grads) == len(params) == (5 if script == 'min_char_rnn.py' else 11)
    eps = 1e-5
    for param, dparam in zip(params, grads):
        assert np.abs(dparam).max() < 5, 'clipping must not be active in a gradient check'
        assert np.abs(dparam).max() > 1e-3, 'every parameter array gets a real gradient'
        num = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + eps
            plus = m.lossFun(inputs, targets, hprev, params)[0]
            param[i] = old - eps
            minus = m.lossFun(inputs, targets, hprev, params)[0]
            param[i] = old
            num[i] = (plus - minus) / (2 * eps)
        rel = np.abs(dparam - num) / np.maximum(np.abs(dparam) + np.abs(num), 1e-7)
        assert rel.max() < 1e-5, rel.max()


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('T, scale', [(25, 0.5), (1, 0.5), (13, 3.0)])
def test_lossFun_equals_the_per_time_step_oracle(script, T, scale):
    """scale 3.0 makes some gradients exceed 5, so clipping is compared as well."""
    rng = np.random.default_rng(T)
    V, H = 11, 16
    m, params, hprev = random_model(script, LAYERS[script], H, V, rng, scale=scale)
    inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    before = [p.copy() for p in params], hprev.copy()
    loss, grads, h = m.lossFun(inputs, targets, hprev, params)
    want_loss, want_grads, want_h = oracle_for_script(script, inputs, targets, hprev, params)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10, atol=1e-10)
    for got, want in zip(grads, want_grads):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h, want_h, rtol=1e-10, atol=1e-10)
    if scale > 1:
        assert any(np.abs(g).max() == 5 for g in grads), 'this case is meant to clip'
    for p, q in zip(params, before[0]):
        assert np.array_equal(p, q), 'lossFun must not change the weights'
    assert np.array_equal(hprev, before[1]), 'lossFun must not change hprev'
