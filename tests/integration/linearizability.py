"""A per-key linearizability checker for register histories, as Jepsen's checkers
do it (Wing & Gong's search with memoized states, as in Knossos and Porcupine).

An operation is (invoked, completed, kind, value): kind "write" (value: what was
written) or "read" (value: what was read, None for a missing key). An operation
whose outcome is unknown (a timeout, a connection lost) has completed=None: it may
have taken effect at any time after its invocation, or never. Failed operations
that certainly did nothing are left out of the history by the caller."""
import math
import sys


def check_register(ops, initial=None):
    """True when some total order of `ops` respects real time (an operation that
    completed before another was invoked comes first) and register semantics (a
    read returns the latest write before it). Returns (ok, explanation)."""
    ops = sorted(ops, key=lambda o: o[0])
    n = len(ops)
    inv = [o[0] for o in ops]
    resp = [math.inf if o[1] is None else o[1] for o in ops]
    definite = 0
    for i, o in enumerate(ops):
        if o[1] is not None:
            definite |= 1 << i
    seen = set()
    sys.setrecursionlimit(max(10000, 4 * n + 100))

    def search(done, state):
        if done & definite == definite:
            return True
        key = (done, state)
        if key in seen:
            return False
        seen.add(key)
        pending = [i for i in range(n) if not done >> i & 1]
        horizon = min(resp[i] for i in pending)
        for i in pending:
            if inv[i] > horizon:
                break  # invoked after a pending operation completed: that one comes first
            kind, value = ops[i][2], ops[i][3]
            if kind == "read":
                if value != state:
                    continue
                nxt = state
            else:
                nxt = value
            if search(done | 1 << i, nxt):
                return True
        return False

    if search(0, initial):
        return True, ""
    return False, f"no linearization of {n} operations: " + "; ".join(
        f"{o[2]}({o[3]!r}) [{o[0]:.4f}, {'?' if o[1] is None else f'{o[1]:.4f}'}]" for o in ops[:60])
