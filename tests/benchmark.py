"""Speed of each script's training step against the paper-listing-style loop, side by side, and
with one or all BLAS threads on an idle machine and on one with a core kept busy.

  python tests/benchmark.py [--input_file=input.txt] [--rounds=5] [--only=threads|listing]
  python tests/benchmark.py --only=forms [--rounds=5]   # each form a script keeps where the listing has another
  python tests/benchmark.py --only=gated [--rounds=5]   # lstm.py's and gru.py's step against min_char_rnn.py's
  python tests/benchmark.py --only=memory   # harness.fits_memory's estimate against the measured peak of real runs
  python tests/benchmark.py --compare=DIR [--rounds=5]     # these scripts' step against DIR's, e.g. an older checkout
                                                            # (and whole runs of them, sampling and log included)

For each script's default configuration, both loops train on the same text from the same weights
for the same number of iterations: sample every 100 iterations, lossFun (with clipping), Adagrad.
Rounds alternate between them; the table gives iterations/s (median of rounds) and their ratio,
and the peak memory of a real run of the script on input.txt. If torch is installed, a PyTorch
CPU nn.RNN + Linear step (Adagrad, clipping, same sizes) is timed too, in a child process: importing
torch changes how fast the NumPy loops run here, so it never shares a process with them.
The listing table runs in this process with one BLAS thread, as the scripts do by default
(OPENBLAS_NUM_THREADS=2 python tests/benchmark.py --only=listing for two). The threads table times
each script's step in child processes (a thread count must be set before NumPy loads) with 1 and
with os.cpu_count() BLAS threads, alone and beside a process that keeps one core busy, in
alternating rounds; iterations/s, median of rounds.
"""
import importlib.util
import inspect
import os
import subprocess
import sys
import tempfile
import time
from types import SimpleNamespace

if not {'OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS'} & set(os.environ):
    os.environ.update(OPENBLAS_NUM_THREADS='1', MKL_NUM_THREADS='1')   # as the scripts do
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, harness, load_script, oracle_lossFun, oracle_update, split_layers  # noqa: E402

OPTIONS = dict(input_file=str, rounds=int, only=str, compare=str, torch=str, child=str)   # torch, child: internal


def options(argv):
    """--name=value options, typed; --help, an unknown option or a bad value end here in one line."""
    if {'-h', '--help'} & set(argv):
        print(__doc__.strip())
        sys.exit(0)
    given = {}
    for arg in argv:
        name, eq, value = arg[2:].partition('=')
        if not arg.startswith('--') or not eq or name not in OPTIONS:
            sys.exit(f"benchmark.py: error: unknown option '{arg}' (see --help)")
        try:
            given[name] = OPTIONS[name](value)
        except ValueError:
            sys.exit(f'benchmark.py: error: --{name}={value} is not a valid {OPTIONS[name].__name__}')
    return given


args = options(sys.argv[1:])
input_file = args.get('input_file', os.path.join(ROOT, 'input.txt'))
rounds = args.get('rounds', 5)
ITERS = {'min_char_rnn.py': 2000, 'rnn3.py': 100}     # per round; each a multiple of 100


def listing_loop(m, data, params, iters):
    """The paper's loop as its listing writes it: one-hot vectors, per-step outer products."""
    Wxh, Whh, bh, Why, by = split_layers(os.path.basename(m.__file__), params)
    bh, by = [b.reshape(-1, 1) for b in bh], by.reshape(-1, 1)
    flat = Wxh + Whh + bh + [Why, by]
    mems = [np.zeros_like(p) for p in flat]
    hprev, p = [np.zeros((m.hidden_size, 1)) for _ in Whh], 0
    V = Why.shape[0]
    for n in range(iters):
        inputs, targets = data[p:p + m.seq_length], data[p + 1:p + m.seq_length + 1]
        if n % 100 == 0:                             # sample 200 characters, as the listing does
            h, x = [hh.copy() for hh in hprev], np.zeros((V, 1))
            x[inputs[0]] = 1
            for _ in range(m.sample_length):
                below = x
                for l in range(len(Whh)):
                    h[l] = np.tanh(np.dot(Wxh[l], below) + np.dot(Whh[l], h[l]) + bh[l])
                    below = h[l]
                y = np.dot(Why, below) + by
                prob = np.exp(y) / np.sum(np.exp(y))
                ix = np.random.choice(range(V), p=prob.ravel())
                x = np.zeros((V, 1))
                x[ix] = 1
        loss, dWxh, dWhh, dbh, dWhy, dby, hprev = oracle_lossFun(inputs, targets, hprev, Wxh, Whh, bh, Why, by)
        oracle_update(flat, dWxh + dWhh + dbh + [dWhy, dby], mems, m.learning_rate)
        p += m.seq_length


