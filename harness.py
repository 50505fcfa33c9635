"""What the paper does not have, once for every script: settings (the blocks at the top, a checkpoint's
record, the command line), the run's files (checkpoint, loss log, lock), signals, held-out loss, progress,
names (per_line), sampling a saved model. A script ends in harness.main(sys.modules[__name__]), which sets
its settings, then runs its train(run) (calling start_run, held_out, log_row, save_checkpoint, finish)."""
import os, sys
if not {'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'} & set(os.environ):
    os.environ.update(OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1')   # before NumPy loads (README, Speed)
try:
    import ast, contextlib, difflib, errno, functools, glob, hashlib, importlib.util, io, json, math
    import re, signal, stat, time, tokenize, zipfile
    try:
        import fcntl                             # POSIX (Linux, macOS): the lock is flock's
    except ImportError:
        fcntl, msvcrt = None, importlib.import_module('msvcrt')   # Windows: msvcrt.locking
    from types import SimpleNamespace
    import numpy as np
except KeyboardInterrupt:                          # Ctrl-C while NumPy loads: quiet, as later
    sys.exit(130)

# -----------------------------------------------------------------------------
# run options of every script, not the paper's: held-out loss, resume, sampling a saved model (--name=value)
val_fraction = 0.0               # held-out tail of the text (0: train on all of it, as the paper)
eval_every = 10000               # held-out loss every this many iterations
resume = False                   # continue checkpoint_path with the settings it records
generate = 0                     # > 0: sample this many characters from checkpoint_path, no training
lines = 0                        # > 0: sample this many lines (per_line: names), no training
prime = ''                       # text run through the network before sampling
prime_file = ''                  # or a UTF-8 file of such text
temperature = 1.0                # logits / it: lower is safer, repetitive; higher varied, misspelt; 0: greedy
top_k = 0                        # > 0: draw among the top_k likeliest characters only (0: all of them)
# -----------------------------------------------------------------------------

RULE = '# ' + '-' * 77                           # rules off a script's block of settings, and its sections
MAX_LINE = 1000                                  # per_line: the longest line (name) trained or sampled
HEADER = 'iter,smooth_loss,loss_per_char,val_loss_per_char,elapsed_s,grad_norm,clipped_fraction'   # the log's
HEADERS = (HEADER, HEADER.split(',grad')[0])    # first line; that of a log from before the gradient's columns
COUNTS = dict(hidden_size=1, num_layers=1, seq_length=1, max_iters=1, print_every=1, sample_length=1,
              eval_every=1, checkpoint_every=1, seed=0, generate=0, lines=0, top_k=0)   # whole numbers, least
KIND = dict(dict.fromkeys(COUNTS, int), per_line=bool, resume=bool, learning_rate=float, clip=float,
            temperature=float, val_fraction=float, input_file=str, dtype=str, checkpoint_path=str, prime=str,
            prime_file=str)
RULES = {bool: ('True or False', None), str: ('text', None), float: ('a number', math.isfinite),
         'learning_rate': ('positive', lambda v: 0 < v < math.inf),
         'clip': ('>= 0', lambda v: 0 <= v < math.inf), 'val_fraction': ('in [0, 1)', lambda v: 0 <= v < 1),
         'temperature': ('>= 0 (0: greedy)', lambda v: 0 <= v < math.inf),
         'checkpoint_path': ('a file name ending in .npz', lambda v: v.endswith('.npz')),
         'dtype': ('float64 or float32', lambda v: v in ('float64', 'float32'))}
MODEL = ['hidden_size', 'num_layers', 'per_line']   # fixed by a checkpoint
SAMPLING = ['prime', 'prime_file', 'temperature', 'top_k']   # how a saved model is sampled
OPTIONS = ['val_fraction', 'eval_every', 'resume', 'generate', 'lines'] + SAMPLING   # at the top of this file
ACTIONS = ['checkpoint_path', 'resume', 'generate', 'lines'] + SAMPLING   # never taken from a checkpoint
STATE = ['n', 'p', 'smooth_loss', 'elapsed', 'val_loss', 'val_iter', 'chars', 'text_sha256', 'input_path']
SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU']   # they save
SIGPIPE = getattr(signal, 'SIGPIPE', 13)         # a closed pipe exits with 128 + this (Windows has none)
NOFOLLOW = getattr(os, 'O_NOFOLLOW', 0)          # never through a link (Windows has no flag for it)
prog = ''                                        # whose messages these are: the script run, or the tool
stop = []                                        # signals, and an output gone, that ask a run to stop

def fail(msg):
    sys.exit(f'{prog}: error: {printable(msg)}')

def need(ok, msg):
    """A check the program relies on (never an assert, which python -O drops): a ValueError if not ok."""
    if not ok:
        raise ValueError(msg)

def note(msg):
    say(f'{prog}: {printable(msg)}', sys.stderr)

def printable(text):
    """text with control characters escaped: a path or a crafted record cannot drive the terminal."""
    return ''.join(c if c.isprintable() else c.encode('unicode_escape').decode() for c in text)

def say(text, stream=None):
    """Print to stdout (or stream); if it has gone (`| head`, a closed terminal), stop as Ctrl-C does."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        stop.append(SIGPIPE)

# settings: the block at the top of the script, a checkpoint's record, the command line; checked, set once
def read_block(module):
    """The block at the top of a script (or of this file), for --help and the names of its settings, in its
    order: ('', name, comment) for each name it assigns, (heading, '', '') for a comment alone on its line,
    unless it is an assignment commented out. Its values are the module's, not read here."""
    path = module.__file__
    block = open(path, encoding='utf-8').read().split(RULE)[1]
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(block).readline))
        nodes = [node for node in ast.parse(block).body if isinstance(node, ast.Assign)]
    except (SyntaxError, tokenize.TokenError) as e:
        fail(f'the block at the top of {os.path.basename(path)} is not Python ({e}); undo the last edit')
    comments = {tok.start[0]: (tok.string[1:].strip(), tok.line[:tok.start[1]].strip() == '')
                for tok in tokens if tok.type == tokenize.COMMENT}
    entries = {(row, 0): (text, '', '') for row, (text, alone) in comments.items()   # not `# clip = 5.0`
               if alone and not re.match(r'\w+\s*=[^=]', text)}
    for node in nodes:
        comment = next((comments[r][0] for r in range(node.lineno, node.end_lineno + 1) if r in comments), '')
        names = [t.id for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name)]
        entries.update(((node.lineno, k), ('', name, comment)) for k, name in enumerate(names))
    return [entries[key] for key in sorted(entries)]   # by line, then by place in the line

