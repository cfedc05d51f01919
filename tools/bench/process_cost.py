"""Runs a command and prints its wall time from start to exit and the peak resident memory of its whole process
tree as JSON (the command's output is discarded): what a user waits for and what the machine needs. The tree's
memory is sampled every 2 ms (Zoo reads files in a sandboxed child process, whose memory counts too) and never
reported below the command's own peak as the kernel counts it.

Usage: python3 tools/bench/process_cost.py COMMAND [ARGUMENT...]
"""
import json
import os
import subprocess
import sys
import threading
import time


def tree(pid):
    """The process and its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending += [int(child) for child in children.read().split()]
        except OSError:
            pass
    return found


def resident_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
peak_kb, done = 0, threading.Event()


def sample():
    global peak_kb
    while not done.is_set():
        peak_kb = max(peak_kb, sum(resident_kb(pid) for pid in tree(child.pid)))
        time.sleep(0.002)


sampler = threading.Thread(target=sample)
sampler.start()
_, status, usage = os.wait4(child.pid, 0)
seconds = time.perf_counter() - start
done.set()
sampler.join()
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit(f"process_cost: {' '.join(sys.argv[1:])} failed with status {os.waitstatus_to_exitcode(status)}")
print(json.dumps({"seconds": seconds, "peak_rss_mb": max(peak_kb, usage.ru_maxrss) / 1024}))