def script_loop(m, data, init, iters, vocab_size):
    """The script's own step, as its train() runs it, in the dtype of init: both scripts keep their weights
    in one vector theta (init), older versions in a tuple (min_char_rnn.py) or a list (rnn3.py)."""
    if isinstance(init, np.ndarray) and 'params' in inspect.signature(m.update).parameters:   # the listing's update
        weights, params, mems = m.unflatten(init, vocab_size), m.unflatten(init, vocab_size), \
            m.unflatten(np.zeros_like(init), vocab_size)
    elif isinstance(init, np.ndarray):
        weights, params, mems = init, m.unflatten(init, vocab_size), np.zeros_like(init)
    elif isinstance(init, tuple):
        (weights, params), mems = init, np.zeros_like(init[0])
    else:
        weights, params, mems = init, init, [np.zeros_like(x) for x in init]
    hprev, p = np.zeros(m.zero_state().shape, params[0].dtype), 0
    rng = np.random.default_rng(0)
    for n in range(iters):
        inputs, targets = data[p:p + m.seq_length], data[p + 1:p + m.seq_length + 1]
        if n % 100 == 0:
            m.sample(hprev, inputs[0], m.sample_length, params, rng)
        loss, grads, hprev = m.lossFun(inputs, targets, hprev, params)
        m.update(weights, grads, mems)
        p += m.seq_length