def parse(arg, following, kinds):
    """(name, value) from --name=value, the value typed as the setting is (check() then checks it)."""
    name, eq, value = arg[2:].partition('=')
    if not arg.startswith('--') or not eq:
        right = f'--{name}=True' if kinds.get(name) is bool else f'--{name}={following[0]}' if name in kinds \
            and following else '--name=value'
        fail(f"expected {right}, got '{arg}' (see --help)")
    if name not in kinds:
        near = ''.join(f'; did you mean --{k}?' for k in difflib.get_close_matches(name, kinds, 1))
        fail(f"unknown hyperparameter '{name}'{near} (see --help)")
    try:
        return name, (value if kinds[name] is str else int(value) if kinds[name] is int and value.isdigit()
                      else {'true': True, '1': True, 'false': False, '0': False}[value.lower()]
                      if kinds[name] is bool else float(value))
    except (KeyError, ValueError):
        fail(f'--{name}={value} is not a valid {kinds[name].__name__}')

def check(name, value, where, kind):
    """The value if it suits the setting (a count may be written 1e6; 2**53 at most), else one line."""
    with contextlib.suppress(OverflowError):     # a count of 400 digits is no float: refused below
        if kind in (int, float) and type(value) in (int, float) and (kind is float or value % 1 == 0):
            value = kind(value)
    least, huge = COUNTS.get(name, 0), kind is int and type(value) is int and value > 2**53
    want, ok = (f'a whole number >= {least}' + ' and at most 2**53' * huge, lambda v: least <= v <= 2**53) \
        if kind is int else RULES.get(name, RULES.get(kind, (kind.__name__, None)))
    if type(value) is not kind or ok and not ok(value):
        fail(f'{where} must be {want}, got {repr(value):.40}')
    return value

