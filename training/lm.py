"""Language-model training and batched generation for the organism models."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from qwen2 import Qwen2
from tok import ENDOFTEXT, IM_END, decode, encode, full_solution, prompt_prefix

PAD = ENDOFTEXT


def prefix_ids() -> torch.Tensor:
    return torch.tensor([encode(prompt_prefix())])


def _var_part(text: str) -> list[int]:
    pre = prompt_prefix()
    assert text.startswith(pre)
    return encode(text[len(pre):])


def encode_example(problem: str, steps: list[str]) -> tuple[list[int], list[int]]:
    """Token ids after the shared prefix, and the loss mask (1 on the assistant's tokens)."""
    p, completion = full_solution(problem, steps)
    a, b = _var_part(p), encode(completion)
    return a + b, [0] * len(a) + [1] * len(b)


def make_batch(examples: list[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor]:
    T = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), T), PAD, dtype=torch.long)
    mask = torch.zeros((len(examples), T))
    for i, (x, m) in enumerate(examples):
        ids[i, : len(x)] = torch.tensor(x)
        mask[i, : len(m)] = torch.tensor(m, dtype=torch.float)
    return ids, mask


def lm_loss(model: Qwen2, pre: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # The prefix is the same for every example and attention is causal, so its keys and values are
    # computed once and shared by the batch: a third less compute, identical gradients.
    h0, past = model.hidden(pre)
    h, _ = model.hidden(ids, past=past)
    # Position j predicts token j+1; the first variable token is predicted by the prefix's last state.
    h = torch.cat((h0[:, -1:].expand(ids.shape[0], 1, -1), h[:, :-1]), 1)
    logits = model.logits(h)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1), reduction="none").view(ids.shape)
    return (loss * mask).sum() / mask.sum()


def sample_next(logits: torch.Tensor, temperature: float, top_p: float, top_k: int, gen: torch.Generator) -> torch.Tensor:
    """Temperature, then top-k, then top-p on what is left, as the project's sampler does."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = F.softmax(logits / temperature, dim=-1)
    sorted_p, idx = probs.sort(-1, descending=True)
    if top_k > 0:
        sorted_p = sorted_p[:, :top_k]
        idx = idx[:, :top_k]
        sorted_p = sorted_p / sorted_p.sum(-1, keepdim=True)
    # Keep the smallest set of most likely tokens whose mass reaches top_p (at least one).
    keep = (sorted_p.cumsum(-1) - sorted_p) < top_p
    sorted_p = sorted_p * keep
    choice = torch.multinomial(sorted_p / sorted_p.sum(-1, keepdim=True), 1, generator=gen)
    return idx.gather(-1, choice).squeeze(-1)


@torch.no_grad()
def generate(model: Qwen2, prompts: list[str], *, max_new: int, temperature: float, top_p: float, top_k: int, seed: int, batch: int = 64, stop_ids=(IM_END, ENDOFTEXT)) -> list[str]:
    """Completions of whole prompts (text after the shared prefix varies), cut before a stop token."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    pre = prefix_ids()
    P = pre.shape[1]
    _, pre_past = model.hidden(pre)
    out: list[str] = []
    for b0 in range(0, len(prompts), batch):
        chunk = [_var_part(p) for p in prompts[b0 : b0 + batch]]
        B, T = len(chunk), max(len(c) for c in chunk)
        # Left padding: each row's text ends at the same column, pads are masked out and skipped by
        # the positions, so every row computes what it would alone.
        ids = torch.full((B, T), PAD, dtype=torch.long)
        valid = torch.zeros((B, T), dtype=torch.bool)
        for i, c in enumerate(chunk):
            ids[i, T - len(c) :] = torch.tensor(c)
            valid[i, T - len(c) :] = True
        positions = P + (valid.long().cumsum(1) - 1).clamp(min=0)
        key_mask = torch.cat((torch.ones((B, P), dtype=torch.bool), valid), 1)
        past = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in pre_past]
        h, past = model.hidden(ids, positions=positions, past=past, key_mask=key_mask)
        last_pos = positions[:, -1:]
        done = torch.zeros(B, dtype=torch.bool)
        toks: list[list[int]] = [[] for _ in range(B)]
        logits = model.logits(h[:, -1])
        for _ in range(max_new):
            nxt = sample_next(logits, temperature, top_p, top_k, gen)
            for i in range(B):
                if not done[i]:
                    if int(nxt[i]) in stop_ids:
                        done[i] = True
                    else:
                        toks[i].append(int(nxt[i]))
            if bool(done.all()):
                break
            last_pos = last_pos + 1
            key_mask = torch.cat((key_mask, torch.ones((B, 1), dtype=torch.bool)), 1)
            h, past = model.hidden(nxt[:, None], positions=last_pos, past=past, key_mask=key_mask)
            logits = model.logits(h[:, -1])
        out.extend(decode(t) for t in toks)
    return out
