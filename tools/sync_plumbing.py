"""Copy the plumbing (everything from the ruled line '# ====...' down) of one script into the other.

usage: python tools/sync_plumbing.py FROM.py TO.py      e.g. min_char_rnn.py rnn3.py

The two scripts keep their own model above the rule and one plumbing below it, the same text in both
(tests/test_plumbing.py fails when they differ): change it in one, then copy it with this.
"""
import os
import sys

RULE = '# ' + '=' * 77 + '\n'


def main(args):
    if len(args) != 2 or not all(a.endswith('.py') for a in args):
        sys.exit('sync_plumbing.py: error: give FROM.py TO.py (see --help)')
    try:
        texts = [open(path, encoding='utf-8').read() for path in args]
    except OSError as e:
        sys.exit(f'sync_plumbing.py: error: cannot read {e.filename}: {e.strerror}')
    if not all(RULE in text for text in texts):
        sys.exit('sync_plumbing.py: error: both files need the ruled line ' + RULE.strip()[:12] + '...')
    source, target = texts
    new = target[:target.index(RULE)] + source[source.index(RULE):]
    with open(args[1] + '.tmp', 'w', encoding='utf-8') as f:
        f.write(new)
    os.replace(args[1] + '.tmp', args[1])
    print(f'{args[1]}: plumbing copied from {args[0]} ({new.count(chr(10)) - target.count(chr(10)):+d} lines)')


if __name__ == '__main__':
    if {'-h', '--help'} & set(sys.argv[1:]):
        print(__doc__.strip())
    else:
        main(sys.argv[1:])