def settings(m, argv, run):
    """Each setting from the block at the top of script m, then (resuming or sampling) the checkpoint's
    record, then the command line: checked, then set in m once. A training run first locks its checkpoint."""
    here, run.script = sys.modules[__name__], os.path.basename(m.__file__)
    blocks = [(m, read_block(m)), (here, read_block(here))]   # the script's settings, then the run options
    own = [name for _, name, _ in blocks[0][1] if name]
    run.keys = own + [name for _, name, _ in blocks[1][1] if name and name not in own]
    if {'-h', '--help'} & set(argv):             # every setting: its default and what it means
        print(m.__doc__.strip())
        for module, block in blocks:
            for heading, name, comment in block:
                value = repr('') if getattr(module, name, None) == '' else getattr(module, name, None)
                print(f'\n{heading}:' if heading else f'  --{name}={value}'.ljust(38) + ' ' + comment)
        sys.exit(0)
    for k in [k for k in KIND if k not in run.keys]:   # a line deleted from a block: this, not a NameError
        if k != 'num_layers' or 'num_layers' in open(m.__file__, encoding='utf-8').read().split(RULE, 2)[2]:
            where = 'harness.py' if k in OPTIONS else run.script
            fail(f'the setting {k} is missing from the block at the top of {where}: put its line back')
    top = {k: getattr(m if k in own else here, k) for k in run.keys}   # the values, from the modules
    kinds = {k: KIND.get(k) or type(top[k]) for k in run.keys}   # a user's own setting: as its value
    given = dict(parse(arg, argv[i + 1:i + 2], kinds) for i, arg in enumerate(argv))
    config = {k: check(k, v, f'{k} at the top of {run.script if k in own else "harness.py"}', kinds[k])
              for k, v in top.items()}
    config.update({k: check(k, v, '--' + k, kinds[k]) for k, v in given.items()})
    path, resuming = config['checkpoint_path'], config['resume']
    sampling, asked = config['generate'] or config['lines'], [f'--{k}' for k in SAMPLING if k in given]
    if sampling and resuming or not sampling and asked:
        fail('--resume=True trains, --generate and --lines sample: give one of them' if resuming else
             f'{" and ".join(asked)} {"are" if len(asked) > 1 else "is"} for sampling a saved model: add '
             '--generate=N or --lines=K')
    run.path = os.path.realpath(path)            # the files by their real path, whatever links lead there
    run.log_path, run.lock_path = os.path.splitext(run.path)[0] + '.csv', run.path + '.lock'
    if not sampling:
        lock(run, path)
    record = load_checkpoint(run, path) if resuming or sampling else {}
    for k in MODEL:
        if k in given and k in record and given[k] != record[k]:
            fail(f'checkpoint {path} has {k}={record[k]}, not {given[k]}')
    adopt = {k: check(k, v, f'{k} in {path}', kinds[k]) for k, v in record.items() if k in config
             and k not in given and k not in ACTIONS and (resuming or k in MODEL + ['dtype'])}
    changed = [f'{k}={v}' for k, v in adopt.items() if v != config[k]]
    vars(m).update(config, **adopt)
    if resuming and run.n >= m.max_iters:
        fail(f'{path} is a finished run (iteration {run.n}, max_iters={m.max_iters}); to go on, raise it: '
             f'--resume=True --max_iters={2 * run.n}')
    if record:
        restore(run)
    if resuming:
        note(f'resuming {path} at iteration {run.n}' + (f'; settings it was run with, not those at the '
             f'top of {run.script}: {", ".join(changed)}' if changed else ''))

