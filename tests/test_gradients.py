"""lossFun and the update are correct: they match numerical gradients and the listing oracle."""
import numpy as np
import pytest

from common import SCRIPTS, load_script, oracle_for_script, oracle_update, random_model

LAYERS = {'min_char_rnn.py': 1, 'rnn3.py': 3}


@pytest.mark.parametrize('script', SCRIPTS)
def test_gradients_match_central_differences_for_every_parameter(script):
    rng = np.random.default_rng(0)
    V, H, T = 7, 5, 6
    m, params, hprev = random_model(script, LAYERS.get(script, 1), H, V, rng, scale=0.3)
    inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    loss, grads, _ = m.lossFun(inputs, targets, hprev, params)
    assert len(grads) == len(params) == (11 if script == 'rnn3.py' else 5)
    eps = 1e-5
    for param, dparam in zip(params, grads):
        assert np.abs(dparam).max() < 5, 'gradients this small are left alone by clipping'
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
    rng = np.random.default_rng(T)
    V, H = 11, 16
    m, params, hprev = random_model(script, LAYERS.get(script, 1), H, V, rng, scale=scale)
    inputs, targets = rng.integers(0, V, T), rng.integers(0, V, T)
    before = [p.copy() for p in params], hprev.copy()
    loss, grads, h = m.lossFun(inputs, targets, hprev, params)
    want_loss, want_grads, want_h = oracle_for_script(script, inputs, targets, hprev, params)
    np.testing.assert_allclose(loss, want_loss, rtol=1e-10, atol=1e-10)
    for got, want in zip(grads, want_grads):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(h, want_h, rtol=1e-10, atol=1e-10)
    for p, q in zip(params, before[0]):
        assert np.array_equal(p, q), 'lossFun must not change the weights'
    assert np.array_equal(hprev, before[1]), 'lossFun must not change hprev'


@pytest.mark.parametrize('script', SCRIPTS)
@pytest.mark.parametrize('clip', [None, 2.5, 0])
def test_update_clips_to_clip_then_applies_adagrad_as_the_listing_and_clip_0_does_not_clip(script, clip):
    """None: the script's default, the paper's 5."""
    rng = np.random.default_rng(1)
    m = load_script(script)
    m.hidden_size, m.dtype, m.learning_rate = 6, 'float64', 0.1
    m.clip = m.clip if clip is None else clip
    theta = m.init_params(9, rng)
    params = m.unflatten(theta, 9)
    grads = [rng.standard_normal(p.shape) * 8 for p in params]      # many entries beyond +-5
    mems = [rng.uniform(0, 2, p.shape) for p in params]
    assert sum((np.abs(g) > 5).sum() for g in grads) > 10
    want_params, want_mems = [p.copy() for p in params], [x.copy() for x in mems]
    oracle_update(want_params, [g.copy() for g in grads], want_mems, 0.1, 5 if clip is None else clip)
    mem = np.concatenate([x.ravel() for x in mems])
    m.update(params, grads, m.unflatten(mem, 9))   # views into theta and mem, as train() passes them
    mems = m.unflatten(mem, 9)
    for got, want in zip(params + mems, want_params + want_mems):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
