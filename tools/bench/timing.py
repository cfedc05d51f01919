"""What the Python sides of tools/bench/transfer share: the median time of a step after a warm-up."""
import time


def median(body, seconds):
    """The median of timed runs of `body` after one untimed run: at least 3, and as many as `seconds` allow."""
    body()
    times, start = [], time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        body()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]