# run files: the lock, the checkpoint (read, checked, written whole) and the loss log beside it
def lock(run, path):
    """Lock the checkpoint's real path + .lock while the run lasts (the system drops the lock when the process
    ends, even by kill -9): a second run on it, by any name, is refused. A killed run's *.tmp files go."""
    os.makedirs(os.path.dirname(run.path), exist_ok=True)
    while run.lock is None:
        fd = os.open(run.lock_path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        if not take_lock(fd):
            fail(f'{path} is in use by another run: let it end, or give this one another --checkpoint_path')
        if os.path.exists(run.lock_path) and os.path.samestat(os.fstat(fd), os.stat(run.lock_path)):
            run.lock = fd                        # else the run before removed it as it ended: lock anew
    for tmp in glob.glob(glob.escape(run.path) + '.*.tmp') + glob.glob(glob.escape(run.log_path) + '.*.tmp'):
        os.remove(tmp)
    with contextlib.suppress(FileNotFoundError), open(run.log_path, 'rb') as f:   # a run renames or rewrites
        first = f.readline(len(HEADER) + 2)      # only a loss log (one cut short too), never a user's .csv
        if first.rstrip(b'\r\n') not in map(str.encode, HEADERS) and not HEADER.encode().startswith(first):
            fail(f"{run.log_path} is not {run.script}'s loss log: move it, or give another --checkpoint_path")

def take_lock(fd):
    """Whether this process now holds the lock of the open file fd (flock; on Windows, msvcrt.locking)."""
    try:
        if fcntl:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as e:                         # held: BlockingIOError; Windows: EACCES or EDEADLOCK
        if isinstance(e, BlockingIOError) or e.errno in (errno.EACCES, errno.EDEADLK):
            return False
        raise
    return True

def member(z, name, ok):
    """Array name of the open checkpoint z, read only once its header's shape and dtype pass ok."""
    with z.open(name + '.npy') as f:
        header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        shape, _, dtype = header[np.lib.format.read_magic(f)](f)
    need(not dtype.hasobject and ok(shape, dtype), f'its {name} is damaged')
    with z.open(name + '.npy') as f:
        return np.lib.format.read_array(f, allow_pickle=False)

def load_checkpoint(run, path):
    """A checkpoint's record, checked, into the run record (its arrays wait for restore); its settings."""
    whole = lambda v: type(v) is int and v >= 0
    real = lambda v: type(v) in (int, float) and math.isfinite(v)
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(str(member(z, 'meta', lambda shape, dtype: shape == () and dtype.kind == 'U'
                                         and dtype.itemsize <= 2**26)))
        meta = dict(val_loss=None, val_iter=None, text_sha256=None, input_path=None) | meta
        need(meta['script'] == (run.script or meta['script']), f"it was written by {meta['script']}")
        for k, ok in dict(n=whole, p=whole, smooth_loss=real, elapsed=real, config=lambda v: type(v) is dict,
                          val_loss=lambda v: v is None or real(v), val_iter=lambda v: v is None or whole(v),
                          chars=lambda v: type(v) is list and v
                          and all(type(c) is str and len(c) == 1 for c in v)).items():
            need(ok(meta[k]), f'its {k} is damaged')
        run.rng = np.random.default_rng()
        run.rng.bit_generator.state = meta['rng']
    except FileNotFoundError:
        fail(f'no checkpoint at {path}: train first, or set --checkpoint_path')
    except Exception as e:                       # anything else: not a zip, cut, corrupt, pickled, foreign
        fail(f'{path} is not a usable {run.script or "saved model"} checkpoint ({type(e).__name__}: {e})')
    run.__dict__.update({k: meta[k] for k in STATE}, script=meta['script'], config=meta['config'])
    return dict(per_line=False) | meta['config']

def restore(run):
    """Weights, Adagrad's memory, hprev and log rows from the checkpoint, each read once its header fits."""
    m, V, path, log = run.m, len(run.chars), run.m.checkpoint_path, None   # log: none in an old checkpoint
    want = dict(m.shapes(V), **{'m' + k: s for k, s in m.shapes(V).items()}, hprev=m.zero_state().shape)
    fits_memory(m, V)
    try:
        with zipfile.ZipFile(path) as z:
            arrays = {k: member(z, k, lambda shape, dtype, s=s: shape == s and dtype.kind == 'f')
                      for k, s in want.items()}
            if 'log.npy' in z.namelist():        # at most a row an iteration, and the closing one
                log = member(z, 'log', lambda shape, dtype: dtype == np.uint8 and len(shape) == 1
                             and shape[0] <= 200 * (run.n + 2)).tobytes().decode('utf-8').split('\n')
                need(log[0] in HEADERS and log[-1] == '', 'its log is damaged')
    except Exception as e:
        fail(f'{path} is not a usable {run.script} checkpoint ({type(e).__name__}: {e})')
    run.theta, run.mem = (np.concatenate([arrays[pre + k].ravel() for k in m.shapes(V)]).astype(m.dtype)
                          for pre in ('', 'm'))
    run.hprev, on_disk = arrays['hprev'].astype(m.dtype), []
    with contextlib.suppress(OSError, UnicodeDecodeError):
        on_disk = open(run.log_path, encoding='utf-8').read().splitlines()[1:]
    rows = log[1:-1] if log else [row for row in on_disk if row.split(',')[0].isdigit()   # a checkpoint from
                                  and int(row.split(',')[0]) < run.n]   # before the log was kept in it
    run.rows = [row + ',' * (HEADER.count(',') - row.count(',')) for row in rows]   # older logs' rows
    if len(on_disk) > len(run.rows) and m.resume:
        note(f'loss log {run.log_path}: {len(on_disk) - len(run.rows)} rows written after its checkpoint '
             f'(iteration {run.n}) are dropped')

def keep_earlier_run(run):
    """A new run never overwrites an earlier one: this script's checkpoint and log there are renamed first."""
    old = [f for f in (run.path, run.log_path) if os.path.lexists(f)]
    if not old:
        return
    earlier = SimpleNamespace(n=None, script=run.script)
    if run.path in old:
        load_checkpoint(earlier, run.m.checkpoint_path)   # and refuse a file that is not this script's
    stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(os.path.getmtime(old[0])))
    tag = ('' if earlier.n is None else f'iter{earlier.n}-') + stamp
    new = lambda f, k: '{0}.{2}{3}{1}'.format(*os.path.splitext(f), tag, f'-{k}' if k else '')
    k = 0
    while any(os.path.lexists(new(f, k)) for f in old):
        k += 1
    for f in old:
        os.rename(f, new(f, k))
    note(f"earlier run kept as {' and '.join(new(f, k) for f in old)}; this is a new run "
         '(--resume=True continues one)')

