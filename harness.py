"""All the paper does not have, once for every script; each ends in harness.main(sys.modules[__name__])."""
import os, sys
if not {'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'} & set(os.environ):
    os.environ.update(OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1')   # before NumPy loads (README, Speed)
try:
    import ast, contextlib, difflib, errno, functools, glob, hashlib, importlib.util, io, json, math
    import re, signal, stat, time, tokenize, types, zipfile
    try:
        import fcntl                             # POSIX (Linux, macOS): the lock is flock's
    except ImportError:
        fcntl, msvcrt = None, importlib.import_module('msvcrt')   # Windows: msvcrt.locking
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
NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW   # a file this run makes, never one that is there
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

def say(text, stream):
    """Print to stream (stdout, stderr); if it has gone (`| head`, a closed terminal), stop as Ctrl-C does."""
    try:
        print(text, file=stream, flush=True)
    except OSError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
        stop.append(SIGPIPE)

# settings: the block at the top of the script, a checkpoint's record, the command line; checked, set once
def read_block(module):
    """A block of settings in order: ('', name, comment) an assignment, (heading, '', '') a comment line."""
    path, block = module.__file__, open(module.__file__, encoding='utf-8').read().split(RULE)[1]
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
    """Settings from script m's block, the checkpoint's record (resuming, sampling), the command line."""
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
        lock(run, path, config['max_iters'], resuming)
    record = load_checkpoint(run, path) if resuming or sampling else {}
    for k in (k for k in MODEL if k in given and k in record and given[k] != record[k]):
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
def lock(run, path, max_iters=1, resuming=False):
    """Lock the checkpoint's real path + .lock while the run lasts (gone at exit); check the names used."""
    os.makedirs(os.path.dirname(run.path), exist_ok=True)
    if {os.open, os.stat, os.rename, os.unlink} <= os.supports_dir_fd:   # the folder itself, moved or not
        run.dir = os.open(os.path.dirname(run.path), os.O_RDONLY)
    while run.lock is None:
        fd = os.open(run.lock_path, os.O_RDWR | os.O_CREAT | NOFOLLOW, 0o644)
        try:
            if fcntl:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:                                # Windows
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except (BlockingIOError, PermissionError):   # held (Windows: EACCES)
            fail(f'{path} is in use by another run: let it end, or give this one another --checkpoint_path')
        if os.path.exists(run.lock_path) and os.path.samestat(os.fstat(fd), os.stat(run.lock_path)):
            run.lock = fd                        # else the run before removed it as it ended: lock anew
    for tmp in glob.glob(glob.escape(run.path) + '.*.tmp') + glob.glob(glob.escape(run.log_path) + '.*.tmp'):
        os.remove(tmp)
    with contextlib.suppress(FileNotFoundError), open(run.log_path, 'rb') as f:   # a run renames or rewrites
        first = f.readline(len(HEADER) + 2)      # only a loss log (one cut short too), never a user's .csv
        if first.rstrip(b'\r\n') not in map(str.encode, HEADERS) and not HEADER.encode().startswith(first):
            fail(f"{run.log_path} is not {run.script}'s loss log: move it, or give another --checkpoint_path")
    probe = kept_name(run.path, f'iter{max_iters}-{"0" * 8}-{"0" * 6}', 99)   # the longest (.csv's too)
    try:
        with contextlib.suppress(FileExistsError):   # a name in use is one the folder takes
            os.close(os.open(probe, NEW, 0o600))
            os.remove(probe)
    except OSError as e:
        fail(f'cannot write {probe}: {e.strerror}; give a shorter --checkpoint_path')
    if os.path.islink(path) and not os.path.exists(run.path):
        fail(f'{path} is a link to nothing ({run.path}): remove it, or give another --checkpoint_path')
    if resuming and os.path.isfile(run.path) and os.stat(run.path).st_nlink > 1:
        fail(f'{path} has another name (a hard link): copy it (cp) and resume the copy')
    with contextlib.suppress(OSError), open('/proc/self/mountinfo', 'rb') as mounts:   # Linux: mount --bind
        for f in {os.fsencode(run.path), os.fsencode(run.log_path)} & {line.split()[4] for line in mounts}:
            fail(f'{os.fsdecode(f)} is a mount point, which a save cannot replace: umount it first')

def kept_name(f, tag, k):
    """The name file f of an earlier run is kept under: a.npz as a.<tag>.npz (a.<tag>-<k>.npz if k)."""
    return '{0}.{2}{3}{1}'.format(*os.path.splitext(f), tag, f'-{k}' if k else '')   # stem, ext, tag, k

def member(z, name, ok):
    """Array name of open checkpoint z, once its header passes ok and its size fits its member and file."""
    info = z.getinfo(name + '.npy')
    with z.open(info) as f:
        shape, _, dtype = getattr(np.lib.format, 'read_array_header_%d_%d' % np.lib.format.read_magic(f))(f)
        fits = math.prod(shape) * dtype.itemsize <= info.file_size <= os.fstat(z.fp.fileno()).st_size
        need(not dtype.hasobject and ok(shape, dtype) and fits, f'its {name} is damaged')
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)

