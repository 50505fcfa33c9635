"""Bad input ends in one clear line on stderr and a non-zero exit; no checkpoint is harmed."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from common import (ROOT, SCRIPTS, HARNESS, TEXT, assert_clean_error, ck_meta, rewrite_record, run_in_process, run_script,
                    small_args)

BAD_ARGUMENTS = [
    (['--hiden_size=5'], "unknown hyperparameter 'hiden_size'"),
    (['--hidden_size=abc'], '--hidden_size=abc is not a valid int'),
    (['--learning_rate=fast'], '--learning_rate=fast is not a valid float'),
    (['--resume=maybe'], '--resume=maybe is not a valid bool'),
    (['hidden_size=5'], 'expected --name=value'),
    (['--hidden_size'], 'expected --name=value'),
    (['--hidden_size=0'], '--hidden_size must be a whole number >= 1, got 0'),
    (['--seq_length=-3'], '--seq_length must be a whole number >= 1, got -3'),
    (['--learning_rate=0'], '--learning_rate must be positive'),
    (['--clip=-1'], '--clip must be >= 0, got -1.0'),
    (['--clip=inf'], '--clip must be >= 0, got inf'),
    (['--learning_rate=nan'], '--learning_rate must be positive'),
    (['--max_iters=0'], '--max_iters must be a whole number >= 1, got 0'),
    (['--checkpoint_every=0'], '--checkpoint_every must be a whole number >= 1'),
    (['--generate=-2'], '--generate must be a whole number >= 0, got -2'),
    (['--val_fraction=1.5'], '--val_fraction must be in [0, 1)'),
    (['--dtype=float16'], '--dtype must be float64 or float32'),
    (['--learning_rate=inf'], '--learning_rate must be positive'),
    (['--temperature=-1'], '--temperature must be >= 0 (0: greedy), got -1.0'),
    (['--top_k=-1'], '--top_k must be a whole number >= 0, got -1'),
    ([f'--hidden_size={"1" * 400}'], '--hidden_size must be a whole number >= 1 and at most 2**53, got 1111'),
    (['--seq_length=1e400'], '--seq_length must be a whole number >= 1, got inf'),
    (['--temperature=inf'], '--temperature must be >= 0 (0: greedy), got inf'),
    (['--lines=-1'], '--lines must be a whole number >= 0, got -1'),
    (['--eval_every=0'], '--eval_every must be a whole number >= 1, got 0'),
    (['--print_every=0'], '--print_every must be a whole number >= 1, got 0'),
    (['--sample_length=0'], '--sample_length must be a whole number >= 1, got 0'),
    (['--val_fraction=-0.1'], '--val_fraction must be in [0, 1)'),
    (['--val_fraction=1'], '--val_fraction must be in [0, 1)'),
    (['--input_file=does/not/exist.txt'], 'cannot read input file does/not/exist.txt ('),
    (['--input_file=.'], 'cannot read input file . ('),
]


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('args, message', BAD_ARGUMENTS, ids=[' '.join(a) for a, _ in BAD_ARGUMENTS])
def test_bad_command_line_is_one_line_error(script, args, message, tmp_path, capsys):
    assert_clean_error(run_in_process(capsys, script, *args, cwd=tmp_path), message)


def test_zero_layers_is_one_line_error(tmp_path, capsys):
    assert_clean_error(run_in_process(capsys, 'rnn3.py', '--num_layers=0', cwd=tmp_path),
                       '--num_layers must be a whole number >= 1, got 0')


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('args, message', [BAD_ARGUMENTS[0], BAD_ARGUMENTS[-2]])
def test_bad_command_line_in_a_real_process_exits_1_with_one_line_and_no_traceback(script, args, message, tmp_path):
    """The cases above run in this process (faster); two of them as a user meets them."""
    r = run_script(script, *args, cwd=tmp_path)
    assert_clean_error(r, message)
    assert r.returncode == 1 and r.stdout == ''


BAD_TEXTS = [
    ('', 'has 0 characters'),
    ('too short', 'has 9 characters, fewer than seq_length + 1 = 26'),
    ('abcdefghijklmnopqrstuvwxy', 'has 25 characters, fewer than seq_length + 1 = 26'),
]


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('text, message', BAD_TEXTS)
def test_empty_or_short_input_is_one_line_error(script, text, message, tmp_path):
    assert_clean_error(run_script(script, *small_args(script, tmp_path, '--max_iters=5', text=text)), message)


@pytest.mark.parametrize('script', HARNESS)
def test_input_that_is_not_utf8_is_one_line_error(script, tmp_path):
    path = tmp_path / 'latin1.txt'
    path.write_bytes('caf\xe9 au lait, ' .encode('latin-1') * 10)
    assert_clean_error(run_script(script, f'--input_file={path}'), 'is not UTF-8 text (byte 3)')


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('fraction, held', [(0.999, len(TEXT) - 3), (1.5 / len(TEXT), 1)])
def test_held_out_split_that_leaves_too_little_is_one_line_error(script, fraction, held, tmp_path):
    r = run_script(script, *small_args(script, tmp_path, f'--val_fraction={fraction}', '--max_iters=5'))
    assert_clean_error(r, f'--val_fraction={fraction} leaves {len(TEXT) - held} characters to train on and {held} held out')


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A checkpoint of each script, trained for a few iterations; tests copy it."""
    out = {}
    for script in SCRIPTS:
        tmp = tmp_path_factory.mktemp(script[:-3])
        r = run_script(script, *small_args(script, tmp, '--max_iters=30'))
        assert r.returncode == 0, r.stderr
        out[script] = (tmp, (tmp / 'out' / 'ck.npz').read_bytes())
    return out


