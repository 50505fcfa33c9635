"""See what a trained model does: one self-contained HTML page that shades each character of a text by
the probability the model gave it (hover: its top five predictions) and, on choice, by one hidden unit.

usage: python tools/inspect_text.py CHECKPOINT [TEXT_FILE] [--chars=N] [--layer=L] [--out=page.html]

CHECKPOINT is one of the scripts' (min_char_rnn.py, rnn3.py, lstm.py, gru.py). The text is TEXT_FILE, or else the checkpoint's
input file: its held-out tail if the run held one out, or its beginning. The script's own forward pass
(eq. (26)-(28)) reads its first --chars characters (1,000 or all, if fewer) from a zero state. The page lists, for a few simple
properties of the text (being inside a speech, i.e. a line after a speaker's "Name:" line and before
the next empty line; the position in the line; coming right after a newline), the hidden units whose
activation follows it best, by the absolute correlation over the text; a click on one recolours the
text by it, as does the menu, which offers those units and every unit of layer --layer (the top one by
default; lstm.py's state has two: layer 1 is h, the default, layer 2 the cell state c); the address (#p, or
#layer:unit) follows the choice, and the page follows the address. A click on a character shows what
hovering shows. The page needs no network and no other file. --out (page.html by default) is a .html name
that is free or holds an earlier page of this tool: any other file, or a link, is refused, never written.

Its size grows with the text and the units it offers: each unit takes half a byte a character (4/3 of that
in base64), and each character about 100 bytes more (its probability and top five): 3 x 512 (512 + 9 units)
on 1,000 characters is about 0.45 MB, on 10,000 about 4.5 MB; 1 x 100 on 1,000, about 0.17 MB.
"""
import base64
import html
import json
import os
import sys

import numpy as np

from cli import fail, forward_pieces, load_model, parse, read_text

