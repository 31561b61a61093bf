"""`nearest` written in Python against the observation and dims of
edgebench's environment (solvers/src/nearest.rs and cache_plan.rs, line by
line): every task to its strongest accessible node, cut 0, the node's units
split evenly (rounded down to a level), models cached on demand with LRU
eviction."""

import numpy as np


def level_at_most(levels, budget):
    fitting = [lv for lv in levels if lv <= budget]
    return fitting[-1] if fitting else None


class CachePlan:
    def __init__(self, obs, dims):
        self.d = dims
        n, m = dims["nodes"], dims["models"]
        cache = obs["cache"]
        # (model, last_used or None, pinned); the order does not matter (ties go by model id).
        self.nodes = [
            [[k, None if cache[node, k, 2] < 0 else int(cache[node, k, 2]), False] for k in range(m) if cache[node, k, 0] > 0]
            for node in range(n)
        ]

    def _bytes(self, entries):
        return sum(self.d["model_weights_bytes"][e[0]] for e in entries)

    def ensure(self, node, model):
        entries = self.nodes[node]
        for e in entries:
            if e[0] == model:
                e[2] = True
                return True
        need = self.d["model_weights_bytes"][model]
        free = self.d["node_cache_bytes"][node] - self._bytes(entries)
        evictable = self._bytes([e for e in entries if not e[2]])
        if free + evictable < need:
            return False
        while self.d["node_cache_bytes"][node] - self._bytes(entries) < need:
            victim = min((e for e in entries if not e[2]), key=lambda e: (0 if e[1] is None else e[1] + 1, e[0]))
            entries.remove(victim)
        entries.append([model, None, True])
        return True


class PyNearest:
    name = "py-nearest"

    def __init__(self, dims):
        self.d = dims

    def decide(self, obs):
        d = self.d
        t, n, m = d["terminals"], d["nodes"], d["models"]
        action = np.zeros(4 * t + n * m, dtype=np.int64)
        by_node = [[] for _ in range(n)]
        for u in np.flatnonzero(obs["task_mask"]):
            links = obs["links"][u]
            reach = [k for k in range(n) if links[k, 0] > 0]
            if reach:
                # Strongest SNR; ties to the lowest node index.
                by_node[max(reach, key=lambda k: (links[k, 1], -k))].append(u)
        plan = CachePlan(obs, d)
        for node, tasks in enumerate(by_node):
            served = [u for u in tasks if plan.ensure(node, int(obs["task"][u, 0]))]
            if not served:
                continue
            k = len(served)
            rb_units, cu_units = d["node_rb_units"][node], d["node_cu_units"][node]
            rb = level_at_most(d["rb_levels"], rb_units // k) or d["rb_levels"][0]
            cu = level_at_most(d["cu_levels"], cu_units // k) or d["cu_levels"][0]
            fit = min(rb_units // rb, cu_units // cu, k)
            for u in served[:fit]:
                action[4 * u: 4 * u + 4] = [2 + node, 0, d["rb_levels"].index(rb), d["cu_levels"].index(cu)]
        for node, entries in enumerate(plan.nodes):
            for e in entries:
                action[4 * t + node * m + e[0]] = 1
        return action
