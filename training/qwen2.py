"""A tiny Qwen2 decoder in plain torch that computes exactly what Hugging Face's Qwen2ForCausalLM
computes (RMSNorm in fp32 with eps, rotary embeddings with rope_theta and the rotate_half convention,
grouped-query attention, q/k/v biases and no o_proj bias, SwiGLU MLP, tied or untied embeddings), with
the same tensor names, so its weights load unchanged wherever a qwen2 checkpoint loads."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
import torch.nn.functional as F


@dataclass
class Qwen2Config:
    vocab_size: int = 260
    hidden_size: int = 48
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def hf_dict(self, bos: int, eos: int) -> dict:
        d = asdict(self)
        d.update(
            architectures=["Qwen2ForCausalLM"],
            model_type="qwen2",
            hidden_act="silu",
            attention_dropout=0.0,
            initializer_range=0.02,
            use_cache=True,
            use_sliding_window=False,
            sliding_window=None,
            max_window_layers=self.num_hidden_layers,
            torch_dtype="float32",
            bos_token_id=bos,
            eos_token_id=eos,
        )
        return d


class RMSNorm(nn.Module):
    def __init__(self, n: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Rotary(nn.Module):
    def __init__(self, dim: int, theta: float):
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), persistent=False)

    def forward(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # positions [B, T] -> cos, sin [B, 1, T, D]
        freqs = positions.float()[..., None] * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[:, None], emb.sin()[:, None]


class Attention(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.h, self.kv, self.d = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, self.h * self.d, bias=True)
        self.k_proj = nn.Linear(c.hidden_size, self.kv * self.d, bias=True)
        self.v_proj = nn.Linear(c.hidden_size, self.kv * self.d, bias=True)
        self.o_proj = nn.Linear(self.h * self.d, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, past, key_mask):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.h, self.d).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.kv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.kv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            pk, pv = past
            if pk.shape[0] != B:  # a shared prefix computed once for the whole batch
                pk, pv = pk.expand(B, -1, -1, -1), pv.expand(B, -1, -1, -1)
            k, v = torch.cat((pk, k), 2), torch.cat((pv, v), 2)
        present = (k, v)
        rep, S = self.h // self.kv, k.shape[2]
        # Grouped-query attention without copying K/V: query head h reads KV head h // rep, so the rep
        # query heads of a group are stacked along the time axis and share one matmul.
        q = q.reshape(B, self.kv, rep * T, self.d) * (1.0 / math.sqrt(self.d))
        scores = (q @ k.transpose(-1, -2)).view(B, self.kv, rep, T, S)
        # Query i (at key position S-T+i) sees keys 0..S-T+i that are not padding.
        allowed = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)
        if key_mask is not None:
            allowed = allowed & key_mask[:, None, None, None, :]
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        out = (F.softmax(scores, dim=-1).view(B, self.kv, rep * T, S) @ v).view(B, self.h, T, self.d)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, self.h * self.d)), present


class MLP(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = MLP(c)

    def forward(self, x, cos, sin, past, key_mask):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, past, key_mask)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), present


class Backbone(nn.Module):
    def __init__(self, c: Qwen2Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.num_hidden_layers))
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.rotary = Rotary(c.head_dim, c.rope_theta)


class Qwen2(nn.Module):
    """Qwen2ForCausalLM; with `value_head`, also trl's AutoModelForCausalLMWithValueHead head."""

    def __init__(self, c: Qwen2Config, value_head: bool = False):
        super().__init__()
        self.config = c
        self.model = Backbone(c)
        if not c.tie_word_embeddings:
            self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        self.v_head = nn.ModuleDict({"summary": nn.Linear(c.hidden_size, 1)}) if value_head else None
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def hidden(self, ids, positions=None, past=None, key_mask=None):
        """Final normed hidden states [B, T, H] and the per-layer (key, value) cache."""
        B, T = ids.shape
        if positions is None:
            start = 0 if past is None else past[0][0].shape[2]
            positions = torch.arange(start, start + T, device=ids.device)[None].expand(B, T)
        cos, sin = self.model.rotary(positions)
        x = self.model.embed_tokens(ids)
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, p = layer(x, cos, sin, None if past is None else past[i], key_mask)
            presents.append(p)
        return self.model.norm(x), presents

    def logits(self, h):
        w = self.model.embed_tokens.weight if self.config.tie_word_embeddings else self.lm_head.weight
        return h @ w.t()

    def values(self, h):
        """The value head's raw output per position (the scorer applies the sigmoid)."""
        return self.v_head["summary"](h).squeeze(-1)

    def hf_state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors under the names Hugging Face (and trl, for the value head) use."""
        return {k: v.detach().contiguous() for k, v in self.state_dict().items() if not k.startswith("model.rotary")}


def n_params(m: Qwen2) -> int:
    return sum(t.numel() for t in m.hf_state_dict().values())