def load_checkpoint(run, path):
    """A checkpoint's record, checked, into the run record (its arrays wait for restore); its settings."""
    whole = lambda v: type(v) is int and v >= 0
    real = lambda v: type(v) in (int, float) and math.isfinite(v)
    try:
        with zipfile.ZipFile(path) as z:
            meta = json.loads(str(member(z, 'meta', lambda shape, dtype: shape == () and dtype.kind == 'U')))
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
    fits_memory(m, V)                            # before anything of that size is made
    want = dict(m.shapes(V), **{'m' + k: s for k, s in m.shapes(V).items()}, hprev=m.zero_state().shape)
    try:
        with zipfile.ZipFile(path) as z:
            arrays = {k: member(z, k, lambda shape, dtype, s=s: shape == s and dtype.kind == 'f')
                      for k, s in want.items()}
            if 'log.npy' in z.namelist():
                log = member(z, 'log', lambda shape, dtype: dtype == np.uint8 and len(shape) == 1).tobytes()
                log = log.decode('utf-8').split('\n')
                need(log[0] in HEADERS and log[-1] == '', 'its log is damaged')
    except Exception as e:
        fail(f'{path} is not a usable {run.script} checkpoint ({type(e).__name__}: {e})')
    run.theta, run.mem = (np.concatenate([arrays[pre + k].ravel() for k in m.shapes(V)]).astype(m.dtype)
                          for pre in ('', 'm'))
    run.hprev, rows, on_disk = arrays['hprev'].astype(m.dtype), log and log[1:-1], 0
    with contextlib.suppress(OSError), open(run.log_path, 'rb') if m.resume or not log else io.BytesIO() as f:
        if not log:                              # a checkpoint from before the log was kept in it: the rows
            rows = [row for row in f.read(200 * (run.n + 2)).decode('utf-8', 'replace').splitlines()[1:]
                    if row.split(',')[0].isdigit() and int(row.split(',')[0]) < run.n]   # before its iter.
        f.seek(0)
        on_disk = sum(piece.count(b'\n') for piece in iter(lambda: f.read(2**20), b'')) - 1   # rows
    run.rows = [row + ',' * (HEADER.count(',') - row.count(',')) for row in rows]   # older logs' rows
    if on_disk > len(run.rows) and m.resume:
        note(f'loss log {run.log_path}: {on_disk - len(run.rows)} rows written after its checkpoint '
             f'(iteration {run.n}) are dropped')

def keep_earlier_run(run):
    """A new run never overwrites an earlier one: this script's checkpoint and log there are renamed first."""
    old = [f for f in (run.path, run.log_path) if os.path.lexists(f)]
    if not old:
        return
    earlier = types.SimpleNamespace(n=None, script=run.script)
    if run.path in old:
        load_checkpoint(earlier, run.m.checkpoint_path)   # and refuse a file that is not this script's
    stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(os.lstat(old[0]).st_mtime))
    tag = ('' if earlier.n is None else f'iter{earlier.n}-') + stamp
    k = next(k for k in range(2**20) if not any(os.path.lexists(kept_name(f, tag, k)) for f in old))   # free
    for f in reversed(old):                      # the log first: a stop between leaves the pair to keep again
        os.rename(f, kept_name(f, tag, k))
    note(f"earlier run kept as {' and '.join(kept_name(f, tag, k) for f in old)}; this is a new run "
         '(--resume=True continues one)')

