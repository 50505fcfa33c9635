"""A saved model for the tools here: the training script that wrote a checkpoint, set up as it records, and
the text to read it on. Errors end the tool in one line on stderr, named after the tool."""
import importlib.util
import json
import os

import numpy as np

from cli import fail

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_model(path):
    """The training script's module, set up as the checkpoint records (float64), its weights, vocabulary and
    record; every check and message on the checkpoint is the script's own (as when it samples)."""
    try:
        with np.load(path, allow_pickle=False) as ck:
            meta = json.loads(str(ck['meta']))
        script = meta['script']
        assert script in ('min_char_rnn.py', 'rnn3.py'), f'written by {script}'
    except FileNotFoundError:
        fail(f'no checkpoint at {path}')
    except Exception as e:                      # anything unreadable: not a checkpoint of the scripts
        fail(f'{path} is not a checkpoint of min_char_rnn.py or rnn3.py ({type(e).__name__}: {e})')
    spec = importlib.util.spec_from_file_location(script[:-3], os.path.join(ROOT, script))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    run = m.SimpleNamespace(lock=None, handlers={})
    m.settings([f'--checkpoint_path={path}', '--generate=1', '--dtype=float64'], run)   # checks it, as sampling
    return m, m.unflatten(run.theta, len(run.chars)), run.chars, meta


def read_text(meta, text_file, n, default=1000):
    """The first n (or default) characters of TEXT_FILE or else of the checkpoint's input file: its held-out
    tail if the run held one out, or its beginning."""
    path = text_file or meta['config']['input_file']
    try:
        with open(path, encoding='utf-8-sig') as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        fail(f'cannot read {path} as UTF-8 text ({getattr(e, "strerror", None) or e})')
    if not text_file and meta['config'].get('val_fraction'):
        text = text[len(text) - int(len(text) * meta['config']['val_fraction']):]
    if n and n > len(text):
        fail(f'--chars={n}, but {path} has {len(text)} characters here')
    return text[:n or default]