def save_checkpoint(run):
    """The checkpoint (the paper's arrays, Adagrad's memory as 'm' + name, hprev, the record, the log), then
    the log: each written to a new file with the earlier one's mode, renamed over it: it stays whole."""
    m, V = run.m, len(run.chars)
    meta = dict({k: getattr(run, k) for k in STATE}, script=run.script, smooth_loss=float(run.smooth_loss),
                elapsed=seconds(run), rng=run.rng.bit_generator.state,
                config={k: getattr(m, k) for k in run.keys})
    log = np.frombuffer('\n'.join([HEADER, *run.rows, '']).encode('utf-8'), np.uint8)   # the .csv, in it too
    arrays = dict(zip(m.shapes(V), m.unflatten(run.theta, V)), hprev=run.hprev, log=log,
                  meta=np.array(json.dumps(meta)))
    arrays.update(('m' + k, x) for k, x in zip(m.shapes(V), m.unflatten(run.mem, V)))
    for path, write in [(run.path, lambda f: np.savez(f, **arrays)), (run.log_path, lambda f: f.write(log))]:
        tmp, f = f'{path}.{os.urandom(6).hex()}.tmp', None
        try:
            with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o666), 'wb') as f:
                with contextlib.suppress(FileNotFoundError, AttributeError):   # Windows: no fchmod, no modes
                    os.fchmod(f.fileno(), stat.S_IMODE(os.stat(path).st_mode))
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except OSError as e:
            if f:                                # a file this run made (not one planted at its name)
                with contextlib.suppress(OSError):
                    os.remove(tmp)
            fail(f'cannot write {path}: {e.strerror}; the previous one is untouched')

# the run: its data and weights, signals, held-out loss, the log's rows and progress, the end
def start_run(run):
    """The run record filled in: the data, weights and Adagrad's memory (new or the checkpoint's), signals."""
    m, found = run.m, getattr(run, 'input_path', None)   # a resume from another folder: the text it read
    same = m.resume and m.input_file == run.config['input_file'] and not os.path.exists(m.input_file)
    run.input_path = found if same and found else os.path.abspath(m.input_file)
    data, chars = m.load_data(run.input_path)
    note(f'data has {len(data)} characters, {len(chars) if len(data) else 0} unique.')
    text_sha256, V = hashlib.sha256(data.tobytes()).hexdigest(), len(chars)
    if m.per_line:
        data = split_lines(data, chars.index('\n') if '\n' in chars else -1)
        if not data or max(map(len, data)) > MAX_LINE + 2:
            fail(f'--per_line=True trains on lines of 1 to {MAX_LINE} characters, and {m.input_file} has '
                 + (f'a line of {max(map(len, data)) - 2} characters' if data else 'no non-empty line'))
    n_val = int(len(data) * m.val_fraction)
    run.data, run.val_data = data[:len(data) - n_val], (data[len(data) - n_val:] if n_val else None)
    run.chars_per_seq = np.mean([len(s) - 1 for s in run.data]) if m.per_line else m.seq_length
    short = len(run.data) < (1 if m.per_line else m.seq_length + 1)   # lines or characters to train on
    if m.val_fraction and (short or n_val < (1 if m.per_line else 2)):
        fail(f'--val_fraction={m.val_fraction} leaves {len(run.data)} '
             f'{"lines" if m.per_line else "characters"} to train on and {n_val} held out')
    if short:
        fail(f'{m.input_file} has {len(run.data)} characters; training needs at least seq_length + 1 = '
             f'{m.seq_length + 1}')
    if not m.resume:
        new_run(run, chars)
    elif run.chars != chars:
        fail(f'{m.input_file} has a different vocabulary ({V} symbols) from checkpoint {m.checkpoint_path} '
             f'({len(run.chars)}), which was trained on {run.config.get("input_file")}')
    elif run.text_sha256 not in (None, text_sha256):
        note(f'warning: {m.input_file} is not the text {m.checkpoint_path} was trained on (same vocabulary)')
    run.text_sha256, run.params, run.n0, run.t0 = text_sha256, m.unflatten(run.theta, V), run.n, time.time()
    run.handlers = {sig: signal.signal(sig, lambda signum, _: stop.append(signum))   # main puts them back
                    for sig in (getattr(signal, name) for name in SIGNALS if hasattr(signal, name))}

