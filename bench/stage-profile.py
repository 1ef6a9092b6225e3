"""Per-step times of runc stagings, from `strace -f -tt -e trace=execve,execveat,exit_group`
of the stage_noop bench. Usage: stage-profile.py TRACE FIRST LAST (stagings to count, by order).

A staging starts at its mkfs.ext4; within it each program's first start counts ("runc init"
re-executing itself is left out)."""
import re
import statistics
import sys

trace, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def seconds(clock):
    h, m, s = clock.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def step_name(argv):
    """argv[0] is the file executed, the rest its argv."""
    program = argv[0].rsplit("/", 1)[-1]
    if program in ("runc", "exe") or argv[0].startswith("/proc/"):
        return "runc " + (argv[2] if len(argv) > 2 else "?")
    if program == "unshare":
        return "slirp4netns (via unshare)"
    return program


starts, exits, pending = [], {}, {}
for line in open(trace):
    m = re.match(r"(\d+)\s+(\S+)\s+(.*)", line.rstrip("\n"))
    if not m:
        continue
    pid, t, rest = int(m[1]), seconds(m[2]), m[3]
    if rest.startswith("execveat("):
        # execveat(fd, "", [argv...]): runc init re-executing itself.
        rest = 'execve("/proc/self/exe", ' + rest.split(", ", 2)[2]
    if rest.startswith("execve("):
        if "= -1" in rest:
            continue
        argv = re.findall(r'"([^"]*)"', rest)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = (t, argv)
        else:
            starts.append((t, pid, argv))
    elif "execve resumed>" in rest or "execveat resumed>" in rest:
        if pid in pending and rest.endswith("= 0"):
            t0, argv = pending.pop(pid)
            starts.append((t0, pid, argv))
    elif rest.startswith("+++ exited") or rest.startswith("+++ killed"):
        exits[pid] = t
starts.sort()
stagings = [i for i, (_, _, argv) in enumerate(starts) if argv[0].endswith("mkfs.ext4")]

walls, offsets, totals = {}, {}, []
for k in range(first, min(last, len(stagings))):
    a = stagings[k]
    b = stagings[k + 1] if k + 1 < len(stagings) else len(starts)
    events = starts[a:b]
    t0 = events[0][0]
    end = max(exits.get(pid, t) for t, pid, _ in events)
    totals.append(end - t0)
    seen = {}
    for t, pid, argv in events:
        name = step_name(argv)
        if name in seen or name == "runc init":
            continue
        seen[name] = (t, pid)
        offsets.setdefault(name, []).append(t - t0)
        if pid in exits:
            walls.setdefault(name, []).append(exits[pid] - t)
    run, builder = seen.get("runc run"), seen.get("builder")
    if run and builder and run[1] in exits and builder[1] in exits:
        walls.setdefault("  runc run: start -> builder start", []).append(builder[0] - run[0])
        walls.setdefault("  runc run: builder exit -> runc exit", []).append(exits[run[1]] - exits[builder[1]])
        walls.setdefault("after runc run's exit (teardown)", []).append(end - exits[run[1]])

ms = lambda values: statistics.median(values) * 1000
print(f"{len(totals)} stagings; first start to last exit: median {ms(totals):.1f} ms")
print(f"{'step':42s} {'starts at':>10s} {'wall':>9s}")
for name in sorted(set(walls) | set(offsets), key=lambda n: (ms(offsets[n]) if n in offsets else 1e9, n)):
    at = f"+{ms(offsets[name]):.1f}" if name in offsets else ""
    wall = f"{ms(walls[name]):.1f}" if name in walls else ""
    print(f"{name:42s} {at:>10s} {wall:>9s}")
