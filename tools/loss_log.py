"""Reading a loss log (the .csv a training run writes beside its checkpoint), for the tools here."""
import csv
import sys

COLUMNS = ['iter', 'smooth_loss', 'loss_per_char', 'val_loss_per_char', 'elapsed_s']
GRADIENT = ['grad_norm', 'clipped_fraction']   # since the gradient's columns; empty on rows without a sample


def read_log(path, tool, until=None):
    """The rows of the loss log at path as dicts (up to iteration until, if given: a run trained on since); a log
    that is missing or is not a loss log ends the tool in one line on stderr."""
    try:
        with open(path, encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
            columns = rows and rows[0].keys()
            if not rows or not set(COLUMNS) <= columns <= set(COLUMNS + GRADIENT) or not all(r['iter'].isdigit() for r in rows):
                raise ValueError
            return [r for r in rows if until is None or int(r['iter']) <= until]
    except OSError as e:
        sys.exit(f'{tool}: error: cannot read loss log {path}: {e.strerror}')
    except (ValueError, UnicodeDecodeError, csv.Error):
        sys.exit(f'{tool}: error: {path} is not a loss log (a .csv with the columns {",".join(COLUMNS)} and rows)')
