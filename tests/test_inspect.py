"""tools/inspect_text.py: its numbers against the oracle, the page, bad input, and a real browser (if any)."""
import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys

from types import SimpleNamespace

import numpy as np
import pytest

from common import (ROOT, SCRIPTS, TEXT, load_tool, oracle_step, random_model, rewrite_record, run_script,
                    small_args, zero_state_of)

TOOL = os.path.join(ROOT, 'tools', 'inspect_text.py')
SIZES = {'min_char_rnn.py': ['--hidden_size=6'], 'rnn3.py': ['--hidden_size=5', '--num_layers=2'],
         'lstm.py': ['--hidden_size=5'], 'gru.py': ['--hidden_size=6']}
SPEECH = 'First Citizen:\nbefore we proceed\nany further.\n\nAll:\nspeak, speak.\n'


def tool():
    return load_tool('inspect_text.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    out = {}
    for script in SCRIPTS:
        tmp = tmp_path_factory.mktemp(script[:-3])
        args = small_args(script, tmp, '--max_iters=40', '--learning_rate=0.01', *SIZES[script], text=TEXT + SPEECH * 5)
        assert run_script(script, *args).returncode == 0
        out[script] = tmp / 'out' / 'ck.npz'
    return out


def oracle_reading(script, params, chars, text):
    """The oracle fed the text a character at a time from a zero state: each step's states (layers, units) and
    p_t, the distribution of the next character."""
    h = zero_state_of(script, params)
    for ch in text:
        h, p = oracle_step(script, params, h, chars.index(ch))
        yield np.atleast_2d(h), p


@pytest.mark.parametrize('script', SCRIPTS)
def test_probabilities_top_five_and_activations_equal_the_oracle_read_a_character_at_a_time(script, trained):
    t = tool()
    m, run = load_tool('cli.py').load_model(str(trained[script]))
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
    m, run = load_tool('cli.py').load_model(str(trained[script]))
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


@pytest.mark.parametrize('script', SCRIPTS)
def test_reading_in_pieces_carries_the_state_from_one_piece_to_the_next(script):
    """Pieces of 7 characters give the states and p_t of one pass over the whole text."""
    rng = np.random.default_rng(5)
    m, params, _ = random_model(script, 1 if script == 'min_char_rnn.py' else 3, 6, 9, rng, scale=0.8)
    codes = rng.integers(0, 9, 40)
    _, hs, ps = m.forward(codes, codes, m.zero_state(), params)
    pieces = list(load_tool('cli.py').forward_pieces(m, params, codes, step=7))
    assert [a for a, _, _ in pieces] == list(range(0, 40, 7))
    np.testing.assert_allclose(np.concatenate([h for _, h, _ in pieces], axis=1),
                               hs[..., :-1, :].reshape(-1, 40, 6), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.concatenate([p for _, _, p in pieces]), ps, rtol=0, atol=1e-12)


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


def page_units(page):
    """The units a page offers ({'layer:unit': activations over the text}), decoded from its 4 bits."""
    units = json.loads(re.search(r'U = (\{[^}]*\})', page).group(1))
    n = int(re.search(r'N = (\d+)', page).group(1))
    raw = np.frombuffer(base64.b64decode(re.search(r'atob\("([^"]*)"\)', page).group(1)), np.uint8)
    nibbles = np.stack([raw >> 4, raw & 15], axis=1).ravel().astype(int) - 8
    assert len(raw) == (len(units) * n + 1) // 2
    return {name: nibbles[k * n:(k + 1) * n] / 7 for name, k in units.items()}


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_page_is_one_file_with_every_character_and_the_units_it_offers(script, trained, tmp_path):
    """Every unit of the chosen layer (the top one by default) and those the table lists, to 1/14."""
    L = 1 if script in ('min_char_rnn.py', 'gru.py') else 2   # rnn3.py: 2 layers; lstm.py: h and c
    for layer in range(1, L + 1):
        out = tmp_path / f'page{layer}.html'
        r = subprocess.run([sys.executable, TOOL, str(trained[script]), '--chars=120', f'--layer={layer}',
                            f'--out={out}'], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        page = out.read_text(encoding='utf-8')
        assert not re.search(r'https?:|src=|<link', page), 'no network, no other file'
        assert page.count('<span title=') == 120 and 'position in the line' in page
        m, run = load_tool('cli.py').load_model(str(trained[script]))
        text = (trained[script].parent.parent / 'input.txt').read_text(encoding='utf-8')[:120]
        acts = tool().inspect(m, run.params, run.chars, text)[2]
        units, H = page_units(page), acts.shape[2]
        listed = set(re.findall(r'data-unit="(\d+:\d+)"', page))
        assert set(units) == {f'{layer}:{u}' for u in range(H)} | listed and len(listed) > 3
        for name, got in units.items():              # a layer past [-1, 1] (the LSTM's c) over its largest |value|
            l, u = map(int, name.split(':'))
            scale = max(1, np.abs(acts[l - 1]).max())
            assert np.abs(got * scale - acts[l - 1, :, u]).max() <= scale / 14 + 1e-9, name
        shown = json.loads(re.search(r'SCALE = (\[[^]]*\])', page).group(1))
        assert np.allclose(shown, np.maximum(1, np.abs(acts).max(axis=(1, 2))), atol=1e-3)
        assert (max(shown) > 1) == (script == 'lstm.py'), 'only the cell state goes past [-1, 1]'


def test_the_page_grows_with_what_it_offers_not_with_every_unit(tmp_path):
    """3 x 512 on 1,000 characters: 512 + 9 units at half a byte a character, in base64, and the text."""
    args = small_args('rnn3.py', tmp_path, '--max_iters=1', '--hidden_size=512', '--sample_length=2')
    assert run_script('rnn3.py', *args).returncode == 0
    (tmp_path / 'text.txt').write_text((TEXT * 2)[:1000])
    r = subprocess.run([sys.executable, TOOL, str(tmp_path / 'out' / 'ck.npz'), str(tmp_path / 'text.txt'),
                        f'--out={tmp_path / "p.html"}'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / 'p.html').stat().st_size < 0.5e6, 'about 4.5 MB at 10,000 characters'


@pytest.mark.parametrize('args, message', [(['missing.npz'], 'no checkpoint at missing.npz'),
                                           (['CK', '--chars=100000'], '--chars must be a whole number'),
                                           (['CK', '--chars=1'], '--chars must be a whole number from 2'),
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


def browser_dom(page, tmp_path, address='', then=''):
    """The page's DOM after headless Chromium opened it at the address and ran the script then (after load)."""
    if then:
        page = page.parent / ('then-' + page.name)
        page.write_text(page.with_name(page.name[5:]).read_text(encoding='utf-8')
                        + f'<script>setTimeout(() => {{ {then} }}, 0)</script>', encoding='utf-8')
    return subprocess.run([BROWSER, '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
                           '--disable-background-networking', '--disable-component-update', '--disable-sync',
                           f'--user-data-dir={tmp_path / "profile"}', '--virtual-time-budget=3000', '--dump-dom',
                           f'file://{page}{address}'], capture_output=True, text=True, timeout=60).stdout


def shades(dom):
    """Each character's background, as (r, g, b, alpha)."""
    found = re.findall(r'<span title="[^"]*" style="background: (?:rgba\((\d+), (\d+), (\d+), ([\d.]+)\)|'
                       r'rgb\((\d+), (\d+), (\d+)\))', dom)
    return [tuple(map(float, f[:4])) if f[0] else (*map(float, f[4:]), 1.0) for f in found]


def contrast_with_black(r, g, b, alpha):
    """WCAG contrast ratio of black text on this colour laid over the white page."""
    channel = [(alpha * c + (1 - alpha) * 255) / 255 for c in (r, g, b)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channel]
    return (0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2] + 0.05) / 0.05


@pytest.fixture(scope='module')
def rnn3_page(trained, tmp_path_factory):
    """The page of the small rnn3.py model (2 layers of 5) on 60 characters, and those activations."""
    out = tmp_path_factory.mktemp('page') / 'page.html'
    assert subprocess.run([sys.executable, TOOL, str(trained['rnn3.py']), '--chars=60', f'--out={out}']).returncode == 0
    m, run = load_tool('cli.py').load_model(str(trained['rnn3.py']))
    text = (trained['rnn3.py'].parent.parent / 'input.txt').read_text(encoding='utf-8')[:60]   # what the page shows
    return out, tool().inspect(m, run.params, run.chars, text)[2]


@pytest.mark.skipif(not BROWSER, reason='no headless Chromium here (apt-get install chromium)')
def test_a_real_browser_colours_the_text_by_the_unit_the_address_names(rnn3_page, tmp_path):
    page, acts = rnn3_page
    dom = browser_dom(page, tmp_path, '#2:3')
    colours = shades(dom)
    assert 'data-mode="2:3"' in dom and len(colours) == 60
    for (red, _, blue, _), v in zip(colours, acts[1, :, 3]):
        assert (red > blue) == (v > 0) or abs(v) < 1 / 14


@pytest.mark.skipif(not BROWSER, reason='no headless Chromium here (apt-get install chromium)')
def test_a_real_browser_follows_the_address_as_it_changes_and_says_which_units_exist(rnn3_page, tmp_path):
    page, acts = rnn3_page
    dom = browser_dom(page, tmp_path, '#p', then="location.hash = '2:1';")
    assert 'data-mode="2:1"' in dom and 'Layer 2, unit 1' in dom
    for address in ('#9:x', '#2:99', '#0:1'):
        dom = browser_dom(page, tmp_path, address)
        legend = re.search(r'<p id="legend">([^<]*)', dom).group(1)
        assert 'data-mode="p"' in dom and f'no unit "{address[1:]}"' in legend, legend
        assert 'units 0 to 4 of layer 2' in legend and 'NaN' not in dom and 'undefined' not in legend


@pytest.mark.skipif(not BROWSER, reason='no headless Chromium here (apt-get install chromium)')
def test_a_click_on_a_character_shows_its_top_five_as_hovering_does(rnn3_page, tmp_path):
    page, _ = rnn3_page
    dom = browser_dom(page, tmp_path, then="document.getElementById('text').children[7].click();")
    titles = re.findall(r'<span title="([^"]*)"', dom)
    info = re.search(r'<p id="info">([^<]*)', dom).group(1)
    assert html.unescape(titles[7]).startswith('p = ') and html.unescape(info).endswith(html.unescape(titles[7]))


@pytest.mark.skipif(not BROWSER, reason='no headless Chromium here (apt-get install chromium)')
def test_text_keeps_a_contrast_of_4_5_to_1_on_every_shade(rnn3_page, tmp_path):
    """WCAG AA for normal text, in the probability colouring and in a unit's, at their strongest too."""
    page, _ = rnn3_page
    strong = page.parent / 'strong.html'                     # a unit at full strength, both signs
    source = page.read_text(encoding='utf-8')
    strong.write_text(re.sub(r'atob\("([^"]*)"\)', lambda m: 'atob("' + base64.b64encode(bytes(
        [0xF0, 0x0F] * (len(base64.b64decode(m.group(1))) // 2 + 1))).decode() + '")', source), encoding='utf-8')
    for path, address in ((page, '#p'), (page, '#2:3'), (strong, '#2:0'), (strong, '#p')):
        colours = shades(browser_dom(path, tmp_path, address))
        assert len(colours) == 60 and min(contrast_with_black(*c) for c in colours) >= 4.5, (path, address)


def test_out_writes_only_a_page_of_its_own_never_the_model_a_users_file_or_through_a_link(trained, tmp_path):
    ck = trained['min_char_rnn.py']
    model = ck.read_bytes()
    (tmp_path / 'notes.html').write_text('my notes')
    os.symlink(ck, tmp_path / 'link.html')
    for out, words in [(ck, 'is the page to write (a .html file)'), (tmp_path / 'notes.html', 'is not a page of'),
                       (tmp_path / 'link.html', 'is a link')]:
        r = subprocess.run([sys.executable, TOOL, str(ck), '--chars=50', f'--out={out}'], capture_output=True, text=True)
        last = r.stderr.strip().splitlines()[-1]
        assert r.returncode == 1 and words in last and last.startswith('inspect_text.py: error: '), r.stderr
    assert ck.read_bytes() == model and (tmp_path / 'notes.html').read_text() == 'my notes'
    for chars in ('50', '60'):                    # its own page, written again
        r = subprocess.run([sys.executable, TOOL, str(ck), f'--chars={chars}', f'--out={tmp_path / "p.html"}'],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    assert (tmp_path / 'p.html').read_text(encoding='utf-8').count('<span title=') == 60


def test_the_units_listed_are_the_strongest_whatever_the_sign_of_their_correlation():
    """A unit that falls as a property rises is as related to it as one that rises with it."""
    rng = np.random.default_rng(2)
    prop = (np.arange(200) % 7 == 0).astype(float)
    acts = rng.normal(0, 0.3, (1, 200, 6))
    acts[0, :, 4] = -prop + rng.normal(0, 0.05, 200)       # against it, strongly
    acts[0, :, 1] = 0.5 * prop + rng.normal(0, 0.3, 200)   # with it, weakly
    [(l, u, r), (_, u2, r2), _] = tool().best_units(acts, {'p': prop})['p']
    assert (l, u) == (0, 4) and r < -0.9 and u2 == 1 and 0 < r2 < abs(r)


def test_the_text_a_tool_reads_by_default_is_the_held_out_tail_training_never_saw(tmp_path):
    text = ''.join(chr(97 + i % 26) for i in range(1000))
    (tmp_path / 't.txt').write_text(text)
    cli = load_tool('cli.py')
    run = SimpleNamespace(config={'input_file': str(tmp_path / 't.txt'), 'val_fraction': 0.1})
    assert cli.read_text(run, None, 60) == text[900:960]
    run.config['val_fraction'] = 0.0
    assert cli.read_text(run, None, 60) == text[:60]


def test_a_tool_refuses_a_checkpoint_whose_record_names_a_file_that_is_not_a_model_script(trained, tmp_path):
    for script in ('harness.py', 'tools/cli.py', '../x.py'):
        ck = tmp_path / 'ck.npz'
        ck.write_bytes(trained['min_char_rnn.py'].read_bytes())
        rewrite_record(ck, script=script)
        r = subprocess.run([sys.executable, TOOL, str(ck), f'--out={tmp_path / "p.html"}'], capture_output=True,
                           text=True)
        assert r.returncode == 1 and 'which is not a script beside harness.py' in r.stderr.strip().splitlines()[-1]
        assert not (tmp_path / 'p.html').exists()