def save_checkpoint(run):
    """The checkpoint (arrays, Adagrad's 'm' + name, hprev, record, log), then the log: each renamed whole."""
    follow_folder(run)
    m, V = run.m, len(run.chars)
    meta = dict({k: getattr(run, k) for k in STATE}, script=run.script, smooth_loss=float(run.smooth_loss),
                elapsed=run.elapsed + time.time() - run.t0, rng=run.rng.bit_generator.state,
                config={k: getattr(m, k) for k in run.keys})
    log = np.frombuffer('\n'.join([HEADER, *run.rows, '']).encode('utf-8'), np.uint8)   # the .csv, in it too
    arrays = dict(zip(m.shapes(V), m.unflatten(run.theta, V)), hprev=run.hprev, log=log,
                  meta=np.array(json.dumps(meta)))
    arrays.update(('m' + k, x) for k, x in zip(m.shapes(V), m.unflatten(run.mem, V)))
    for path, write in [(run.path, lambda f: np.savez(f, **arrays)), (run.log_path, lambda f: f.write(log))]:
        name = os.path.basename(path) if run.dir is not None else path   # in the run's folder, moved or not
        tmp, f, there = f'{name}.{os.urandom(6).hex()}.tmp', None, {'dir_fd': run.dir}
        try:
            with open(os.open(tmp, NEW, 0o666, **there), 'wb') as f:
                with contextlib.suppress(FileNotFoundError, AttributeError):   # Windows: no fchmod, no owners
                    was = os.stat(name, **there)
                    os.fchmod(f.fileno(), stat.S_IMODE(was.st_mode))
                    with contextlib.suppress(PermissionError):   # the owner too, where this process may
                        os.fchown(f.fileno(), was.st_uid, was.st_gid)
                write(f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=run.dir, dst_dir_fd=run.dir)
        except OSError as e:
            if f:                                # a file this run made (not one planted at its name)
                with contextlib.suppress(OSError):
                    os.remove(tmp, **there)
            kept = 'the previous one is untouched' if os.path.lexists(path) else 'nothing is saved'
            fail(f'cannot write {path}: {e.strerror}; {kept}')

def follow_folder(run):
    """A moved folder: save in it where it is now; a removed one: a new one at its name, under new names."""
    with contextlib.suppress(OSError):
        if run.dir is None or os.path.samestat(os.fstat(run.dir), os.stat(os.path.dirname(run.path))):
            return
    folder, name, was = None, os.path.basename(run.path), run.m.checkpoint_path
    with contextlib.suppress(OSError, AttributeError):   # where it is now, if the system says (Linux, macOS)
        folder = os.readlink(f'/proc/self/fd/{run.dir}') if os.path.isdir('/proc/self/fd') else \
            os.fsdecode(fcntl.fcntl(run.dir, fcntl.F_GETPATH, bytes(1024)).split(b'\0')[0])
    if os.fstat(run.dir).st_nlink == 0:          # removed
        folder, name = os.path.dirname(run.path), kept_name(name, f'pid{os.getpid()}', 0)
        os.makedirs(folder, exist_ok=True)
        os.close(run.dir)
        run.dir = os.open(folder, os.O_RDONLY)
    if folder:                                   # the run's names, its record and its closing line follow
        run.path = run.m.checkpoint_path = os.path.join(folder, name)
        run.log_path, run.lock_path = os.path.splitext(run.path)[0] + '.csv', run.path + '.lock'
    note(f'the folder of {was} was moved or removed: this run saves as {run.path if folder else name}')

