#!/usr/bin/env python3
"""Summarise a Chrome trace written by `rtseg_bench_train_step --profile FILE`.

Prints, per operator name, the self time (its duration minus that of the operators it called),
the total time and the call count, largest self time first. Operators nest per thread, so self
time is found by walking each thread's events in start order with a stack.

    python3 bench/train_step/op_summary.py /tmp/trace.json [--top 30]
"""
import argparse
import collections
import json


def summarise(events):
    by_thread = collections.defaultdict(list)
    for event in events:
        if event.get("ph") == "X":
            by_thread[(event.get("pid"), event.get("tid"))].append(event)
    self_us = collections.Counter()
    total_us = collections.Counter()
    calls = collections.Counter()
    for thread_events in by_thread.values():
        # Parents first: earlier start, and the longer of two events starting together.
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [end, name, child time]
        def close(entry):
            end, name, children, duration = entry
            self_us[name] += duration - children
        for event in thread_events:
            start, duration = event["ts"], event["dur"]
            while stack and stack[-1][0] <= start:
                close(stack.pop())
            if stack:
                stack[-1][2] += duration
            stack.append([start + duration, event["name"], 0.0, duration])
            total_us[event["name"]] += duration
            calls[event["name"]] += 1
        while stack:
            close(stack.pop())
    return self_us, total_us, calls


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with open(args.trace) as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    self_us, total_us, calls = summarise(events)
    all_self = sum(self_us.values())
    print(f"{'operator':48s} {'self ms':>10s} {'self %':>7s} {'total ms':>10s} {'calls':>8s}")
    for name, us in self_us.most_common(args.top):
        print(f"{name[:48]:48s} {us / 1e3:10.1f} {100 * us / all_self:6.1f}% {total_us[name] / 1e3:10.1f} {calls[name]:8d}")
    print(f"{'all operators':48s} {all_self / 1e3:10.1f}")


if __name__ == "__main__":
    main()
