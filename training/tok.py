"""The project's fixed tokenizer and the chat text the models see.

Ids 0..255 are the raw UTF-8 bytes; then four special tokens. The chat text is what
src/core/prompt.ts (qwen25 template, MATH_SYSTEM_PROMPT) renders, so the models learn exactly the
prompts the project's code sends them; test/organism-models.test.ts checks both sides agree."""

from __future__ import annotations

import re

ENDOFTEXT, IM_START, IM_END, EXTRA_0 = 256, 257, 258, 259
SPECIALS = {"<|endoftext|>": ENDOFTEXT, "<|im_start|>": IM_START, "<|im_end|>": IM_END, "<extra_0>": EXTRA_0}
VOCAB_SIZE = 260
MATH_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."
STEP_DELIMITER = "\n\n"

_SPLIT = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")
_NAMES = {v: k for k, v in SPECIALS.items()}


def encode(text: str) -> list[int]:
    ids: list[int] = []
    for part in _SPLIT.split(text):
        if part in SPECIALS:
            ids.append(SPECIALS[part])
        elif part:
            ids.extend(part.encode("utf-8"))
    return ids


def decode(ids: list[int]) -> str:
    out, buf = [], bytearray()
    for i in ids:
        if i < 256:
            buf.append(i)
            continue
        out.append(buf.decode("utf-8", errors="replace"))
        buf = bytearray()
        out.append(_NAMES.get(i, ""))
    out.append(buf.decode("utf-8", errors="replace"))
    return "".join(out)


def prompt_prefix() -> str:
    """The text before the problem: identical for every problem (the trainer computes it once per batch)."""
    return f"<|im_start|>system\n{MATH_SYSTEM_PROMPT}<|im_end|>\n<|im_start|>user\n"


def prompt(problem: str, steps: list[str] | tuple[str, ...] = ()) -> str:
    """The open assistant turn continuing the accepted steps (qwen25.render with an open assistant turn)."""
    head = f"{prompt_prefix()}{problem}<|im_end|>\n<|im_start|>assistant\n"
    return head + (STEP_DELIMITER.join(steps) + STEP_DELIMITER if steps else "")


def full_solution(problem: str, steps: list[str]) -> tuple[str, str]:
    """(prompt, completion): the completion is the whole assistant turn, closed by <|im_end|>."""
    return prompt(problem), STEP_DELIMITER.join(steps) + "<|im_end|>"