# the run: its data and weights, signals, held-out loss, the log's rows and progress, the end
def start_run(run):
    """The run record filled in: the data, weights and Adagrad's memory (new or the checkpoint's), signals."""
    m, found = run.m, getattr(run, 'input_path', None)   # a resume from another folder: the text it read
    same = m.resume and m.input_file == run.config['input_file'] and not os.path.exists(m.input_file)
    run.input_path = found if same and found else os.path.abspath(m.input_file)
    text = os.stat(run.input_path)               # missing: main's line; a device's, a FIFO's: never read
    if not stat.S_ISREG(text.st_mode):
        fail(f'cannot read input file {m.input_file} ({run.input_path}): a folder, a device or a pipe')
    fits_memory(m, 1, text.st_size)              # before it is read
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
        fail(f'{m.input_file} has {len(run.data)} characters, fewer than seq_length + 1 = {m.seq_length + 1}')
    if not m.resume:                             # the script's new_run, once the earlier run is kept aside
        paper = run.keys[1:run.keys.index('per_line')]   # the first group of the block, but input_file
        note(f'new run: {fits_memory(m, V, text.st_size):,} parameters ({m.dtype}); '
             + ', '.join(f'{k}={getattr(m, k)}' for k in paper))
        keep_earlier_run(run)
        m.new_run(run, run.data, chars)
        run.__dict__.update(elapsed=0.0, val_loss=None, val_iter=None, rows=[])
    elif run.chars != chars:
        fail(f'{m.input_file} has a different vocabulary ({V} symbols) from checkpoint {m.checkpoint_path} '
             f'({len(run.chars)}), which was trained on {run.config.get("input_file")}')
    elif run.text_sha256 not in (None, text_sha256):
        note(f'warning: {m.input_file} is not the text {m.checkpoint_path} was trained on (same vocabulary)')
    run.text_sha256, run.params, run.n0, run.t0 = text_sha256, m.unflatten(run.theta, V), run.n, time.time()

def fits_memory(m, V, text_bytes=0):
    """The model's size, if training it (once a text of text_bytes is read) fits this machine's memory."""
    have = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') if hasattr(os, 'sysconf') else math.inf
    L, H, T, item = getattr(m, 'num_layers', 1), m.hidden_size, m.seq_length, np.dtype(m.dtype).itemsize
    shapes = m.shapes(V) if 6 * 2**10 * L < have else {'layers': (L, 2 * H + 1, H)}   # not built: too many
    size, block = sum(map(math.prod, shapes.values())), max(map(math.prod, shapes.values()))
    need = item * (4 * size + max(size, 3 * block) + T * (6 * (H + V) + (L - 1) * H)) + 6 * 2**10 * L
    need += 8 * m.sample_length * V + 10 * text_bytes + 2**25   # as measured: benchmark.py --only=memory
    if need > have:
        fail(f'hidden_size={m.hidden_size} and {V:,} symbols make {size:,} parameters, about '
             f'{need / 2**30:.1f} GB to train; this machine has {have / 2**30:.1f} GB')
    return size

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

def names_sample(run, params, k=5):
    """per_line: a printing iteration's sample, k names one a line, each from a zero state fed a newline."""
    m, nl = run.m, run.chars.index('\n')
    names = [m.sample(m.zero_state(), nl, m.sample_length, params, run.rng, stop_ix=nl)[0] for _ in range(k)]
    return sum((name + [nl] for name in names), [])[:-1]

def held_out(run, final=False):
    """Every eval_every iterations and at the end, the held-out loss per character (h carried as trained)."""
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
    say(f'iter {run.n}, held-out loss: {val:.4f} nats/char, {val / np.log(2):.4f} bits/char', sys.stdout)

def log_row(run, grads=None):
    """A row of the loss log (the gradient's norm, the fraction clipped); speed and time left on stderr."""
    m, health = run.m, ','
    if grads:                                    # printing iterations only: two passes over the gradient
        norm = math.sqrt(sum(np.square(g, dtype=np.float64).sum() for g in grads))
        clipped = sum(np.count_nonzero(abs(g) > m.clip) for g in grads) if m.clip else 0
        health = f'{norm:.6g},{clipped / sum(g.size for g in grads):.6g}'
    elapsed = run.elapsed + time.time() - run.t0   # training time, across resumes
    row = (f'{run.n},{run.smooth_loss:.6f},{run.smooth_loss / run.chars_per_seq:.6f},'
           f"{run.val_loss if run.val_iter == run.n else ''},{elapsed:.1f},{health}")
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
    held_out(run, final=True)
    if run.val_data is not None and not stop:
        log_row(run)
    save_checkpoint(run)
    rate = (run.n - run.n0) / (time.time() - run.t0)
    how = f'continue with --resume=True --checkpoint_path={run.m.checkpoint_path}' if stop else 'done'
    note(f'{"interrupted" if stop else "stopped"} at iteration {run.n} ({rate:.0f} it/s); '
         f'saved {run.m.checkpoint_path}; {how}')
    if stop:
        sys.exit(128 + stop[0])

