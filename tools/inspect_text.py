"""See what a trained model does: one self-contained HTML page that shades each character of a text by
the probability the model gave it (hover: its top five predictions) and, on choice, by one hidden unit.

usage: python tools/inspect_text.py CHECKPOINT [TEXT_FILE] [--chars=N] [--out=page.html]

CHECKPOINT is one of min_char_rnn.py's or rnn3.py's. The text is TEXT_FILE, or else the checkpoint's
input file: its held-out tail if the run held one out, or its beginning. The script's own forward pass
(eq. (26)-(28)) reads its first --chars characters (1,000 or all, if fewer) from a zero state. The page lists, for a few simple
properties of the text (being inside a speech, i.e. a line after a speaker's "Name:" line and before
the next empty line; the position in the line; coming right after a newline), the hidden units whose
activation follows it best, by the absolute correlation over the text; a click on one recolours the
text by it. The page needs no network and no other file.
"""
import base64
import html
import json
import sys

import numpy as np

from cli import fail, forward_pieces, harness, parse, read_text

MAX_CHARS = 20000


def inspect(m, params, chars, text):
    """Per character: the probability the model gave it after the text before it (None for the first),
    the top five predictions for it, and the hidden state after reading it, as (layers, chars, units)."""
    ix_of = {ch: i for i, ch in enumerate(chars)}
    unknown = [ch for ch in text if ch not in ix_of]
    if unknown:
        fail(f"the text has {unknown[0]!r}, which is not in the model's vocabulary")
    ixes, probs, top, acts = np.array([ix_of[ch] for ch in text]), [None], [[]], []
    for a, hs, ps in forward_pieces(m, params, ixes):
        acts.append(hs)
        for t, p in enumerate(ps[:len(text) - 1 - a], a):     # p_t: the prediction for character t + 1
            probs.append(float(p[ixes[t + 1]]))
            five = np.argpartition(-p, min(5, len(p)) - 1)[:5]
            top.append([(chars[i], float(p[i])) for i in sorted(five, key=lambda i: (-p[i], i))])
    return probs, top, np.concatenate(acts, axis=1)


def properties(text):
    """Simple properties of each character: in a speech, position in its line, right after a newline."""
    speech, pos, after_nl, inside, col = [], [], [], False, 0
    for line in text.split('\n'):
        speaker = line.endswith(':') and len(line) < 40      # "First Citizen:"
        in_speech = inside and not speaker and line != ''
        for ch in line + '\n':
            speech.append(in_speech)
            pos.append(col)
            after_nl.append(col == 0)
            col = 0 if ch == '\n' else col + 1
        inside = speaker or in_speech
    n = len(text)
    return {'inside a speech': np.array(speech[:n], float), 'position in the line': np.array(pos[:n], float),
            'right after a newline': np.array(after_nl[:n], float)}