def fits_memory(m, V):
    """The model's size, if training it fits this machine's memory; else a one-line error."""
    size = sum(int(np.prod(shape)) for shape in m.shapes(V).values())
    need = np.dtype(m.dtype).itemsize * (4 * size + 8 * m.seq_length * V) + 8 * m.sample_length * V   # a step
    have = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') if hasattr(os, 'sysconf') else math.inf
    if need > have:
        fail(f'hidden_size={m.hidden_size} and {V:,} symbols make {size:,} parameters, about '
             f'{need / 2**30:.1f} GB to train; this machine has {have / 2**30:.1f} GB')
    return size

def new_run(run, chars):
    """The script's new_run (the listing's start: new weights, the loss of iteration 0), after the earlier
    run's files are kept aside; no held-out loss, no log rows yet."""
    m, V = run.m, len(chars)
    paper = run.keys[1:run.keys.index('per_line')]   # the first group of the block, but input_file
    note(f'new run: {fits_memory(m, V):,} parameters ({m.dtype}); '
         + ', '.join(f'{k}={getattr(m, k)}' for k in paper))
    keep_earlier_run(run)
    m.new_run(run, run.data, chars)
    run.__dict__.update(elapsed=0.0, val_loss=None, val_iter=None, rows=[])

def split_lines(data, nl):
    """per_line: each non-empty line as newline + line + newline (the newline starts and ends a name)."""
    ends = np.flatnonzero(np.append(data, nl) == nl)
    starts = np.append(-1, ends[:-1])
    return [np.concatenate(([nl], data[a + 1:b], [nl])) for a, b in zip(starts, ends) if b > a + 1]

@functools.lru_cache(maxsize=1)
def line_order(seed, epoch, count):
    """per_line: the order of the lines in pass `epoch` over them, seeded and reshuffled every pass."""
    return np.random.default_rng([seed, epoch]).permutation(count)