# sampling a saved model: --generate and --lines
def generate_text(run):
    """--generate=N characters or --lines=K lines (names, per_line) from the saved model after the prime."""
    m = run.m
    if m.prime_file and m.prime:
        fail('give --prime or --prime_file, not both')
    try:                                         # the prime (of --prime_file, its first million characters)
        with open(m.prime_file, encoding='utf-8-sig') if m.prime_file else io.StringIO(m.prime) as f:
            prime = f.read(10**6)
    except (OSError, UnicodeDecodeError) as e:
        fail(f'cannot read --prime_file={m.prime_file} as UTF-8 text ({getattr(e, "strerror", None) or e})')
    note(f'sampling {m.checkpoint_path} at iteration {run.n} (trained on {run.config.get("input_file")})')
    params, ix_of = m.unflatten(run.theta, len(run.chars)), {ch: i for i, ch in enumerate(run.chars)}
    for ch in (ch for ch in prime if ch not in ix_of):
        fail(f"--prime{'_file' if m.prime_file else ''} has {ch!r}, which is not in the model's vocabulary")
    if m.lines and '\n' not in ix_of:
        fail('--lines needs a newline in the vocabulary')
    start = [ix_of.get('\n', 0)] * (m.per_line or not prime) + [ix_of[ch] for ch in prime]   # newline (or 0)
    h = m.forward(start[:-1], start[1:], m.zero_state(), params)[1][..., len(start) - 2, :]   # fed it
    ix, rng, last = start[-1], np.random.default_rng(m.seed), '' if m.per_line else prime
    left, todo = m.generate or MAX_LINE * m.lines, m.lines - last.count('\n') if m.lines else sys.maxsize
    sys.stdout.write(last)
    while left > 0 and todo > 0 and not stop:    # in pieces: any length in little memory; a signal stops it
        if m.per_line:
            name = m.sample(h, start[-1], m.sample_length, params, rng, m.temperature, start[0], m.top_k)[0]
            piece = prime + ''.join(run.chars[i] for i in name) + '\n'
        else:                                    # a piece's noise: at most 8 MB, whatever the vocabulary
            size = min(left, 10000, 2**20 // len(ix_of) + 1)
            ixes, h = m.sample(h, ix, size, params, rng, m.temperature, None, m.top_k)
            piece, ix = ''.join(run.chars[i] for i in ixes), ixes[-1]
        parts = piece[:left].split('\n')
        piece = '\n'.join(parts[:todo]) + ('\n' if len(parts) > todo else '')
        sys.stdout.write(piece)
        last, left, todo = (last + piece)[-1:], left - len(piece), todo - piece.count('\n')
    print('' if last.endswith('\n') else '\n', end='', flush=True)
    if stop:
        note('interrupted: the sample above is cut short')
        sys.exit(128 + stop[0])

def main(m, argv=None):
    """Run script m as its command line (argv, else sys.argv) asks: train it (m.train) or sample its model."""
    global prog
    prog = os.path.basename(m.__file__)
    run = types.SimpleNamespace(m=m, stop=stop, lock=None, dir=None, handlers={})   # dir: its folder, open
    np.seterr(all='ignore')                      # a non-finite loss is caught and reported by train
    with contextlib.suppress(AttributeError):    # what stdout's encoding cannot hold, as \x.. escapes
        sys.stdout.reconfigure(errors='backslashreplace')
    stop.clear()
    try:
        settings(m, sys.argv[1:] if argv is None else argv, run)
        run.handlers = {sig: signal.signal(sig, lambda signum, _: stop.append(signum))   # they ask it to stop
                        for sig in (getattr(signal, name) for name in SIGNALS if hasattr(signal, name))}
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
        if argv is not None:                     # else the program ends catching them: a second one waits
            for sig, handler in run.handlers.items():
                signal.signal(sig, handler)
        if run.lock is not None:                 # removed while still held (see lock()), if it is this run's
            with contextlib.suppress(OSError):
                if os.path.samestat(os.stat(run.lock_path), os.fstat(run.lock)):
                    os.remove(run.lock_path)
        for fd in (fd for fd in (run.lock, run.dir) if fd is not None):   # the lock's file, the folder
            os.close(fd)
