"""The two scripts share one plumbing: below the ruled line they are the same text, above it each
holds its model behind the same small interface; both stay readable in one sitting."""
import os

import pytest

from common import ROOT, SCRIPTS, load_script

RULE = '# ' + '=' * 77 + '\n'
INTERFACE = ['load_data', 'line_order', 'shapes', 'unflatten', 'init_params', 'zero_state', 'forward', 'lossFun',
             'update', 'sample', 'sample_names', 'train']


def source(script):
    return open(os.path.join(ROOT, script), encoding='utf-8').read()


def test_below_the_ruled_line_both_scripts_are_the_same_text():
    below = []
    for script in SCRIPTS:
        text = source(script)
        assert text.count(RULE) == 1, f'{script} needs exactly one ruled line'
        below.append(text[text.index(RULE):].splitlines())
    first = next((i for i, (a, b) in enumerate(zip(*below)) if a != b), min(map(len, below)))
    assert below[0] == below[1], (f'the plumbing differs at its line {first + 1}: {below[0][first:first + 1]} vs '
                                  f'{below[1][first:first + 1]} (copy it: python tools/sync_plumbing.py FROM.py TO.py)')


@pytest.mark.parametrize('script', SCRIPTS)
def test_the_model_above_the_rule_offers_the_interface_the_plumbing_uses(script):
    m, text = load_script(script), source(script)
    above = text[:text.index(RULE)]
    for name in INTERFACE:
        assert callable(getattr(m, name)) and f'\ndef {name}(' in above, name


@pytest.mark.parametrize('script', SCRIPTS)
def test_no_line_is_longer_than_110_characters(script):
    long = [i + 1 for i, line in enumerate(source(script).splitlines()) if len(line) > 110]
    assert not long, f'{script}: lines {long}'