def next_name(run):
    """per_line: iteration run.n's name (inputs: newline + name, targets: name + newline) and a zero state."""
    seq = run.data[line_order(run.m.seed, run.n // len(run.data), len(run.data))[run.n % len(run.data)]]
    return seq[:-1], seq[1:], run.m.zero_state()

def sample_names(m, k, start, params, rng, temperature=1.0, top_k=0):
    """per_line: k names (index lists), each from a zero state fed start (a newline, then any prime)."""
    h = m.forward(start[:-1], start[1:], m.zero_state(), params)[1][..., len(start) - 2, :]
    return [m.sample(h, start[-1], m.sample_length, params, rng, temperature, start[0], top_k)[0]
            for _ in range(k)]

def names_sample(run, params, k=5):
    """per_line: the sample a printing iteration shows, k names one a line (character indices)."""
    nl = run.chars.index('\n')
    return sum((name + [nl] for name in sample_names(run.m, k, [nl], params, run.rng)), [])[:-1]

def seconds(run):
    return run.elapsed + time.time() - run.t0   # training time, across resumes

def held_out(run, final=False):
    """Every eval_every iterations and at the end (once an iteration), the mean loss per character of the
    held-out data on stdout: h carried across chunks as in training (per_line: a zero state for each name)."""
    if run.val_data is None or run.val_iter == run.n or run.n % run.m.eval_every and not final:
        return
    m, h, total = run.m, run.m.zero_state(), 0.0
    chunks = run.val_data if m.per_line else [run.val_data[i:i + m.seq_length + 1]
                                              for i in range(0, len(run.val_data) - 1, m.seq_length)]
    for chunk in chunks:
        if stop:
            return                               # a signal: evaluated again on resume
        loss, hs, _ = m.forward(chunk[:-1], chunk[1:], m.zero_state() if m.per_line else h, run.params)
        total, h = total + float(loss), hs[..., len(chunk) - 2, :]   # h_{T-1}
    val = run.val_loss = total / sum(len(chunk) - 1 for chunk in chunks)
    run.val_iter = run.n
    say(f'iter {run.n}, held-out loss: {val:.4f} nats/char, {val / np.log(2):.4f} bits/char')

def log_row(run, grads=None):
    """A row of the loss log (one an iteration: the last one wins); with the gradient, its norm before
    clipping and the fraction of its entries clipping changes, and speed and time left on stderr."""
    m, health = run.m, ','
    if grads:                                    # printing iterations only: two passes over the gradient
        norm = math.sqrt(sum(np.square(g, dtype=np.float64).sum() for g in grads))
        clipped = sum(np.count_nonzero(abs(g) > m.clip) for g in grads) if m.clip else 0
        health = f'{norm:.6g},{clipped / sum(g.size for g in grads):.6g}'
    row = (f'{run.n},{run.smooth_loss:.6f},{run.smooth_loss / run.chars_per_seq:.6f},'
           f"{run.val_loss if run.val_iter == run.n else ''},{seconds(run):.1f},{health}")
    if run.rows and run.rows[-1].startswith(f'{run.n},'):
        run.rows.pop()                           # a resumed run writes its first row anew
    run.rows.append(row)
    if grads and run.n > run.n0:
        rate = (run.n - run.n0) / max(time.time() - run.t0, 1e-9)
        left = round((m.max_iters - run.n) / max(rate, 1e-9))
        note(f'iter {run.n}/{m.max_iters}: loss {run.smooth_loss / run.chars_per_seq:.4f} nats/char, '
             f'{rate:.0f} it/s, {left // 3600} h {left % 3600 // 60} min {left % 60} s left')

def finish(run):
    """The held-out loss at the last iteration (a row of the log), the checkpoint, the closing line."""
    if run.val_data is not None and not stop:
        held_out(run, final=True)
        if not stop:
            log_row(run)
    save_checkpoint(run)
    rate = (run.n - run.n0) / (time.time() - run.t0)
    how = f'continue with --resume=True --checkpoint_path={run.m.checkpoint_path}' if stop else 'done'
    note(f'{"interrupted" if stop else "stopped"} at iteration {run.n} ({rate:.0f} it/s); '
         f'saved {run.m.checkpoint_path}; {how}')
    if stop:
        sys.exit(128 + stop[0])

# sampling a saved model: --generate and --lines; and the tools' load_model
def read_prime(m):
    """--prime, or the text of --prime_file (UTF-8; its first million characters)."""
    if m.prime_file and m.prime:
        fail('give --prime or --prime_file, not both')
    try:
        with open(m.prime_file, encoding='utf-8-sig') if m.prime_file else io.StringIO(m.prime) as f:
            return f.read(10**6)
    except (OSError, UnicodeDecodeError) as e:
        fail(f'cannot read --prime_file={m.prime_file} as UTF-8 text ({getattr(e, "strerror", None) or e})')

def generate_text(run):
    """--generate=N characters or --lines=K lines from the saved model after the prime (per_line: names, each
    from a zero state fed a newline and the prime), ending with a newline."""
    m, prime = run.m, read_prime(run.m)
    note(f'sampling {m.checkpoint_path} at iteration {run.n} (trained on {run.config.get("input_file")})')
    params, ix_of = m.unflatten(run.theta, len(run.chars)), {ch: i for i, ch in enumerate(run.chars)}
    for ch in (ch for ch in prime if ch not in ix_of):
        fail(f"--prime{'_file' if m.prime_file else ''} has {ch!r}, which is not in the model's vocabulary")
    if m.lines and '\n' not in ix_of:
        fail('--lines needs a newline in the vocabulary')
    # from a zero state fed a newline (or, if the text has none, its first symbol), then the prime
    start = [ix_of.get('\n', 0)] * (m.per_line or not prime) + [ix_of[ch] for ch in prime]
    h = m.forward(start[:-1], start[1:], m.zero_state(), params)[1][..., len(start) - 2, :]   # after prime
    ix, rng = start[-1], np.random.default_rng(m.seed)
    last = '' if m.per_line else prime         # what was written last
    left, todo = m.generate or MAX_LINE * m.lines, m.lines - last.count('\n') if m.lines else sys.maxsize
    sys.stdout.write(last)
    while left > 0 and todo > 0:                 # in pieces: any length in little memory
        if m.per_line:
            name = sample_names(m, 1, start, params, rng, m.temperature, m.top_k)[0]   # zero state fed start
            piece = prime + ''.join(run.chars[i] for i in name) + '\n'
        else:                                    # a piece's noise: at most 8 MB, whatever the vocabulary
            ixes, h = m.sample(h, ix, min(left, 10000, 2**20 // len(ix_of) + 1), params, rng, m.temperature,
                               None, m.top_k)
            piece, ix = ''.join(run.chars[i] for i in ixes), ixes[-1]
        parts = piece[:left].split('\n')
        piece = '\n'.join(parts[:todo]) + ('\n' if len(parts) > todo else '')
        sys.stdout.write(piece)
        last, left, todo = (last + piece)[-1:], left - len(piece), todo - piece.count('\n')
    print('' if last.endswith('\n') else '\n', end='', flush=True)

def load_model(path):
    """For the tools: the script that wrote checkpoint path (one beside this file), set up as the checkpoint
    records (float64), and its run record (params, chars, n, config...). Quiet; the checks are sampling's."""
    global prog
    run, prog = SimpleNamespace(script=None, lock=None, handlers={}), os.path.basename(sys.argv[0])
    load_checkpoint(run, path)                   # the script it names: a file beside this one
    file = os.path.join(os.path.dirname(os.path.abspath(__file__)), str(run.script))
    if not re.fullmatch(r'[\w-]+\.py', str(run.script)) or not os.path.isfile(file) or file == __file__:
        fail(f'{path} was written by {run.script!r}, which is not a script beside harness.py')
    spec = importlib.util.spec_from_file_location(run.script[:-3], file)
    run.m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run.m)
    settings(run.m, [f'--checkpoint_path={path}', '--generate=1', '--dtype=float64'], run)
    run.params = run.m.unflatten(run.theta, len(run.chars))
    return run.m, run

def main(m, argv=None):
    """Run script m as its command line (argv, else sys.argv) asks: train it (m.train) or sample its model."""
    global prog
    prog, run = os.path.basename(m.__file__), SimpleNamespace(m=m, stop=stop, lock=None, handlers={})
    np.seterr(all='ignore')                      # a non-finite loss is caught and reported by train
    with contextlib.suppress(AttributeError):    # what stdout's encoding cannot hold, as \x.. escapes
        sys.stdout.reconfigure(errors='backslashreplace')
    stop.clear()
    try:
        settings(m, sys.argv[1:] if argv is None else argv, run)
        generate_text(run) if m.generate or m.lines else m.train(run)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as e:
        if e.filename is None and e.errno in (errno.EPIPE, errno.EIO):   # stdout gone: | head, a closed tty
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            if hasattr(run, 't0'):               # train prints once an iteration is whole: save that
                stop.append(SIGPIPE)
                finish(run)
            sys.exit(1)
        if e.filename == getattr(run, 'input_path', None):
            fail(f'cannot read input file {m.input_file} ({e.filename}): {e.strerror}; '
                 'give --input_file=PATH')
        fail(f'cannot write {e.filename}: {e.strerror}')
    except MemoryError:
        fail(f'out of memory with hidden_size={m.hidden_size} and {len(getattr(run, "chars", []))} symbols')
    except UnicodeDecodeError as e:
        fail(f'{m.input_file} is not UTF-8 text (byte {e.start}); convert it to UTF-8')
    finally:
        for sig, handler in run.handlers.items():
            signal.signal(sig, handler)
        if run.lock is not None:                 # removed while still held: see lock()
            with contextlib.suppress(OSError):
                os.remove(run.lock_path)
            os.close(run.lock)