MAX_CHARS = 20000
GENERATOR = '<meta name="generator" content="tools/inspect_text.py">'   # how a page of this tool is known
ROWS = {'lstm.py': ['Layer 1 (h)', 'Layer 2 (c, the cell state)']}   # the LSTM's state: its rows, h and c


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


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="generator" content="tools/inspect_text.py"><title>%(title)s</title><style>
body { font-family: sans-serif; margin: 1.5em; } pre { font: 14px/1.5 monospace; white-space: pre-wrap; }
pre span { border-radius: 2px; cursor: pointer; } table { border-collapse: collapse; margin: .5em 0; }
td, th { padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; } tr.unit { cursor: pointer; }
tr.unit:hover { background: #eef; } #legend, #info { color: #333; } #info { font-family: monospace; }
</style></head><body>
<h3>%(title)s</h3>
<p id="legend"></p>
<p>Colour by: <select id="mode"><option value="p">the model's probability of each character</option>%(options)s
</select> (the address follows: #p, or #layer:unit such as #%(example)s)</p>
<table><tr><th>property of the text</th><th>layer</th><th>unit</th><th>correlation</th></tr>%(rows)s</table>
<p id="info">Hover or click a character: the probability the model gave it, and its top five guesses.</p>
<pre id="text">%(spans)s</pre>
<script>
const P = %(probs)s, U = %(units)s, N = %(n)d, NAMES = %(names)s, SCALE = %(scale)s, raw = atob("%(acts)s");
const spans = document.getElementById('text').children, legend = document.getElementById('legend');
function act(k, i) {               // unit k's activation at character i, from 4 bits: -7..7 over 7
  const b = raw.charCodeAt((k * N + i) >> 1);
  return (((k * N + i) & 1 ? b & 15 : b >> 4) - 8) / 7;
}
function colour(mode) {
  for (let i = 0; i < N; i++) {
    let c = '#eee';
    if (mode === 'p') { if (P[i] !== null) c = 'rgba(235,60,60,' + (1 - P[i]).toFixed(3) + ')'; }
    else { const v = act(U[mode], i);
           c = v > 0 ? 'rgba(230,90,30,' + v.toFixed(3) + ')' : 'rgba(70,130,255,' + (-v).toFixed(3) + ')'; }
    spans[i].style.background = c;
  }
  legend.textContent = mode === 'p' ?
    'Shade: how surprised the model was (red: it gave the character a low probability).' :
    NAMES[mode.split(':')[0] - 1] + ', unit ' + mode.split(':')[1] + ': orange above zero, blue below' +
    (SCALE[mode.split(':')[0] - 1] > 1 ? ' (full colour: ' + SCALE[mode.split(':')[0] - 1] + ' or more).' : '.');
  document.getElementById('mode').value = mode; document.body.dataset.mode = mode;
}
function follow() {                // the address: #p, or one of the units on this page
  const want = decodeURIComponent(location.hash.slice(1));
  colour(want in U ? want : 'p');
  if (want && want !== 'p' && !(want in U))
    legend.textContent = 'There is no unit "' + want + '" on this page: it has %(which)s. ' + legend.textContent;
}
document.getElementById('mode').onchange = e => { location.hash = e.target.value; };
for (const row of document.querySelectorAll('tr.unit')) row.onclick = () => { location.hash = row.dataset.unit; };
document.getElementById('text').onclick = e => {
  if (e.target.title) document.getElementById('info').textContent = JSON.stringify(e.target.textContent) + ': '
    + e.target.title;
};
window.onhashchange = follow;
follow();
</script></body></html>
"""


def page(title, text, probs, top, acts, best, layer, names):
    """The self-contained page: the activations of the units it lists and of every unit of one layer (counted
    from 1; names: what each layer is called), each as 4 bits a character (-7..7 over 7), base64."""
    L, n, H = acts.shape
    spans = []
    for ch, p, t in zip(text, probs, top):
        hover = 'the first character' if p is None else (f'p = {p:.3f}; top five: ' + ', '.join(
            f'{c!r} {q:.3f}' for c, q in t))
        spans.append(f'<span title="{html.escape(hover, False).replace(chr(34), "&quot;")}">{html.escape(ch)}</span>')
    shown = list(dict.fromkeys([(l, u) for units in best.values() for l, u, _ in units]
                               + [(layer - 1, u) for u in range(H)]))
    ls, us = zip(*shown)
    scale = np.maximum(1, np.abs(acts).max(axis=(1, 2)))   # 1, but a layer reaching past [-1, 1] (c): its max
    q = (np.clip(np.round(acts[list(ls), :, list(us)] / scale[list(ls), None] * 7), -7, 7) + 8)
    q = q.astype(np.uint8).ravel()               # unit-major
    q = np.append(q, 8) if q.size % 2 else q
    options = ''.join(f'<option value="{l + 1}:{u}">{names[l].lower()}, unit {u}</option>' for l, u in shown)
    rows = ''.join(f'<tr class="unit" data-unit="{l + 1}:{u}"><td>{html.escape(name)}</td><td>{l + 1}</td>'
                   f'<td>{u}</td><td>{r:+.3f}</td></tr>' for name, units in best.items() for l, u, r in units)
    return PAGE % dict(title=html.escape(title), options=options, rows=rows, spans=''.join(spans), n=n,
                       probs=json.dumps([None if p is None else round(p, 4) for p in probs]),
                       units=json.dumps({f'{l + 1}:{u}': k for k, (l, u) in enumerate(shown)}),
                       example=f'{layer}:0', names=json.dumps(names), scale=json.dumps(scale.round(3).tolist()),
                       which=f'units 0 to {H - 1} of {names[layer - 1].lower()}, and those in the table',
                       acts=base64.b64encode((q[0::2] << 4 | q[1::2]).astype(np.uint8).tobytes()).decode())


def page_path(out):
    """out, if the page may be written there: a .html name, not a link, and no file yet or a page of this tool's
    (a tool writes only files it makes: never the model, the text or anything else it is pointed at)."""
    if not out.lower().endswith(('.html', '.htm')):
        fail(f'--out is the page to write (a .html file), got {out!r}')
    if os.path.islink(out):
        fail(f'--out={out} is a link: give the page a name of its own')
    if os.path.exists(out):
        try:
            with open(out, 'rb') as f:
                mine = GENERATOR.encode() in f.read(300)
        except OSError as e:
            fail(f'cannot read {out}: {e.strerror}')
        if not mine:
            fail(f'{out} exists and is not a page of inspect_text.py: move it, or give another --out')
    return out


def main(argv):
    opts, files = parse(argv, ('chars', 'out', 'layer'), __doc__)
    out = page_path(opts.get('out', 'page.html'))
    if not 1 <= len(files) <= 2:
        fail('give CHECKPOINT [TEXT_FILE] (see --help)')
    try:
        n = int(opts['chars']) if 'chars' in opts else None     # None: up to 1000
        if not (n is None or 2 <= n <= MAX_CHARS):
            raise ValueError('out of range')
    except ValueError:
        fail(f"--chars must be a whole number from 2 to {MAX_CHARS}, got {opts['chars']!r}")
    m, run = load_model(files[0])
    L = len(np.atleast_2d(m.zero_state()))      # rnn3.py: its layers; lstm.py: h and the cell state c
    names = ROWS.get(run.script, [f'Layer {l + 1}' for l in range(L)])
    try:
        layer = int(opts.get('layer', 1 if run.script in ROWS else L))
        if not (1 <= layer <= L):
            raise ValueError('out of range')
    except ValueError:
        fail(f"--layer must be a whole number from 1 to {L}, got {opts['layer']!r}")
    text = read_text(run, files[1] if len(files) > 1 else None, n)
    probs, top, acts = inspect(m, run.params, run.chars, text)
    best = best_units(acts, properties(text))
    title = (f"{run.script} ({acts.shape[0]} x {acts.shape[2]}), iteration {run.n:,}, "
             f"on {len(text):,} characters")
    try:
        with open(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0), 0o666), 'w',
                  encoding='utf-8') as f:
            f.write(page(title, text, probs, top, acts, best, layer, names))
    except OSError as e:
        fail(f'cannot write {out}: {e.strerror}')
    print(f'{out}: {title}; mean loss {-np.mean(np.log([p for p in probs[1:]])):.4f} nats/char')
    for name, units in best.items():
        print(f'  {name}: ' + ', '.join(f'{names[l].lower()} unit {u} (r = {r:+.3f})' for l, u, r in units))


if __name__ == '__main__':
    main(sys.argv[1:])
