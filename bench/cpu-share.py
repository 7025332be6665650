#!/usr/bin/env python3
"""Each second, the CPU each named program used (all its processes and
threads, user and system time, in % of one core) and how busy the whole
machine was (in % of one core, so 200 % is both cores of this machine).

docs/performance.md's S3 download profile was made with it: run beside a
`clasp-bench transfer` whose phases are long enough (`--seconds 10`) to be
told apart in the per-second lines, then divide each program's share by the
phase's MiB/s to get what a GiB costs each of them. Program names are the
kernel's (`/proc/PID/comm`: the binary's file name, cut to 15 bytes).

    bench/cpu-share.py weed,clasp,clasp-bench,nginx 150
"""
import os
import sys
import time


def per_program(names):
    """CPU ticks used so far by every process whose name is in `names`."""
    ticks = dict.fromkeys(names, 0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:  # the process ended between the listing and the read
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name in ticks:
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks[name] += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks


def machine():
    """(idle ticks, all ticks) of every core so far."""
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    return cpu[3] + cpu[4], sum(cpu)


def main():
    if len(sys.argv) != 3:
        sys.exit(f"usage: {sys.argv[0]} NAME[,NAME...] SECONDS")
    names, seconds = sys.argv[1].split(","), int(sys.argv[2])
    hz, cores = os.sysconf("SC_CLK_TCK"), os.cpu_count()
    before, machine_before = per_program(names), machine()
    for _ in range(seconds):
        time.sleep(1)
        now, machine_now = per_program(names), machine()
        idle = machine_now[0] - machine_before[0]
        total = max(1, machine_now[1] - machine_before[1])
        shares = " ".join(
            f"{n}={100 * (now[n] - before[n]) / hz:.0f}%" for n in names
        )
        busy = 100 * cores * (1 - idle / total)
        print(f"{time.strftime('%H:%M:%S')} machine={busy:.0f}% {shares}", flush=True)
        before, machine_before = now, machine_now


main()
