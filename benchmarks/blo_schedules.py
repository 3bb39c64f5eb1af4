"""Upper-level schedules on two stub lower levels (seconds, no training): a planted problem whose lowest-loss samples are
memorized (BLO must end on the prototypical group) and a lower level that returns the reversed ranking after its
first call (the final set must leave the first ranking). Prints, per variant and seed, the final set's share of
each group, the stop reason and the iterations.

    python benchmarks/blo_schedules.py
"""
import torch
from unlearn_core.training import make_generator


def memorized_vs_prototypical(n=400, m=40, seed=0, knee=0.75):
    g = make_generator(seed)
    perm = torch.randperm(n, generator=g)
    memorized, prototypical = perm[:m], perm[m:2 * m]
    base = torch.exp(torch.empty(n).uniform_(-3.9, 0.4, generator=g)).double()  # typical: 0.02 .. 1.5
    base[memorized] = 1e-4 * (1 + torch.rand(m, generator=g).double())
    base[prototypical] = 0.005 + 0.005 * torch.rand(m, generator=g).double()
    is_mem = torch.zeros(n, dtype=torch.bool); is_mem[memorized] = True
    is_proto = torch.zeros(n, dtype=torch.bool); is_proto[prototypical] = True
    def lower(w):
        w = w.double()
        mem_rise = 4.0 * torch.sigmoid((w - knee) / 0.05)   # memorized: forgotten only once (almost) fully removed
        typ_rise = 1.0 * w                                   # typical: the loss rises with the removal weight
        return torch.where(is_mem, base + mem_rise, torch.where(is_proto, base, base + typ_rise))
    return memorized, prototypical, lower, base
from unlearn_core.scores.blo import upper_loop

from unlearn_core.scores.blo import upper_loop
n, m = 400, 40
def mask(idx):
    x = torch.zeros(n, dtype=torch.bool); x[idx] = True; return x
for name, p in [("default", {}), ("soft fw", {"lower_weights": "soft"}), ("soft pgd old", {"lower_weights": "soft", "upper": "pgd", "decay": 2.0}), ("pgd old", {"upper": "pgd", "decay": 2.0}), ("pgd a=1 d=1", {"upper": "pgd"}),
                ("pgd a=.2 d=0", {"upper": "pgd", "alpha": 0.2, "decay": 0.0}), ("pgd a=.3 d=.5", {"upper": "pgd", "alpha": 0.3, "decay": 0.5})]:
    for seed in range(3):
        A, B, lower, base = memorized_vs_prototypical(n, m, seed)
        low = mask(torch.topk(-base, m).indices)
        w, _, tr, reason = upper_loop(lower, n, m, {**p, "max_iters": 30}, mask(torch.arange(m)), low)
        top = mask(torch.topk(w, m).indices)
        # reversed
        calls = [0]
        def rev(w, base=base):
            calls[0] += 1
            return base if calls[0] == 1 else -base
        w2, _, tr2, reason2 = upper_loop(rev, n, m, {**p, "max_iters": 30}, mask(torch.arange(m)), low)
        top2 = mask(torch.topk(w2, m).indices)
        print(name, seed, "planted: B", float((top & mask(B)).sum())/m, "A", float((top & mask(A)).sum())/m, reason, len(tr),
              "| reversed: lowloss", float((top2 & low).sum())/m, reason2, len(tr2))
