"""tools/inspect_text.py: its numbers against the oracle, the page, bad input, and a real browser (if any)."""
import base64
import html
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from common import ROOT, SCRIPTS, harness, TEXT, load_tool, oracle_lossFun, run_script, small_args, split_layers

TOOL = os.path.join(ROOT, 'tools', 'inspect_text.py')
SIZES = {'min_char_rnn.py': ['--hidden_size=6'], 'rnn3.py': ['--hidden_size=5', '--num_layers=2']}
SPEECH = 'First Citizen:\nbefore we proceed\nany further.\n\nAll:\nspeak, speak.\n'


def tool():
    return load_tool('inspect_text.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = {}
    for script in SCRIPTS:
        tmp = tmp_path_factory.mktemp(script[:-3])
        args = small_args(script, tmp, '--max_iters=40', *SIZES[script], text=TEXT + SPEECH * 5)
        assert run_script(script, *args).returncode == 0
        out[script] = tmp / 'out' / 'ck.npz'
    return out


def oracle_reading(script, params, chars, text):
    """The oracle fed the text a character at a time from a zero state: each step's states (layers, units) and
    p_t, the distribution of the next character."""
    Wxh, Whh, bh, Why, by = split_layers(script, params)
    h = np.zeros((len(Whh), Whh[0].shape[0]))
    for ch in text:
        *_, last = oracle_lossFun([chars.index(ch)], [0], h, Wxh, Whh, [b.reshape(-1, 1) for b in bh], Why,
                                  by.reshape(-1, 1))
        h = np.array([x.ravel() for x in last])
        y = Why.dot(h[-1]) + by
        yield h, np.exp(y - y.max()) / np.exp(y - y.max()).sum()


@pytest.mark.parametrize('script', SCRIPTS)
def test_probabilities_top_five_and_activations_equal_the_oracle_read_a_character_at_a_time(script, trained):
    t = tool()
    m, run = harness.load_model(str(trained[script]))
    params, chars = run.params, run.chars
    text = (SPEECH + TEXT)[:80]
    probs, top, acts = t.inspect(m, params, chars, text)
    for j, (h, p) in enumerate(oracle_reading(script, params, chars, text)):
        np.testing.assert_allclose(acts[:, j], h, rtol=0, atol=1e-10)
        if j + 1 < len(text):
            assert abs(probs[j + 1] - p[chars.index(text[j + 1])]) < 1e-10
            assert [c for c, _ in top[j + 1]] == [chars[i] for i in np.argsort(-p)[:5]]
    assert probs[0] is None and acts.shape == (len(h), len(text), h.shape[1])


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_mean_loss_printed_is_in_nats_per_predicted_character(script, trained, tmp_path):
    text = (SPEECH + TEXT)[:120]
    (tmp_path / 'text.txt').write_text(text)
    r = subprocess.run([sys.executable, TOOL, str(trained[script]), str(tmp_path / 'text.txt'),
                        f'--out={tmp_path / "p.html"}'], capture_output=True, text=True)
    m, run = harness.load_model(str(trained[script]))
    p = [p[run.chars.index(text[j + 1])] for j, (_, p) in enumerate(oracle_reading(script, run.params, run.chars,
                                                                                        text[:-1]))]
    assert r.returncode == 0 and f'mean loss {-np.mean(np.log(p)):.4f} nats/char' in r.stdout, r.stdout


def test_the_page_shows_markup_in_the_text_as_text(tmp_path):
    """A text of <script>, & and quotes: the page holds one script (its own), and every title stays whole."""
    markup = '<script>alert("x & y")</script> \'q\'\n'
    args = small_args('min_char_rnn.py', tmp_path, '--max_iters=5', '--hidden_size=4', text=markup * 20)
    assert run_script('min_char_rnn.py', *args).returncode == 0
    r = subprocess.run([sys.executable, TOOL, str(tmp_path / 'out' / 'ck.npz'), '--chars=100',
                        f'--out={tmp_path / "p.html"}'], capture_output=True, text=True)
    page = (tmp_path / 'p.html').read_text(encoding='utf-8')
    assert r.returncode == 0 and page.count('<script') == 1 and '<script>alert' not in page, r.stderr
    spans = re.findall(r'<span title="([^"<>]*)">([^<>"]*)</span>', page)
    assert len(spans) == 100 and ''.join(html.unescape(ch) for _, ch in spans) == (markup * 20)[:100]


def test_properties_of_a_hand_built_text():
    props = tool().properties('NAME:\nab\ncd\n\nef')
    assert list(props['inside a speech']) == [0] * 6 + [1] * 6 + [0] + [0] * 2
    assert list(props['position in the line']) == [0, 1, 2, 3, 4, 5, 0, 1, 2, 0, 1, 2, 0, 0, 1]
    assert list(props['right after a newline']) == [1, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0]


def test_best_units_are_those_that_follow_the_property():
    rng = np.random.default_rng(0)
    prop = rng.integers(0, 2, 200).astype(float)
    acts = rng.uniform(-1, 1, (2, 200, 4))
    acts[1, :, 2] = 0.8 * prop - 0.4 + rng.normal(0, 0.05, 200)      # layer 2, unit 2 tracks it
    [(layer, unit, r), *_] = tool().best_units(acts, {'x': prop})['x']
    assert (layer, unit) == (1, 2) and r > 0.95


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_page_is_one_file_with_every_character_and_every_activation(script, trained, tmp_path):
    out = tmp_path / 'page.html'
    r = subprocess.run([sys.executable, TOOL, str(trained[script]), '--chars=120', f'--out={out}'],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    page = out.read_text(encoding='utf-8')
    assert not re.search(r'https?:|src=|<link', page), 'no network, no other file'
    assert page.count('<span title=') == 120 and 'position in the line' in page
    L, H = (1, 6) if script == 'min_char_rnn.py' else (2, 5)
    acts = base64.b64decode(re.search(r'atob\("([^"]*)"\)', page).group(1))
    assert len(acts) == L * 120 * H and f'layer {L}, unit {H - 1}' in page


@pytest.mark.parametrize('args, message', [(['missing.npz'], 'no checkpoint at missing.npz'),
                                           (['CK', '--chars=100000'], '--chars must be a whole number'),
                                           (['CK', '--chars=5000'], 'has'),
                                           (['CK', 'QUIZ'], "which is not in the model's vocabulary"),
                                           (['CK', '--width=3'], 'unknown option')])
def test_bad_input_is_one_line(args, message, trained, tmp_path):
    (tmp_path / 'QUIZ').write_text('QUIZ ' * 10)
    args = [str(trained['rnn3.py']) if a == 'CK' else a for a in args]
    r = subprocess.run([sys.executable, TOOL, *args, f'--out={tmp_path / "p.html"}'], capture_output=True,
                       text=True, cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and 'Traceback' not in r.stderr and message in lines[-1], r.stderr
    assert sum('error' in line for line in lines) == 1 and not (tmp_path / 'p.html').exists()


BROWSER = shutil.which('chromium') or shutil.which('chromium-browser')


@pytest.mark.skipif(not BROWSER, reason='no headless Chromium here (apt-get install chromium)')
def test_a_real_browser_colours_the_text_by_a_chosen_unit(trained, tmp_path):
    out = tmp_path / 'page.html'
    assert subprocess.run([sys.executable, TOOL, str(trained['rnn3.py']), '--chars=60', f'--out={out}']).returncode == 0
    t = tool()
    m, run = harness.load_model(str(trained['rnn3.py']))
    params, chars = run.params, run.chars
    text = (trained['rnn3.py'].parent.parent / 'input.txt').read_text(encoding='utf-8')[:60]   # what the page shows
    acts = t.inspect(m, params, chars, text)[2]
    dom = subprocess.run([BROWSER, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                          '--disable-background-networking', '--disable-component-update', '--disable-sync',
                          f'--user-data-dir={tmp_path / "profile"}', '--dump-dom', f'file://{out}#1:3'],
                         capture_output=True, text=True, timeout=60).stdout
    assert 'data-mode="1:3"' in dom
    colours = re.findall(r'<span title="[^"]*" style="background: rgba\((\d+), (\d+), (\d+)', dom)
    assert len(colours) == 60
    for (red, _, blue), v in zip(colours, acts[1, :, 3]):
        assert (int(red) > int(blue)) == (v > 0) or abs(v) < 1 / 127