def checkpoint_file(tmp_path):
    """Where small_args(script, tmp_path) keeps its checkpoint, with the folder made."""
    path = tmp_path / 'out' / 'ck.npz'
    path.parent.mkdir()
    return path


def truncated(path, trained, script):
    path.write_bytes(trained[script][1][:len(trained[script][1]) // 2])


def garbage(path, trained, script):
    path.write_bytes(np.random.default_rng(0).bytes(5000))


def pickled(path, trained, script):
    np.savez(path, meta=np.array([{'script': script}], dtype=object))


def other_arrays(path, trained, script):
    np.savez(path, weights=np.ones(3))


def from_other_script(path, trained, script):
    other = [s for s in SCRIPTS if s != script][0]
    path.write_bytes(trained[other][1])


def damaged_array(path, trained, script):
    with np.load(trained[script][0] / 'out' / 'ck.npz', allow_pickle=False) as src:
        arrays = {k: src[k] for k in src.files}
    arrays['Whh'] = arrays['Whh'][:3]
    np.savez(path, **arrays)


BAD_CHECKPOINTS = [(truncated, 'is not a usable'), (garbage, 'is not a usable'),
                   (pickled, 'is not a usable'), (other_arrays, 'is not a usable'),
                   (from_other_script, 'it was written by'), (damaged_array, 'Whh is damaged')]


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('writer, message', BAD_CHECKPOINTS, ids=[w.__name__ for w, _ in BAD_CHECKPOINTS])
@pytest.mark.parametrize('mode', ['--resume=True', '--generate=20'])
def test_unusable_checkpoint_is_one_line_error_and_left_as_it_was(script, writer, message, mode, tmp_path, trained,
                                                                  capsys):
    path = checkpoint_file(tmp_path)
    writer(path, trained, script)
    before = path.read_bytes()
    r = run_in_process(capsys, script, *small_args(script, tmp_path), mode, '--max_iters=40')
    assert_clean_error(r, str(path), message)
    assert path.read_bytes() == before


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('mode', ['--resume=True', '--generate=20', '--lines=3'])
def test_missing_checkpoint_is_one_line_error(script, mode, tmp_path):
    assert_clean_error(run_script(script, *small_args(script, tmp_path), mode), 'no checkpoint at')


def copy_trained(script, tmp_path, trained):
    path = checkpoint_file(tmp_path)
    path.write_bytes(trained[script][1])
    return path


@pytest.mark.parametrize('script', SCRIPTS)
def test_resume_with_another_model_shape_is_refused_and_says_what_differs(script, tmp_path, trained):
    path = copy_trained(script, tmp_path, trained)
    r = run_script(script, *small_args(script, tmp_path), '--resume=True', '--hidden_size=7', '--max_iters=40')
    assert_clean_error(r, 'hidden_size=', 'not 7')
    assert path.read_bytes() == trained[script][1]


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('text', ['ABCDEFGHIJKLMNOPQRSTUVWXYZ' * 3, TEXT.upper()], ids=['fewer', 'as many'])
def test_resume_on_text_with_another_vocabulary_is_refused(script, text, tmp_path, trained):
    path = copy_trained(script, tmp_path, trained)
    r = run_script(script, *small_args(script, tmp_path, text=text), '--resume=True', '--max_iters=40')
    assert_clean_error(r, 'different vocabulary', f'({len(set(text))} symbols)',
                       f"which was trained on {trained[script][0] / 'input.txt'}")
    assert path.read_bytes() == trained[script][1]


@pytest.mark.parametrize('script', HARNESS)
@pytest.mark.parametrize('every', [10000, 1])
def test_loss_that_becomes_infinite_stops_the_run_and_keeps_the_last_good_checkpoint(script, every, tmp_path, trained):
    path = copy_trained(script, tmp_path, trained)
    r = run_script(script, *small_args(script, tmp_path), '--resume=True', '--learning_rate=1e38',
                   '--max_iters=1000', f'--checkpoint_every={every}')
    assert_clean_error(r, 'loss became', 'the last checkpoint is kept')
    assert 'Warning' not in r.stderr and r.stderr.count('loss became') == 1, r.stderr   # no NumPy warning
    failed_at = int(re.search(r'loss became .* at iteration (\d+)', r.stderr).group(1))
    if every > 1:
        assert path.read_bytes() == trained[script][1]
    with np.load(path, allow_pickle=False) as ck:
        assert json.loads(str(ck['meta']))['n'] <= failed_at
        assert all(np.isfinite(ck[k]).all() for k in ck.files if k != 'meta')


@pytest.mark.parametrize('script', HARNESS)
def test_priming_text_outside_the_vocabulary_is_one_line_error(script, tmp_path, trained):
    copy_trained(script, tmp_path, trained)
    r = run_script(script, *small_args(script, tmp_path), '--generate=10', '--prime=QUIZ')
    assert_clean_error(r, "--prime has 'Q'", 'not in the model')


@pytest.mark.parametrize('script', HARNESS)
def test_lines_without_newline_in_the_vocabulary_is_one_line_error(script, tmp_path):
    args = small_args(script, tmp_path, '--max_iters=5', text='abcdefghij' * 5)
    assert run_script(script, *args).returncode == 0
    assert_clean_error(run_script(script, *args, '--lines=2'), '--lines needs a newline')


@pytest.mark.parametrize('script', HARNESS)
def test_a_record_claiming_a_huge_size_is_refused_in_one_line_before_anything_is_allocated(script, tmp_path, capsys):
    args = small_args(script, tmp_path, '--max_iters=5')
    assert run_in_process(capsys, script, *args).returncode == 0
    ck = tmp_path / 'out' / 'ck.npz'
    meta = ck_meta(ck)
    rewrite_record(ck, config=dict(meta['config'], hidden_size=10**20))
    for extra in (['--resume=True', '--max_iters=9'], ['--generate=5']):
        resume = [a for a in args if not a.startswith(('--hidden_size', '--num_layers'))]   # as the record says
        r = run_in_process(capsys, script, *(resume if extra[0].startswith('--resume') else [f'--checkpoint_path={ck}']),
                           *extra)
        assert_clean_error(r, f'hidden_size in {ck} must be a whole number >= 1 and at most 2**53')


def test_a_tool_option_without_its_value_is_refused_with_the_form_it_takes(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(ROOT, 'tools', 'inspect_text.py'), 'ck.npz', '--chars', '200'],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.strip() == "inspect_text.py: error: expected --chars=200, got '--chars' (see --help)"


@pytest.mark.parametrize('value, ok', [('0', True), ('-1.5', True), ('2', True), ('nan', False), ('inf', False)])
def test_a_scripts_own_float_setting_takes_any_finite_number_and_learning_rate_only_a_positive_one(value, ok, tmp_path,
                                                                                                  capsys):
    """lstm.py's forget_bias (a setting harness.py has no rule of its own for) may be 0 or negative."""
    r = run_in_process(capsys, 'lstm.py', *small_args('lstm.py', tmp_path, '--max_iters=1', f'--forget_bias={value}'))
    if ok:
        assert r.returncode == 0 and f'forget_bias={float(value)}' in r.stderr, r.stderr
    else:
        assert_clean_error(r, f'--forget_bias must be a number, got {float(value)}')
    assert_clean_error(run_in_process(capsys, 'lstm.py', *small_args('lstm.py', tmp_path, '--learning_rate=0')),
                       '--learning_rate must be positive')