def compare_main(other):
    """Iterations/s of each script's step here and in the checkout `other`, alternating rounds, float32."""
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=other, capture_output=True, text=True)
    print(f'these scripts against the checkout of {commit.stdout.strip() or "?"}, {rounds} rounds, OPENBLAS_NUM_THREADS='
          f'{os.environ.get("OPENBLAS_NUM_THREADS")}, input {os.path.relpath(input_file)}')
    print(f'{"script (defaults, float32)":<28} {"other it/s":>10} {"this it/s":>10} {"this/other":>10}  per round')
    for script in ['min_char_rnn.py', 'rnn3.py']:
        mods = [load_script(script, folder) for folder in (other, ROOT)]
        data, chars = mods[1].load_data(input_file)
        rates = [[], []]
        for _ in range(rounds):
            for i, m in enumerate(mods):
                init = m.init_params(len(chars), np.random.default_rng(m.seed))
                start = time.perf_counter()
                script_loop(m, data, init, ITERS[script], len(chars))
                rates[i].append(ITERS[script] / (time.perf_counter() - start))
        a, b = np.median(rates[0]), np.median(rates[1])
        print(f'{script:<28} {a:>10.0f} {b:>10.0f} {b / a:>10.3f}  '
              + ' '.join(f'{y / x:.3f}' for x, y in zip(*rates)), flush=True)
    print(f'\n{"a row of the loss log":<28} {"without":>10} {"with grads":>10} {"cost/step":>10}  (ms; the gradient columns as a '
          'share of a training step at print_every=100)')
    for script in ['min_char_rnn.py', 'rnn3.py']:
        m = load_script(script)
        data, chars = m.load_data(input_file)
        theta = m.init_params(len(chars), np.random.default_rng(m.seed))
        mem, params = m.unflatten(np.zeros_like(theta), len(chars)), m.unflatten(theta, len(chars))
        _, grads, _ = m.lossFun(data[:m.seq_length], data[1:m.seq_length + 1], m.zero_state(), params)
        run = SimpleNamespace(m=m, n=0, n0=0, smooth_loss=1.0, chars_per_seq=1, val_loss=None, val_iter=None,
                              rows=[], elapsed=0.0, t0=time.time())
        times = []
        for g in (None, grads, None, grads):
            start = time.perf_counter()
            for _ in range(100):
                harness.log_row(run, g)              # the row only: no progress line at iteration 0
            times.append((time.perf_counter() - start) / 100)
        start = time.perf_counter()
        for _ in range(ITERS[script] // 20):
            _, g, _ = m.lossFun(data[:m.seq_length], data[1:m.seq_length + 1], m.zero_state(), params)
            m.update(params, g, mem)
        step = (time.perf_counter() - start) / (ITERS[script] // 20)
        without, with_grads = min(times[0::2]), min(times[1::2])
        print(f'{script:<28} {1e3 * without:>10.3f} {1e3 * with_grads:>10.3f} {(with_grads - without) / 100 / step:>10.2%}',
              flush=True)
    print(f'\n{"whole runs (python SCRIPT)":<28} {"other it/s":>10} {"this it/s":>10} {"this/other":>10}  per round')
    for script, iters in (('min_char_rnn.py', 20 * ITERS['min_char_rnn.py']), ('rnn3.py', 5 * ITERS['rnn3.py'])):
        rates = [[], []]
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(rounds):
                for i, folder in enumerate((other, ROOT)):
                    cmd = [sys.executable, os.path.join(folder, script), f'--input_file={input_file}',
                           f'--max_iters={iters}', f'--checkpoint_path={tmp}/{i}.npz', f'--checkpoint_every={iters}']
                    start = time.perf_counter()
                    subprocess.run(cmd, capture_output=True, check=True)   # start-up, sampling, the log: all of it
                    rates[i].append(iters / (time.perf_counter() - start))
        a, b = np.median(rates[0]), np.median(rates[1])
        print(f'{script + f" --max_iters={iters}":<28} {a:>10.0f} {b:>10.0f} {b / a:>10.3f}  '
              + ' '.join(f'{y / x:.3f}' for x, y in zip(*rates)), flush=True)


def torch_loop(m, data, params, iters, torch):
    L, H, V = getattr(m, 'num_layers', 1), m.hidden_size, len(params[-1])
    rnn, out = torch.nn.RNN(V, H, num_layers=L, nonlinearity='tanh'), torch.nn.Linear(H, V)
    opt = torch.optim.Adagrad(list(rnn.parameters()) + list(out.parameters()), lr=m.learning_rate)
    x_all = torch.nn.functional.one_hot(torch.from_numpy(data.astype(np.int64)), V).float()
    y_all = torch.from_numpy(data.astype(np.int64))
    h, p = torch.zeros(L, 1, H), 0
    for n in range(iters):
        if n % 100 == 0:
            with torch.no_grad():
                hs, x = h.clone(), x_all[p:p + 1].unsqueeze(1)
                for _ in range(m.sample_length):
                    o, hs = rnn(x, hs)
                    ix = torch.multinomial(torch.softmax(out(o[0, 0]), -1), 1)
                    x = torch.nn.functional.one_hot(ix, V).float().unsqueeze(0)
        o, h = rnn(x_all[p:p + m.seq_length].unsqueeze(1), h.detach())
        loss = torch.nn.functional.cross_entropy(out(o[:, 0]), y_all[p + 1:p + m.seq_length + 1], reduction='sum')
        opt.zero_grad()
        loss.backward()
        for q in list(rnn.parameters()) + list(out.parameters()):
            q.grad.clamp_(-5, 5)
        opt.step()
        p += m.seq_length


def peak_memory_mb(script, dtype):
    """Peak RSS of a real 200-iteration run of the script on the project's input.txt.

    VmHWM, where Linux has it: unlike ru_maxrss it restarts at exec, so a large parent
    (one that imported torch) does not inflate it."""
    code = ('import resource, runpy, sys, tempfile; sys.argv = sys.argv[1:] + ["--max_iters=200",'
            ' "--checkpoint_path=" + tempfile.mkdtemp() + "/c.npz"]\n'
            'try: runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'finally:\n'
            '    try: kb = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]\n'
            '    except OSError: kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n'
            '    print(kb, file=sys.stderr)')
    r = subprocess.run([sys.executable, '-c', code, os.path.join(ROOT, script), f'--dtype={dtype}'], cwd=ROOT,
                       capture_output=True, text=True)
    return int(r.stderr.split()[-1]) / 1024


def run_peak_mb(script, *argv):
    """Peak RSS (VmHWM, else ru_maxrss) in MB of one run of script with argv, in a child of its own."""
    code = ('import resource, runpy, sys\nsys.argv = sys.argv[1:]\n'
            'try: runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'finally:\n'
            '    try: kb = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]\n'
            '    except OSError: kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n'
            '    print(kb, file=sys.stderr)')
    r = subprocess.run([sys.executable, '-c', code, os.path.join(ROOT, script), *argv], capture_output=True, text=True)
    if 'error' in r.stderr:
        sys.exit(f'benchmark.py: error: {script} {" ".join(argv)}: {r.stderr.strip().splitlines()[-2]}')
    return int(r.stderr.split()[-1]) / 1024


def estimate_mb(script, settings, text):
    """What harness.fits_memory asks for (MB) to train script with these settings on text: the least memory
    it lets the run start with, found by bisection on the memory it is told the machine has."""
    m = load_script(script)
    vars(m).update(settings)
    data, chars = m.load_data(text)
    sysconf, fail = harness.os.sysconf, harness.fail
    low, high = 0, 2**45
    try:
        harness.fail = lambda msg: sys.exit(1)
        while high - low > 2**16:
            have = (low + high) // 2
            harness.os.sysconf = lambda name: 1 if name == 'SC_PAGE_SIZE' else have
            try:
                harness.fits_memory(m, len(chars), os.path.getsize(text))
                high = have
            except SystemExit:
                low = have
    finally:
        harness.os.sysconf, harness.fail = sysconf, fail
    return high / 2**20


def memory_main():
    """Each row: a script's settings and text; the estimate; the peak of a new run (3 iterations, each
    printing: the gradient's norm, a sample), of its resume and of sampling it; estimate / the largest."""
    folder = tempfile.mkdtemp()
    wide = os.path.join(folder, 'wide.txt')      # 5,000 symbols
    rng = np.random.default_rng(0)
    with open(wide, 'w', encoding='utf-8') as f:
        f.write(''.join(chr(0x4e00 + i) for i in rng.integers(0, 5000, 40000)))
    long = os.path.join(folder, 'long.txt')      # 50 MB of Tiny Shakespeare over and over
    with open(input_file, encoding='utf-8') as f, open(long, 'w', encoding='utf-8') as out:
        text = f.read()
        out.write(text * (50 * 2**20 // len(text)))
    rows = [('min_char_rnn.py', {}, input_file), ('min_char_rnn.py', {'hidden_size': 2000}, input_file),
            ('min_char_rnn.py', {'hidden_size': 4000}, input_file),
            ('min_char_rnn.py', {'hidden_size': 4000, 'dtype': 'float64'}, input_file),
            ('min_char_rnn.py', {'hidden_size': 1000, 'seq_length': 5000}, input_file),
            ('min_char_rnn.py', {'hidden_size': 500}, wide), ('min_char_rnn.py', {}, long),
            ('rnn3.py', {}, input_file), ('rnn3.py', {'hidden_size': 1500}, input_file),
            ('rnn3.py', {'hidden_size': 500, 'seq_length': 3000}, input_file),
            ('rnn3.py', {'hidden_size': 4, 'num_layers': 20000}, input_file),
            ('lstm.py', {'hidden_size': 2000}, input_file), ('lstm.py', {'hidden_size': 300}, wide),
            ('gru.py', {'hidden_size': 2000}, input_file), ('gru.py', {}, long)]
    print(f'{"script and settings":<50} {"text":<10} {"estimate":>8} {"new":>6} {"resume":>6} {"sample":>6} '
          f'{"ratio":>6}   (MB)')
    for script, settings, text in rows:
        ck = os.path.join(folder, 'ck.npz')
        argv = [f'--{k}={v}' for k, v in settings.items()] + [f'--input_file={text}', f'--checkpoint_path={ck}']
        new = run_peak_mb(script, *argv, '--max_iters=3', '--print_every=1')
        resumed = run_peak_mb(script, f'--checkpoint_path={ck}', '--resume=True', '--max_iters=5', '--print_every=1')
        sampled = run_peak_mb(script, f'--checkpoint_path={ck}', '--generate=1000')
        for f in os.listdir(folder):
            if f.startswith('ck'):
                os.remove(os.path.join(folder, f))
        est, peak = estimate_mb(script, settings, text), max(new, resumed, sampled)
        label = f'{script} ' + ' '.join(f'{k}={v}' for k, v in settings.items())
        print(f'{label:<50} {os.path.basename(text):<10} {est:>8.0f} {new:>6.0f} {resumed:>6.0f} {sampled:>6.0f} '
              f'{est / peak:>6.2f}', flush=True)


def torch_rate(script):
    """Median iterations/s of the PyTorch loop, from a child process (see the docstring above)."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), f'--torch={script}', f'--rounds={rounds}',
                        f'--input_file={input_file}'], capture_output=True, text=True)
    return float(r.stdout.split()[-1])


def torch_main(script):
    import torch
    torch.set_num_threads(int(os.environ.get('OPENBLAS_NUM_THREADS', os.cpu_count())))
    m = load_script(script)
    data, chars = m.load_data(input_file)
    params = m.unflatten(m.init_params(len(chars), np.random.default_rng(m.seed)), len(chars))
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        torch_loop(m, data, params, ITERS[script], torch)
        rates.append(ITERS[script] / (time.perf_counter() - start))
    print(np.median(rates))


def main():
    has_torch = importlib.util.find_spec('torch') is not None
    print(f'input {os.path.relpath(input_file)}, {rounds} rounds, OPENBLAS_NUM_THREADS={os.environ.get("OPENBLAS_NUM_THREADS", "unset")}, '
          f'numpy {np.__version__}, ' + ('torch in a child process' if has_torch else 'torch not installed'))
    print(f'{"script (defaults)":<30} {"dtype":<8} {"listing it/s":>12} {"script it/s":>12} {"ratio":>6}'
          + (f' {"torch it/s":>10}' if has_torch else '') + f' {"peak MB":>8}  per-round ratios')
    for script in ['min_char_rnn.py', 'rnn3.py']:
        m = load_script(script)
        data, chars = m.load_data(input_file)
        params = m.unflatten(m.init_params(len(chars), np.random.default_rng(m.seed)), len(chars))
        loops = {'listing': lambda: listing_loop(m, data, [x.astype('float64') for x in params], ITERS[script])}
        for dtype in ('float64', 'float32'):
            def loop(dtype=dtype):
                m.dtype = dtype
                script_loop(m, data, m.init_params(len(chars), np.random.default_rng(m.seed)), ITERS[script], len(chars))
            loops[dtype] = loop
        rates = {name: [] for name in loops}
        for _ in range(rounds):
            for name, loop in loops.items():
                start = time.perf_counter()
                loop()
                rates[name].append(ITERS[script] / (time.perf_counter() - start))
        med = {k: float(np.median(v)) for k, v in rates.items()}
        torch_its = torch_rate(script) if has_torch else None
        config = f'{script} H={m.hidden_size}' + (f' L={m.num_layers}' if script == 'rnn3.py' else '') + f' T={m.seq_length}'
        for dtype in ('float64', 'float32'):
            line = f'{config:<30} {dtype:<8} {med["listing"]:>12.0f} {med[dtype]:>12.0f} {med[dtype] / med["listing"]:>5.1f}x'
            line += f' {torch_its:>10.0f}' if has_torch else ''
            line += f' {peak_memory_mb(script, dtype):>8.0f}  '
            print(line + ' '.join(f'{a / b:.1f}' for a, b in zip(rates[dtype], rates['listing'])), flush=True)


def listing_sample(m, h, seed_ix, n, params, rng):
    """The listing's sampler: softmax, then a draw by np.random.choice (here the run's rng.choice), a character
    at a time, through the script's own layers."""
    Wxh, Whh, bh, Why, by = split_layers(m.__name__ + '.py', params)
    h, ix, ixes = np.array(h).reshape(len(Whh), -1), seed_ix, []
    for _ in range(n):
        if len(Whh) == 1:                        # min_char_rnn.py's one layer, as its own sample() would be
            h = np.tanh(Wxh[0][:, ix] + np.dot(Whh[0], h[0]) + bh[0])[None]
        for l in range(len(Whh) if len(Whh) > 1 else 0):
            x = Wxh[0][:, ix] if l == 0 else np.dot(Wxh[l], h[l - 1])
            h[l] = np.tanh(x + np.dot(Whh[l], h[l]) + bh[l])
        y = np.dot(Why, h[-1]) + by
        p = np.exp(y - y.max())
        ix = int(rng.choice(len(by), p=p / p.sum()))
        ixes.append(ix)
    return ixes, h


def listing_order_lossFun(m, inputs, targets, hprev, params):
    """rnn3.py's lossFun with the backward pass in the listing's order (Section V: dh3 -> dh2 -> dh at each t):
    its forward pass and weight sums, a step through the whole stack at each t."""
    Wxh, Whh, bh, Why, by = m.unpack(params)
    loss, hs, ps = m.forward(inputs, targets, hprev, params)
    T, L = len(inputs), len(Whh)
    dys = ps
    dys[np.arange(T), targets] -= 1
    dWhy, dby, dhs = np.dot(dys.T, hs[-1, :-1]), dys.sum(axis=0), np.dot(dys, Why)
    dhraws, dhnext = np.empty((L, T, hs.shape[2]), hs.dtype), [np.zeros_like(hs[l, -1]) for l in range(L)]
    for t in reversed(range(T)):
        dh = dhs[t]
        for l in reversed(range(L)):
            dh = dh + dhnext[l]
            dhraws[l, t] = dhraw = (1 - hs[l, t] * hs[l, t]) * dh
            dhnext[l] = np.dot(dhraw, Whh[l])
            if l:
                dh = np.dot(dhraw, Wxh[l])           # np.dot(Wxh3.T, dh3raw) at this t
    xs = (np.asarray(inputs)[:, None] == np.arange(len(by))).astype(hs.dtype)
    dWxh = [np.dot(dhraws[l].T, xs if l == 0 else hs[l - 1, :-1]) for l in range(L)]
    dWhh = [np.dot(dhraws[l].T, hs[l, np.arange(T) - 1]) for l in range(L)]
    return loss, dWxh + dWhh + [d.sum(axis=0) for d in dhraws] + [dWhy, dby], hs[:, T - 1]


def gumbel_sample(m, h, seed_ix, n, params, rng):
    """Gumbel-max sampling (argmax(y + g), g = -log(-log(u))), a character at a time, through the script's layers."""
    Wxh, Whh, bh, Why, by = split_layers(m.__name__ + '.py', params)
    h, ix, ixes = np.array(h).reshape(len(Whh), -1), seed_ix, []
    for g in -np.log(-np.log(rng.random((n, len(by))))):
        for l in range(len(Whh)):
            x = Wxh[0][:, ix] if l == 0 else np.dot(Wxh[l], h[l - 1])
            h[l] = np.tanh(x + np.dot(Whh[l], h[l]) + bh[l])
        ix = int((np.dot(Why, h[-1]) + by + g).argmax())
        ixes.append(ix)
    return ixes, h


def forms_main():
    """Each form a script keeps where the listing has another, against the other, in a whole training step (a
    sample every 100 iterations, lossFun, clipping and Adagrad; float32, one BLAS thread), alternating rounds."""
    print(f'forms against each other, {rounds} rounds, a whole training step (a sample every 100 iterations)')
    print(f'{"script: the form it keeps":<58} {"kept it/s":>9} {"other it/s":>10} {"kept/other":>10}  the other')
    for script in ['min_char_rnn.py', 'rnn3.py']:
        m = load_script(script)
        data, chars = m.load_data(input_file)
        real = m.sample, m.lossFun
        choice = lambda h, ix, n, params, rng, *a: listing_sample(m, h, ix, n, params, rng)
        gumbel = lambda h, ix, n, params, rng, *a: gumbel_sample(m, h, ix, n, params, rng)
        forms = {'kept': (real, ''), 'sampling': ((choice, m.lossFun), 'sampling by np.random.choice')}
        if script == 'rnn3.py':
            forms['sampling'] = ((gumbel, m.lossFun), 'sampling by Gumbel-max')
            forms['backward'] = ((m.sample, lambda *a: listing_order_lossFun(m, *a)), 'each t up the stack')
        labels = dict(sampling='Gumbel-max sampling' if script == 'min_char_rnn.py' else 'np.random.choice sampling',
                      backward='backward a layer over all t, then the one below')
        rates = {k: [] for k in forms}
        for _ in range(rounds):
            for k, ((sample, lossFun), _) in forms.items():
                m.sample, m.lossFun = sample, lossFun
                init = m.init_params(len(chars), np.random.default_rng(m.seed))
                start = time.perf_counter()
                script_loop(m, data, init, ITERS[script], len(chars))
                rates[k].append(ITERS[script] / (time.perf_counter() - start))
        m.sample, m.lossFun = real
        kept = np.median(rates['kept'])
        for k, (_, other) in list(forms.items())[1:]:
            rate = np.median(rates[k])
            print(f'{script + ": " + labels[k]:<58} {kept:>9.1f} {rate:>10.1f} {kept / rate:>10.3f}  {other}',
                  flush=True)


def gated_main():
    """The gated cells' step (lstm.py, gru.py: a sample every 100 iterations, lossFun, clipping, Adagrad; float32,
    one BLAS thread) against min_char_rnn.py's, at equal parameters (their defaults) and at equal hidden size
    (100), alternating rounds: the ratio behind the README's equal-wall-time column."""
    configs = [('min_char_rnn.py', 100), ('lstm.py', None), ('gru.py', None), ('lstm.py', 100), ('gru.py', 100)]
    print(f'the gated cells against min_char_rnn.py, {rounds} rounds, a whole training step (a sample every 100 '
          'iterations)')
    print(f'{"script":<22} {"parameters":>10} {"it/s":>8} {"step time / min_char_rnn.py":>28}  per round')
    rates, sizes = {c: [] for c in configs}, {}
    for _ in range(rounds):
        for script, hidden in configs:
            m = load_script(script)
            m.hidden_size = hidden or m.hidden_size
            data, chars = m.load_data(input_file)
            init = m.init_params(len(chars), np.random.default_rng(m.seed))
            sizes[script, hidden] = init.size
            start = time.perf_counter()
            script_loop(m, data, init, ITERS['min_char_rnn.py'], len(chars))
            rates[script, hidden].append(ITERS['min_char_rnn.py'] / (time.perf_counter() - start))
    base = rates[configs[0]]
    for c in configs:
        label = f'{c[0]} H={c[1] or load_script(c[0]).hidden_size}'
        print(f'{label:<22} {sizes[c]:>10,} {np.median(rates[c]):>8.0f} {np.median(base) / np.median(rates[c]):>28.3f}  '
              + ' '.join(f'{b / r:.3f}' for b, r in zip(base, rates[c])), flush=True)


def child_main(script):
    """Iterations/s of the script's own step at its defaults, in this process's BLAS setting."""
    m = load_script(script)
    data, chars = m.load_data(input_file)
    init = m.init_params(len(chars), np.random.default_rng(m.seed))
    script_loop(m, data, init, 100 if script == 'rnn3.py' else 1000, len(chars))   # warm-up
    start = time.perf_counter()
    script_loop(m, data, init, ITERS[script], len(chars))
    print(ITERS[script] / (time.perf_counter() - start))


def child_rate(script, threads, busy):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    hog = subprocess.Popen([sys.executable, '-c', 'while True: pass']) if busy else None
    try:
        r = subprocess.run([sys.executable, os.path.abspath(__file__), f'--child={script}', f'--input_file={input_file}'],
                           env=env, capture_output=True, text=True)
    finally:
        if hog:
            hog.kill()
            hog.wait()
    return float(r.stdout.split()[-1])


def threads_main():
    cores = os.cpu_count()
    print(f'BLAS threads, {rounds} rounds, {cores} cores, numpy {np.__version__}, input {os.path.basename(input_file)}')
    print(f'{"script (defaults, float32)":<28} {"BLAS threads":<24} {"idle it/s":>10} {"one core busy it/s":>19}')
    for script in ['min_char_rnn.py', 'rnn3.py']:
        configs = [(threads, busy) for threads in (1, cores) for busy in (False, True)]
        rates = {c: [] for c in configs}
        for _ in range(rounds):
            for c in configs:
                rates[c].append(child_rate(script, *c))
        for threads in (1, cores):
            label = f'{threads} (the scripts\' default)' if threads == 1 else f'{threads} (OpenBLAS default)'
            print(f'{script:<28} {label:<24} {np.median(rates[threads, False]):>10.0f} {np.median(rates[threads, True]):>19.0f}',
                  flush=True)


if __name__ == '__main__':
    if 'torch' in args:
        torch_main(args['torch'])
    elif 'child' in args:
        child_main(args['child'])
    elif 'compare' in args:
        compare_main(args['compare'])
    elif args.get('only') == 'forms':
        forms_main()
    elif args.get('only') == 'gated':
        gated_main()
    elif args.get('only') == 'memory':
        memory_main()
    else:
        if args.get('only') != 'threads':
            main()
        if args.get('only') != 'listing':
            threads_main()
