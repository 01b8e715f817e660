"""The value-head PRM: its input layout, training on checker-labelled weak samples, and AUC.

Layout: what the project's PRM scorer (src/backends/prm-layout.ts, head "value") feeds a value head,
Skywork-o1-Open-PRM's: "{problem}\\n" then each step followed by "\\n" (this tokenizer has no BOS); the
step's score is sigmoid(value) at that "\\n"."""

from __future__ import annotations

import math
import random
import time

import torch
import torch.nn.functional as F

from qwen2 import Qwen2
from tok import ENDOFTEXT, encode

MARKER = "\n"


def encode_prm(problem: str, steps: list[str]) -> tuple[list[int], list[int]]:
    """Token ids and, per step, the position whose value scores it."""
    ids = encode(problem + MARKER)
    at = []
    for s in steps:
        ids += encode(s + MARKER)
        at.append(len(ids) - 1)
    return ids, at


def prm_positions(rows: list[dict]) -> list[tuple[list[int], list[int]]]:
    return [encode_prm(r["problem"], r["steps"]) for r in rows]


def _batch(items: list[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, list[list[int]]]:
    T = max(len(ids) for ids, _ in items)
    x = torch.full((len(items), T), ENDOFTEXT, dtype=torch.long)
    for i, (ids, _) in enumerate(items):
        x[i, : len(ids)] = torch.tensor(ids)
    return x, [at for _, at in items]


def train_prm(model: Qwen2, rows: list[dict], *, steps: int, batch: int, lr: float, seed: int, log, after_error: bool = True, monitor=None, monitor_every: int = 0) -> float:
    """Targets: 1 for a step while the solution is still correct, 0 from the first wrong step on.

    after_error=False leaves the steps after the first error out of the loss: a checker of a student's
    work needs the first wrong step low, and what follows it is consistent arithmetic on a wrong value."""
    rng = random.Random(seed)
    data = []
    for r in rows:
        ids, at = encode_prm(r["problem"], r["steps"])
        kept = [(p, 1.0 if lab == "correct" else 0.0) for p, lab in zip(at, r["labels"]) if after_error or lab != "after-error"]
        data.append(((ids, [p for p, _ in kept]), [t for _, t in kept]))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    warm = max(1, steps // 50)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    t0 = time.time()
    avg = None
    for s in range(steps):
        model.train()
        picked = sorted((data[rng.randrange(len(data))] for _ in range(batch)), key=lambda d: len(d[0][0]))
        x, ats = _batch([p for p, _ in picked])
        h, _ = model.hidden(x)
        v = model.values(h)
        rows_i = torch.tensor([i for i, at in enumerate(ats) for _ in at])
        cols = torch.tensor([p for at in ats for p in at])
        target = torch.tensor([t for _, ts in picked for t in ts])
        loss = F.binary_cross_entropy_with_logits(v[rows_i, cols], target)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if (s + 1) % 100 == 0:
            log(f"step {s + 1}/{steps} loss {avg:.4f} ({time.time() - t0:.0f} s)")
        if monitor is not None and monitor_every and (s + 1) % monitor_every == 0:
            monitor(s + 1)
    return time.time() - t0


@torch.no_grad()
def score_prm(model: Qwen2, rows: list[dict], batch: int = 64) -> list[list[float]]:
    model.eval()
    out: list[list[float]] = []
    for b in range(0, len(rows), batch):
        x, ats = _batch(prm_positions(rows[b : b + batch]))
        v = torch.sigmoid(model.values(model.hidden(x)[0]))
        out.extend([v[i, at].tolist() for i, at in enumerate(ats)])
    return out


def auc(scores: list[float], positive: list[bool]) -> float | None:
    """Area under the ROC curve: the chance a positive outscores a negative (ties count half)."""
    pairs = sorted(zip(scores, positive))
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # average 1-based rank of the tie group
        rank_sum += mid * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