def best_units(acts, props, k=3):
    """For each property, the k units (layer, unit, r) whose activation correlates best with it."""
    L, n, H = acts.shape
    a = acts.reshape(L, n, H).transpose(0, 2, 1).reshape(L * H, n)
    a = a - a.mean(axis=1, keepdims=True)
    out = {}
    for name, p in props.items():
        if p.std() == 0:
            continue                             # e.g. no speech in the text
        p = p - p.mean()
        r = a.dot(p) / np.maximum(np.sqrt((a * a).sum(axis=1) * p.dot(p)), 1e-12)
        out[name] = [(int(i // H), int(i % H), float(r[i])) for i in np.argsort(-np.abs(r))[:k]]
    return out


PAGE = '''<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%(title)s</title><style>
body { font-family: sans-serif; margin: 1.5em; } pre { font: 14px/1.5 monospace; white-space: pre-wrap; }
pre span { border-radius: 2px; } table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; } tr.unit { cursor: pointer; }
tr.unit:hover { background: #eef; } #legend { color: #555; }
</style></head><body>
<h3>%(title)s</h3>
<p id="legend">%(legend)s</p>
<p>Colour by: <select id="mode"><option value="p">the model's probability of each character</option>%(options)s
</select></p>
<table><tr><th>property of the text</th><th>layer</th><th>unit</th><th>correlation</th></tr>%(rows)s</table>
<pre id="text">%(spans)s</pre>
<script>
const P = %(probs)s, L = %(layers)d, H = %(units)d, N = %(n)d;
const raw = atob("%(acts)s"), A = new Int8Array(raw.length);
for (let i = 0; i < raw.length; i++) A[i] = raw.charCodeAt(i) << 24 >> 24;
const spans = document.getElementById('text').children;
function colour(mode) {
  for (let i = 0; i < N; i++) {
    let c = '#eee';
    if (mode === 'p') { if (P[i] !== null) c = 'rgba(230,40,40,' + (1 - P[i]).toFixed(3) + ')'; }
    else { const [l, u] = mode.split(':').map(Number), v = A[(l * N + i) * H + u] / 127;
           c = v > 0 ? 'rgba(230,90,30,' + v.toFixed(3) + ')' : 'rgba(40,90,230,' + (-v).toFixed(3) + ')'; }
    spans[i].style.background = c;
  }
  document.getElementById('legend').textContent = mode === 'p' ?
    'Shade: how surprised the model was (red: it gave the character a low probability). Hover a character.' :
    'Layer ' + (+mode.split(':')[0] + 1) + ', unit ' + mode.split(':')[1] + ': orange above zero, blue below.';
  document.getElementById('mode').value = mode; document.body.dataset.mode = mode;
}
document.getElementById('mode').onchange = e => colour(e.target.value);
for (const row of document.querySelectorAll('tr.unit')) row.onclick = () => colour(row.dataset.unit);
colour(location.hash.length > 1 ? location.hash.slice(1) : 'p');
</script></body></html>
'''


def page(title, text, probs, top, acts, best):
    """The self-contained HTML page (activations as signed bytes, base64)."""
    L, n, H = acts.shape
    spans = []
    for ch, p, t in zip(text, probs, top):
        hover = 'the first character' if p is None else (f'p = {p:.3f}; top five: ' + ', '.join(
            f'{c!r} {q:.3f}' for c, q in t))
        spans.append(f'<span title="{html.escape(hover)}">{html.escape(ch)}</span>')
    options = ''.join(f'<option value="{l}:{u}">layer {l + 1}, unit {u}</option>' for l in range(L) for u in range(H))
    rows = ''.join(f'<tr class="unit" data-unit="{l}:{u}"><td>{html.escape(name)}</td><td>{l + 1}</td><td>{u}</td>'
                   f'<td>{r:+.3f}</td></tr>' for name, units in best.items() for l, u, r in units)
    acts8 = np.clip(np.round(acts * 127), -127, 127).astype(np.int8)
    return PAGE % dict(title=html.escape(title), legend='', options=options, rows=rows, spans=''.join(spans),
                       probs=json.dumps([None if p is None else round(p, 4) for p in probs]), layers=L, units=H,
                       n=n, acts=base64.b64encode(acts8.tobytes()).decode())


def main(argv):
    opts, files = parse(argv, ('chars', 'out'), __doc__)
    if not 1 <= len(files) <= 2:
        fail('give CHECKPOINT [TEXT_FILE] (see --help)')
    try:
        n = int(opts['chars']) if 'chars' in opts else None     # None: up to 1000
        assert n is None or 2 <= n <= MAX_CHARS
    except (ValueError, AssertionError):
        fail(f"--chars must be a whole number from 2 to {MAX_CHARS}, got {opts['chars']!r}")
    m, run = harness.load_model(files[0])
    text = read_text(run, files[1] if len(files) > 1 else None, n)
    probs, top, acts = inspect(m, run.params, run.chars, text)
    best = best_units(acts, properties(text))
    out = opts.get('out', 'page.html')
    title = (f"{run.script} ({acts.shape[0]} x {acts.shape[2]}), iteration {run.n:,}, "
             f"on {len(text):,} characters")
    try:
        with open(out, 'w', encoding='utf-8') as f:
            f.write(page(title, text, probs, top, acts, best))
    except OSError as e:
        fail(f'cannot write {out}: {e.strerror}')
    print(f'{out}: {title}; mean loss {-np.mean(np.log([p for p in probs[1:]])):.4f} nats/char')
    for name, units in best.items():
        print(f'  {name}: ' + ', '.join(f'layer {l + 1} unit {u} (r = {r:+.3f})' for l, u, r in units))


if __name__ == '__main__':
    main(sys.argv[1:])
