#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""bench-report.py - the performance table of scripts/bench.sh.

Reads what the bench module and ksalloc-ctl printed in the two boots of
scripts/bench.sh (the "BENCH: " prefix removed), the disassembly of
ksalloc.ko and the sizes of the core's structs that the module printed,
and prints one table with every ratio of the performance targets (value,
target, ok or MISS) and the details behind it, or the same as JSON.
scripts/bench.sh runs it; by hand, on the files of a run:

  scripts/bench-report.py --kernel 6.12 --runs 7 --iters 1000000 --ms 250 \\
      --samples 500 --slow '_slow|_refill|_flush|_drain|\\.cold$' \\
      out/logs/bench-6.12-icount.out out/logs/bench-6.12-smp.out \\
      out/logs/bench-6.12-ksalloc.dis
"""

import argparse, json, os, re, statistics, sys

ap = argparse.ArgumentParser(
    description='The performance table of scripts/bench.sh, from the raw '
    'lines of its two boots and the disassembly of ksalloc.ko.')
ap.add_argument('--json', action='store_true', help='print JSON, not the table')
ap.add_argument('--kernel', required=True, help='the flavour measured')
ap.add_argument('--runs', required=True, help='repetitions asked of the smp boot')
ap.add_argument('--iters', required=True, help='timed pairs per cost measurement')
ap.add_argument('--ms', required=True, help='milliseconds per scale or stream window')
ap.add_argument('--samples', required=True, help='hand-off round trips per run')
ap.add_argument('--slow', required=True, help='regexp of the slow-path functions')
ap.add_argument('--tracepoints-note', default='',
                help='why the tracepoint row has no figures, when it has none')
ap.add_argument('icount_out', help='BENCH: lines of the icount boot, prefix removed')
ap.add_argument('smp_out', help='BENCH: lines of the two-vCPU boot, prefix removed')
ap.add_argument('dis', help='objdump -dr of ksalloc.ko')
args = ap.parse_args()
as_json, kernel, runs, iters, ms, samples, slow_re = (
    args.json, args.kernel, args.runs, args.iters, args.ms, args.samples, args.slow)
icount_out, smp_out, dis = args.icount_out, args.smp_out, args.dis

def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l.rstrip('\n') for l in f]

def fields(line):
    return dict(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)

TYPE_RE = re.compile(r'^Type:(\S+) Per elem: (\d+) cycles\(tsc\) (\d+)\.(\d+) ns')

# --- icount: instructions per pair --------------------------------------
cost = {}
failures = []   # a pair whose allocation failed was not timed as one
frames_changed = None
frames_framing = None   # (frames, frame_size) of the frames check
sizes = None            # the sizes: line, the core's structs in bytes
traced = {}             # 'in' / 'out' -> {type: instructions per pair}
handoff_icount = {}
for l in lines(icount_out):
    m = TYPE_RE.match(l)
    t = re.match(r'^tracepoints-(in|out): (.*)$', l)
    if t:
        m = TYPE_RE.match(t.group(2))
        if m:
            traced.setdefault(t.group(1), {})[m.group(1)] = \
                int(m.group(3)) + int(m.group(4)) / 1000
        elif t.group(2).endswith('allocations failed'):
            failures.append(f'icount, tracepoints {t.group(1)}: {t.group(2)}')
    elif m:
        cost[m.group(1)] = int(m.group(3)) + int(m.group(4)) / 1000
    elif l.endswith('allocations failed'):
        failures.append(f'icount: {l}')
    elif l.startswith('sizes:'):
        sizes = {k: int(v) for k, v in fields(l).items()}
    elif l.startswith('frames:'):
        f = fields(l)
        frames_changed = int(f['bytes_changed'])
        frames_framing = (int(f['frames']), int(f['frame_size']))
    elif l.startswith('handoff:'):
        f = fields(l)
        handoff_icount[f['kind']] = int(f['median_ns'])
empty = cost.get('empty_loop', 0.0)
def net(name):
    return cost[name] - empty if name in cost else None

# --- MTTCG: scaling and hand-off, medians over runs ----------------------
scale = {}      # (type, ctx, cpus) -> {run: ops/s}
wall_share = {}
handoff = {}    # kind -> {run: median ns}
stream = {}     # (mode, probed) -> {run: the fields of its stream: line}
stream_notes = []
ncpus = 1
for l in lines(smp_out):
    if l.startswith('scale:'):
        f = fields(l)
        cpus = int(f['cpus'])
        ncpus = max(ncpus, cpus)
        scale.setdefault((f['type'], f['ctx'], cpus), {})[int(f['run'])] = int(f['ops_per_sec'])
        if int(f['failed']):
            failures.append(f'MTTCG: {f["type"]} {f["ctx"]} {cpus} CPUs run {f["run"]}: '
                            f'{f["failed"]} allocations failed')
        if int(f['wall_ns']):
            wall_share.setdefault(f['ctx'], []).append(int(f['ns']) / int(f['wall_ns']))
    elif l.startswith('handoff:'):
        f = fields(l)
        handoff.setdefault(f['kind'], {})[int(f['run'])] = int(f['median_ns'])
    elif l.startswith('stream:') and 'mode' in fields(l):
        f = {k: int(v) for k, v in fields(l).items() if k != 'mode'}
        stream.setdefault((fields(l)['mode'], bool(f['probed'])), {})[f['run']] = f
        if f['failed']:
            failures.append(f'MTTCG: stream {fields(l)["mode"]} run {f["run"]}: '
                            f'{f["failed"]} allocations failed')
    elif l.startswith('stream:'):
        stream_notes.append(l[len('stream: '):])

# The runs of the last boot (--no-smp reports an earlier one).
runs = 1 + max([r for v in list(scale.values()) + list(handoff.values()) for r in v],
               default=-1)

def per_run(fn):
    """fn(run) for every run where it is defined: the list of values."""
    out = []
    for r in range(runs):
        try:
            v = fn(r)
        except (KeyError, ZeroDivisionError):
            continue
        if v is not None:
            out.append(v)
    return out

def summary(vals):
    if not vals:
        return None
    return {'median': statistics.median(vals), 'min': min(vals),
            'max': max(vals), 'n': len(vals)}

def rate(t, ctx, cpus, r):
    return scale[(t, ctx, cpus)][r]

scaling = {}
for (t, ctx, cpus) in scale:
    if cpus == ncpus and ncpus > 1:
        scaling[(t, ctx)] = summary(per_run(
            lambda r: rate(t, ctx, ncpus, r) / (ncpus * rate(t, ctx, 1, r))))
vs_naive = {ctx: summary(per_run(
    lambda r: rate('ksalloc_pair', ctx, ncpus, r) / rate('naive_pair', ctx, ncpus, r)))
    for ctx in ('process', 'softirq')} if ncpus > 1 else {}
# What the host allowed: the per-CPU objpool (kmem_cache before 6.7) shares
# nothing between CPUs, so its scaling in the same runs is the ceiling that
# the host's other load left; 2 vCPUs on 2 busy host cores rarely get 1.0.
ceiling_type = 'objpool_pair' if ('objpool_pair', 'process', 1) in scale else 'kmem_cache_pair'
ceiling = {ctx: scaling.get((ceiling_type, ctx)) for ctx in ('process', 'softirq')}
handoff_ratio = summary(per_run(
    lambda r: handoff['ksalloc'][r] / handoff['completion'][r]))

# The stream: ns in allocate_frame + free_frame per frame, cross over same.
# The cost is the median of the timed loops' ns per frame, allocation plus
# free: a loop in which the host preempted the vCPU counts once, not with
# its milliseconds.  The mean (all the time in the loops over all frames)
# is in the details.
def stream_cost(mode, r, probed=False):
    f = stream[(mode, probed)][r]
    return f['alloc_median_ns'] + f['free_median_ns'] if f['frames'] else None
def stream_mean(f):
    return (f['alloc_ns'] + f['free_ns']) / f['frames']
stream_runs = 1 + max([r for v in stream.values() for r in v], default=-1)
def stream_per_run(fn):
    out = []
    for r in range(stream_runs):
        try:
            v = fn(r)
        except (KeyError, ZeroDivisionError, TypeError):
            continue
        if v is not None:
            out.append(v)
    return out
stream_ratio = summary(stream_per_run(
    lambda r: stream_cost('cross', r) / stream_cost('same', r)))
def stream_total(mode, probed, key):
    """key summed over the runs, per 10^6 frames; None when not counted."""
    runs_ = stream.get((mode, probed), {}).values()
    frames = sum(f['frames'] for f in runs_)
    if not frames or any(f[key] < 0 for f in runs_):
        return None
    return sum(f[key] for f in runs_) * 1e6 / frames
stream_rates = {(m, k): stream_total(m, p, k)
                for m in ('same', 'cross')
                for p, keys in ((False, ('cal_ipis', 'res_ipis')),
                                (True, ('take', 'give_slow')))
                for k in keys}

# --- disassembly: atomic RMW on the alloc and free paths ------------------
FUNC_RE = re.compile(r'^([0-9a-f]+) <(.+)>:$')
INSN_RE = re.compile(r'^\s+([0-9a-f]+):\s+(\S.*)$')
RELOC_RE = re.compile(r'^\s+([0-9a-f]+): (R_X86_64_\S+)\s+(\S+)$')
LOCAL_RE = re.compile(r'<([^+>]+)>\s*$')
ACQUIRE_RE = re.compile(r'^(_raw_spin_lock|_raw_spin_trylock|_raw_read_lock|'
                        r'_raw_write_lock|queued_spin_lock_slowpath|'
                        r'mutex_lock|down|rt_spin_lock)')
RELEASE_RE = re.compile(r'^(_raw_spin_unlock|_raw_read_unlock|_raw_write_unlock|'
                        r'rt_spin_unlock|mutex_unlock|up$)')
IGNORE_RE = re.compile(r'^(__fentry__|__x86_return_thunk|__stack_chk_fail|'
                       r'__x86_indirect_thunk_|__SCT__|__tracepoint|__bitmap_)')
funcs, order, cur = {}, [], None
for l in lines(dis):
    m = FUNC_RE.match(l)
    if m:
        cur = m.group(2)
        funcs[cur] = []
        order.append(cur)
        continue
    if cur is None:
        continue
    m = RELOC_RE.match(l)
    if m and funcs[cur]:
        sym = re.sub(r'[-+]0x[0-9a-f]+$', '', m.group(3))
        funcs[cur][-1]['reloc'] = sym
        continue
    m = INSN_RE.match(l)
    if m:
        funcs[cur].append({'off': int(m.group(1), 16), 'text': m.group(2), 'reloc': None})

def is_atomic(text):
    words = text.split()
    if not words:
        return False
    if words[0] == 'lock':
        return True
    return words[0].startswith('xchg') and '(' in text

def walk(entry, slow):
    """In-module functions reachable from entry, and what they do."""
    seen, todo = [], [entry]
    atomics, acquires, releases, external, slow_hit = [], [], [], set(), set()
    while todo:
        fn = todo.pop()
        if fn in seen or fn not in funcs:
            continue
        if fn != entry and slow.search(fn):
            slow_hit.add(fn)
            continue
        seen.append(fn)
        base = None
        for ins in funcs[fn]:
            text = ins['text']
            op = text.split()[0]
            where = f'{fn}+{ins["off"] - funcs[fn][0]["off"]:#x}'
            if is_atomic(text):
                atomics.append(f'{where}: {" ".join(text.split())}')
            target = ins['reloc']
            if target is None and (op.startswith('j') or op.startswith('call')):
                m = LOCAL_RE.search(text)
                if m and m.group(1) != fn:
                    target = m.group(1)
            if target is None or not (op.startswith('j') or op.startswith('call')):
                continue
            if target in funcs:
                todo.append(target)
            elif IGNORE_RE.match(target):
                continue
            elif ACQUIRE_RE.match(target):
                acquires.append(f'{where}: {op} {target}')
            elif RELEASE_RE.match(target):
                releases.append(f'{where}: {op} {target}')
            else:
                external.add(target)
    return {'functions': seen, 'locked_insns': atomics, 'lock_acquires': acquires,
            'lock_releases': releases, 'external_calls': sorted(external),
            'slow_paths_left_out': sorted(slow_hit)}

# The fast path alone: the instructions of the entry point that lie on
# some path from its first instruction to a return that calls no other
# function (of the module or not; __fentry__ and the paravirt interrupt
# flag operations, which are patched into plain instructions, excepted).
# What the compiler inlined is in there; a call to a slow path ends the
# path.  Each atomic instruction counts once, whatever loops around it.
RET_THUNK = '__x86_return_thunk'
INLINE_CALL_RE = re.compile(r'^(__fentry__|pv_ops)$')
def fast_path(entry):
    ins = funcs.get(entry)
    if not ins:
        return None
    at = {x['off']: k for k, x in enumerate(ins)}
    def name(x, words):
        m = re.search(r'<([^>+]+)[^>]*>', x['text'])
        return x['reloc'] or (m and m.group(1)) or ' '.join(words[1:])
    succ = [[] for _ in ins]
    returns, left = set(), set()
    for k, x in enumerate(ins):
        words = x['text'].split()
        op, target = words[0], x['reloc']
        addr = None
        if target is None and len(words) > 1 and re.fullmatch(r'[0-9a-f]+', words[1]):
            addr = int(words[1], 16)
        fall = k + 1 < len(ins)
        if op.startswith('ret'):
            returns.add(k)
            continue
        if op in ('ud2', 'int3'):
            continue
        if op.startswith('call'):
            if target is not None and INLINE_CALL_RE.match(target):
                succ[k].append(k + 1)
            else:
                left.add(name(x, words))
            continue
        if op.startswith('j'):
            if target == RET_THUNK:
                returns.add(k)
                continue
            if addr in at:
                succ[k].append(at[addr])
            else:
                left.add(name(x, words))
            if op == 'jmp':
                continue
        if fall:
            succ[k].append(k + 1)
    fwd, todo = set(), [0]
    while todo:
        k = todo.pop()
        if k not in fwd:
            fwd.add(k)
            todo.extend(succ[k])
    pred = [[] for _ in ins]
    for k, ss in enumerate(succ):
        for t in ss:
            pred[t].append(k)
    back, todo = set(), [k for k in returns if k in fwd]
    while todo:
        k = todo.pop()
        if k not in back:
            back.add(k)
            todo.extend(p for p in pred[k] if p in fwd)
    on = sorted(back)
    return {'instructions': len(on),
            'locked_insns': [f'{entry}+{ins[k]["off"] - ins[0]["off"]:#x}: '
                             f'{" ".join(ins[k]["text"].split())}'
                             for k in on if is_atomic(ins[k]['text'])],
            'leaves_to': sorted(left)}

slow = re.compile(slow_re)
paths = {e: walk(e, slow) for e in ('ksalloc_allocate_frame', 'ksalloc_free_frame')}
fast = {e: fast_path(e) for e in paths}
have_fast = all(p and p['instructions'] for p in fast.values())
fast_rmw = sum(len(p['locked_insns']) for p in fast.values()) if have_fast else None
# The functions the kprobes of the stream look for, as the compiler named them.
probe_syms = {n: n in funcs or sorted(f for f in funcs if f.startswith(n + '.'))
              for n in ('ksalloc_take', 'ksalloc_give_slow')}
have_dis = all(p['functions'] for p in paths.values())
def rmw(p):
    return len(p['locked_insns']) + len(p['lock_acquires'])
rmw_alloc = rmw(paths['ksalloc_allocate_frame'])
rmw_free = rmw(paths['ksalloc_free_frame'])

# --- metadata, from the sizes the bench module printed -------------------
# Per frame a free stack entry and a state byte, a page pointer per page of
# the pool, a struct ksalloc_cache per CPU, one struct ksalloc per
# allocator: sizeof() of the core's structs (module/core.h, module/cache.h)
# in the build measured.  The bench's own framing (1024 frames of 256 B)
# comes from its frames: line.
FRAMES, SIZE = frames_framing or (1024, 256)
if sizes:
    PAGE = sizes['page_size']
    per_frame = sizes['free_stack_entry'] + sizes['state_entry']
    per_page = sizes['page_ptr']
    per_cpu = sizes['cache']
    per_alloc = sizes['ksalloc']
    bench_pages = (FRAMES * SIZE + PAGE - 1) // PAGE
    at_bench = per_frame + per_page * bench_pages / FRAMES
else:
    PAGE = per_frame = per_page = per_cpu = per_alloc = bench_pages = at_bench = None

# --- tracepoints compiled in / out: the table pair, net of the empty loop -
def traced_net(build):
    t = traced.get(build, {})
    if 'ksalloc_pair' not in t:
        return None
    return t['ksalloc_pair'] - t.get('empty_loop', 0.0)
trace_in, trace_out = traced_net('in'), traced_net('out')

# --- the table ------------------------------------------------------------
def fmt(v, digits=2):
    return 'n/a' if v is None else f'{v:.{digits}f}'

def row(measure, how, value, target, ok, note=''):
    """ok: True, False, None (not measured) or 'info' (no target)."""
    return {'measure': measure, 'how': how,
            'value': value, 'target': target,
            'status': ok if ok == 'info' else
                      'not measured' if ok is None else ('ok' if ok else 'MISS'),
            'note': note}

def ratio(a, b):
    return a / b if a is not None and b else None

rows = []
r = ratio(net('ksalloc_pair'), net('kmem_cache_pair'))
rows.append(row('ksalloc table pair / kmem_cache pair (256 B, BH off)', 'icount',
                fmt(r), '<= 0.45', None if r is None else r <= 0.45,
                f'{fmt(net("ksalloc_pair"), 1)} / {fmt(net("kmem_cache_pair"), 1)} instructions'))
r = ratio(net('ksalloc_pair'), net('objpool_pair'))
rows.append(row('ksalloc table pair / objpool pair', 'icount',
                fmt(r), '<= 1.0', None if r is None else r <= 1.0,
                f'{fmt(net("ksalloc_pair"), 1)} / {fmt(net("objpool_pair"), 1)} instructions'
                if r is not None else 'objpool needs 6.7' if cost else ''))
def rmw_note(name, p):
    where = sorted({x.split('+')[0] for x in p['locked_insns']})
    return (f'{name} {len(p["lock_acquires"])} spin lock acquisition(s) + '
            f'{len(p["locked_insns"])} lock-prefixed' +
            (f' (in {", ".join(where)})' if where else ''))
rows.append(row('atomic RMW per kernel alloc+free pair, fast path', 'disassembly',
                'n/a' if fast_rmw is None else str(fast_rmw), '<= 1',
                None if fast_rmw is None else fast_rmw <= 1,
                'lock-prefixed and xchg with memory from each entry point to its '
                'return, no call taken: ' + ('; '.join(
                    f'{e} {", ".join(x.split(": ", 1)[1] for x in p["locked_insns"]) or "none"}'
                    for e, p in fast.items()) if have_fast else
                    'a fast path not found in the disassembly')))
r = ratio(net('ksalloc_pair_softirq'), net('ksalloc_pair'))
rows.append(row('ksalloc pair in softirq / in process context', 'icount',
                fmt(r), '<= 1.1', None if r is None else r <= 1.1,
                f'{fmt(net("ksalloc_pair_softirq"), 1)} / {fmt(net("ksalloc_pair"), 1)} instructions'))
def spread(s):
    return f'median of {s["n"]} runs, range {s["min"]:.2f}..{s["max"]:.2f}'

for ctx in ('process', 'softirq'):
    s, c = scaling.get(('ksalloc_pair', ctx)), ceiling[ctx]
    rows.append(row(f'{ncpus} CPUs on one allocator, {ctx}: aggregate / ({ncpus} x one)',
                    'MTTCG', fmt(s and s['median']), '>= 0.9',
                    None if not s else s['median'] >= 0.9,
                    s and f'{spread(s)}; host ceiling: {ceiling_type} scaled '
                    f'{fmt(c and c["median"])} in the same runs' or ''))
for ctx in ('process', 'softirq'):
    s = vs_naive.get(ctx)
    rows.append(row(f'same load, {ctx}: ksalloc / spin_lock_bh pool', 'MTTCG',
                    fmt(s and s['median']), '>= 3', None if not s else s['median'] >= 3,
                    s and f'{spread(s)}; aggregate ops/s of both, {ncpus} CPUs' or ''))
s = stream_ratio
rows.append(row('cross-CPU stream (softirq alloc CPU 0, free CPU 1) / same-CPU pairs',
                'MTTCG', fmt(s and s['median']), '<= 1.5',
                None if not s else s['median'] <= 1.5,
                s and f'{spread(s)}; median ns per frame in allocate_frame + free_frame, '
                f'{fmt(statistics.median(stream_per_run(lambda r: stream_cost("cross", r))), 0)}'
                f' / {fmt(statistics.median(stream_per_run(lambda r: stream_cost("same", r))), 0)}'
                ' ns' or '; '.join(stream_notes)))
# No target: the kernel sends IPIs of its own (TLB flushes after vfree(),
# idle load balancing), so the same-CPU windows, where the allocator has no
# other CPU to disturb, give the background.
def ipis(mode, key):
    return sum(f[key] for f in stream.get((mode, False), {}).values())
c, cs = stream_rates[('cross', 'cal_ipis')], stream_rates[('same', 'cal_ipis')]
rows.append(row('cross-CPU stream: IPIs (CAL, all CPUs) per 10^6 frames', 'MTTCG',
                fmt(c, 1), 'none set', 'info' if c is not None else None,
                '' if c is None else
                f'{ipis("cross", "cal_ipis")} CAL + {ipis("cross", "res_ipis")} RES '
                f'IPIs in {len(stream[("cross", False)])} windows of {ms} ms; background, '
                f'the same-CPU windows: {ipis("same", "cal_ipis")} CAL + '
                f'{ipis("same", "res_ipis")} RES ({fmt(cs, 1)} CAL per 10^6 frames)'))
t, g = stream_rates[('cross', 'take')], stream_rates[('cross', 'give_slow')]
ts, gs = stream_rates[('same', 'take')], stream_rates[('same', 'give_slow')]
rows.append(row('cross-CPU stream: slow-path entries per 10^6 frames', 'kprobes',
                'n/a' if t is None and g is None else
                f'{fmt(t, 0)} + {fmt(g, 0)}', 'none set', 'info',
                f'ksalloc_take {fmt(t, 0)} (alloc, CPU 0) + ksalloc_give_slow {fmt(g, 0)} '
                f'(free, CPU 1); same-CPU pairs: {fmt(ts, 0)} + {fmt(gs, 0)}; '
                + '; '.join(f'{n}: ' + ('in ksalloc.ko' if v is True else
                                         f'cloned as {", ".join(v)}' if v else
                                         'not in ksalloc.ko')
                            for n, v in probe_syms.items())
                + ('; ' + '; '.join(x for x in stream_notes if 'not registered' in x)
                   if any('not registered' in x for x in stream_notes) else '')))
r = ratio(cost.get('user_ioctl_pair'), cost.get('user_floor_pair'))
rows.append(row('user ALLOC+FREE ioctl pair / two empty ioctls', 'icount',
                fmt(r), '<= 1.25', None if r is None else r <= 1.25,
                f'{fmt(cost.get("user_ioctl_pair"), 0)} / {fmt(cost.get("user_floor_pair"), 0)}'
                ' instructions (ksalloc-ctl bench; the empty ioctls return -ENOTTY)'))
r = ratio(cost.get('user_batch64_frame'), cost.get('user_ioctl_pair'))
rows.append(row('ALLOC_BATCH+FREE_BATCH of 64, per frame / single pair', 'icount',
                fmt(r, 3), '<= 0.1', None if r is None else r <= 0.1,
                f'{fmt(cost.get("user_batch64_frame"), 0)} / {fmt(cost.get("user_ioctl_pair"), 0)}'
                ' instructions'))
s = handoff_ratio
rows.append(row('softirq free -> waiter running / bare completion', 'MTTCG',
                fmt(s and s['median']), '<= 1.2', None if not s else s['median'] <= 1.2,
                (s and f'{spread(s)}; ' or '') +
                'kthread waiter, not user space'))
u, e = handoff_icount.get('user_free_to_alloc'), handoff_icount.get('user_eventfd')
r = ratio(u, e)
rows.append(row('user FREE -> waiter back from ALLOC / eventfd wake-up', 'icount',
                fmt(r), '<= 1.2', None if r is None else r <= 1.2,
                f'{u} / {e} instructions, medians (ksalloc-ctl bench; process '
                'context: user space cannot free from a softirq)' if r is not None else ''))
r = ratio(trace_in, trace_out)
rows.append(row('ksalloc pair, tracepoints compiled in / out', 'icount',
                fmt(r), '1.00 +- 0.02', None if r is None else abs(r - 1) <= 0.02,
                f'{fmt(trace_in, 1)} / {fmt(trace_out, 1)} instructions, net, one boot: '
                'ksalloc.ko, then the modules built with KSALLOC_TRACEPOINTS=n'
                if r is not None else args.tracepoints_note))
if sizes:
    rows.append(row('metadata per frame', 'sizeof',
                    f'{per_frame:.2f} B + {per_page} B/page', '<= 8 + O(CPUs)',
                    per_frame <= 8,
                    f'{at_bench:.2f} B/frame at {FRAMES} x {SIZE} B; plus {per_cpu} B per CPU '
                    f'and one struct ksalloc ({per_alloc} B)'))
else:
    rows.append(row('metadata per frame', 'sizeof', 'n/a', '<= 8 + O(CPUs)', None,
                    'no sizes: line from the bench module'))
rows.append(row('bytes stored inside frames', 'measured',
                'n/a' if frames_changed is None else str(frames_changed), '0',
                None if frames_changed is None else frames_changed == 0,
                f'pattern in all {FRAMES} frames kept across 2 alloc/free rounds'))

result = {
    'kernel': kernel,
    'parameters': {'runs': runs, 'iters': int(iters), 'ms': int(ms),
                   'samples': int(samples), 'vcpus': ncpus},
    'targets': rows,
    'instructions_per_pair': {k: v for k, v in sorted(cost.items())},
    'empty_loop': empty,
    'scale_ops_per_sec': {f'{t}/{ctx}/cpus{c}': summary(list(v.values()))
                          for (t, ctx, c), v in sorted(scale.items())},
    'scaling': {f'{t}/{ctx}': v for (t, ctx), v in sorted(scaling.items())},
    'ksalloc_vs_naive': vs_naive,
    'host_ceiling': {'type': ceiling_type, **ceiling},
    'time_in_chunks': {k: summary(v) for k, v in wall_share.items()},
    'handoff_ns': {'icount': handoff_icount,
                   'mttcg': {k: summary(list(v.values())) for k, v in handoff.items()}},
    'atomics': paths,
    'fast_path_atomics': {'total': fast_rmw, 'paths': fast},
    'stream': {'ratio': stream_ratio,
               'per_1e6_frames': {f'{m}/{k}': v for (m, k), v in stream_rates.items()},
               'runs': {f'{m}/{"probed" if p else "timed"}': v
                        for (m, p), v in sorted(stream.items())},
               'notes': stream_notes},
    'metadata': {'per_frame_bytes': per_frame, 'per_page_bytes': per_page,
                 'per_cpu_bytes': per_cpu, 'per_allocator_bytes': per_alloc,
                 'at_bench_framing': at_bench, 'sizes': sizes},
    'tracepoints': {'in': traced.get('in'), 'out': traced.get('out'),
                    'ratio': ratio(trace_in, trace_out)},
    'frames_bytes_changed': frames_changed,
    'allocation_failures': failures,
}
if as_json:
    json.dump(result, sys.stdout, indent=1)
    print()
    sys.exit(0)

print(f'ksalloc performance on {kernel}, against its targets')
print()
w = max(len(x['measure']) for x in rows)
print(f'  {"measure":<{w}}  {"how":<11}  {"value":>22}  {"target":<14}  status')
for x in rows:
    print(f'  {x["measure"]:<{w}}  {x["how"]:<11}  {x["value"]:>22}  '
          f'{x["target"]:<14}  {x["status"]}')
print()
for x in rows:
    if x['note']:
        print(f'  {x["measure"]}: {x["note"]}')

print()
print('Cost per pair in guest instructions (icount; "ns" = instructions),')
print(f'{iters} pairs after a warm-up; net = minus the empty loop ({empty:.3f}):')
print(f'  {"pair":<22} {"BH off":>9} {"softirq":>9} {"net":>9} {"net/kmem":>9}')
kmem = net('kmem_cache_pair')
for t in ('ksalloc_pair', 'ksalloc_direct_pair', 'kmem_cache_pair',
          'mempool_pair', 'objpool_pair', 'naive_pair', 'empty_loop'):
    p, s = cost.get(t), cost.get(t + '_softirq')
    n = net(t) if t != 'empty_loop' else None
    print(f'  {t:<22} {fmt(p, 1):>9} {fmt(s, 1):>9} {fmt(n, 1):>9} '
          f'{fmt(ratio(n, kmem)):>9}')

if scale:
    print()
    print(f'Scaling under MTTCG, {ncpus} vCPUs, one shared allocator or pool each, '
          f'{ms} ms a measurement,')
    print(f'medians of {runs} runs (wall clock on a shared 2-core host: noisy):')
    print(f'  {"pair":<18} {"context":<8} {"1 CPU ops/s":>13} '
          f'{f"{ncpus} CPUs ops/s":>14} {"agg/(N x 1)":>12}')
    for (t, ctx, c) in sorted(scale):
        if c != 1:
            continue
        one = summary(list(scale[(t, ctx, 1)].values()))
        all_ = summary(list(scale.get((t, ctx, ncpus), {}).values()))
        sc = scaling.get((t, ctx))
        print(f'  {t:<18} {ctx:<8} {one["median"]:>13,.0f} '
              f'{(all_ or {"median": 0})["median"]:>14,.0f} '
              f'{fmt(sc and sc["median"]):>12}')
    for ctx, s in vs_naive.items():
        if s:
            print(f'  ksalloc / naive, {ncpus} CPUs, {ctx}: {s["median"]:.2f} '
                  f'(range {s["min"]:.2f}..{s["max"]:.2f})')
    for ctx, c in ceiling.items():
        if c:
            print(f'  host ceiling, {ctx}: {ceiling_type} (per-CPU, nothing shared) '
                  f'scaled {c["median"]:.2f}')
    for ctx, v in wall_share.items():
        ws = summary(v)
        print(f'  {ctx}: time inside timed chunks: median {ws["median"]:.0%} '
              f'of each window (min {ws["min"]:.0%})')

if handoff or handoff_icount:
    print()
    print('Hand-off latency, softirq (pinned soft hrtimer) -> kthread on the same CPU:')
    for kind in ('ksalloc', 'completion'):
        h = summary(list(handoff.get(kind, {}).values()))
        print(f'  {kind:<11} MTTCG median {fmt(h and h["median"], 0):>8} ns'
              f'  icount median {handoff_icount.get(kind, "n/a")} instructions')
    print('  (icount skips idle time with sleep=off, so its figures include jumps')
    print('  of the clock while the CPU idles; the MTTCG ratio is the target row)')

if stream:
    print()
    print('Cross-CPU stream under MTTCG: a pinned soft hrtimer on CPU 0 allocates')
    print('bursts of 16 frames through the table onto a 64-frame ring; "cross": a')
    print('pinned soft hrtimer on CPU 1 frees them; "same": CPU 0 frees each burst')
    print(f'itself.  {ms} ms a measurement, medians of {stream_runs} runs; ns per frame')
    print('in the timed allocate_frame / free_frame loops (of 16 frames at most):')
    print('the median over the loops, and the mean, all time over all frames:')
    print(f'  {"mode":<6} {"alloc":>6} {"free":>6} {"pair":>6} {"mean":>6} {"probed":>6} '
          f'{"frames/s":>10} {"CAL/run":>8} {"RES/run":>8} {"take/1e6":>9} {"give/1e6":>9}')
    for m in ('same', 'cross'):
        def med(fn, probed=False):
            v = stream_per_run(lambda r: fn(stream[(m, probed)][r]))
            return statistics.median(v) if v else None
        print(f'  {m:<6} {fmt(med(lambda f: f["alloc_median_ns"]), 0):>6} '
              f'{fmt(med(lambda f: f["free_median_ns"]), 0):>6} '
              f'{fmt(med(lambda f: f["alloc_median_ns"] + f["free_median_ns"]), 0):>6} '
              f'{fmt(med(stream_mean), 0):>6} '
              f'{fmt(med(lambda f: f["alloc_median_ns"] + f["free_median_ns"], True), 0):>6} '
              f'{fmt(med(lambda f: f["frames"] * 1e9 / f["wall_ns"]), 0):>10} '
              f'{fmt(med(lambda f: f["cal_ipis"]), 0):>8} '
              f'{fmt(med(lambda f: f["res_ipis"]), 0):>8} '
              f'{fmt(stream_rates[(m, "take")], 0):>9} '
              f'{fmt(stream_rates[(m, "give_slow")], 0):>9}')
    for x in stream_notes:
        print(f'  {x}')
    print('  (timed without probes; "probed" is the pair with the kprobes that')
    print('  count the slow-path entries, in a second series)')

print()
print('Atomic RMW on the fast paths alone (entry to return, no call taken):')
for e, p in fast.items():
    if not p:
        print(f'  {e}: not found')
        continue
    print(f'  {e}: {p["instructions"]} instructions on its fast paths, '
          f'{len(p["locked_insns"])} atomic')
    for a in p['locked_insns']:
        print(f'    locked insn     {a}')
    if p['leaves_to']:
        print(f'    paths that leave (not counted): {", ".join(p["leaves_to"])}')

print()
print('Atomic RMW by disassembly of ksalloc.ko (static, every path reachable')
print('from the entry point, slow paths included; in the kernel a spin_lock is')
print('one "lock cmpxchg" on x86 (qspinlock fast path); spin_unlock is a plain')
print('store, and the _bh variants add no atomic):')
for e, p in paths.items():
    print(f'  {e}: reaches {", ".join(p["functions"]) or "nothing (not found)"}')
    for a in p['lock_acquires']:
        print(f'    lock acquire    {a}')
    for a in p['locked_insns']:
        print(f'    locked insn     {a}')
    print(f'    lock releases: {len(p["lock_releases"])} call sites (no RMW)')
    if p['slow_paths_left_out']:
        print(f'    left out as slow paths (--slow): {", ".join(p["slow_paths_left_out"])}')
    if p['external_calls']:
        print(f'    other calls out of the module: {", ".join(p["external_calls"])}')

print()
if sizes:
    print(f'Metadata (sizeof in this build): free stack entry {sizes["free_stack_entry"]} B '
          f'+ state byte {sizes["state_entry"]} B per frame')
    print(f'= {per_frame:.2f} B/frame; page pointer array {per_page} B per pool page '
          f'({per_page * bench_pages} B for {FRAMES} x {SIZE} B frames'
          f' = {at_bench:.2f} B/frame in all); a {per_cpu} B cache per CPU;')
    print(f'one struct ksalloc ({per_alloc} B) per allocator;')
else:
    print('Metadata: not measured (no sizes: line from the bench module);')
print('0 bytes inside frames by design'
      + ('' if frames_changed is None else f', {frames_changed} bytes changed in the check') + '.')
if failures:
    print()
    print('Allocations that failed (those pairs timed nothing; the figures are off):')
    for x in failures:
        print(f'  {x}')

print()
user = [t for t in ('user_floor_pair', 'user_ioctl_pair', 'user_batch64_frame') if t in cost]
if user:
    print()
    print('User space (ksalloc-ctl bench in the icount guest), instructions per pair')
    print('or per frame, system call entry and exit included:')
    for t in user:
        print(f'  {t:<22} {fmt(cost[t], 1):>9}')

print()
print('Not measured here: a softirq free to a waiter in user space.  The softirq')
print('row times a kthread waiter; the user-space row frees from process context.')
