# The PyTorch eager reference for `npm run bench -- --torch`: the same full fine-tune step (random weights, AdamW,
# cross-entropy over next tokens) on the shape of a Hugging Face config.json, GPT-2 or the Llama family. transformers
# is not installed here (Debian's python3-torch only), so both forwards are written out in plain torch, fp32.
# Prints one JSON line: {"tokensPerSec", "stepSeconds", "threads", "params", "loss", "torch", "openblasCoretype"}.
# BLAS: Debian's torch calls the system libblas.so.3; with the reference BLAS (what apt picks for python3-torch) a
# 512x768x3072 Gemm ran at 17 GFLOP/s here, so install libopenblas0-pthread. OpenBLAS 0.3.21 reads this VM's CPU
# as a Prescott (29 GFLOP/s); unless OPENBLAS_CORETYPE is set, it is named from the CPU's flags before torch loads
# the library (SkylakeX: 126 GFLOP/s, the CPU EP's Gemm 155-178).
import argparse
import json
import math
import os
import time


def coretype():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split() for line in f if line.startswith("flags")), [])
    except OSError:
        return None
    return "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None


if "OPENBLAS_CORETYPE" not in os.environ and coretype():
    os.environ["OPENBLAS_CORETYPE"] = coretype()

import torch  # noqa: E402 (after OPENBLAS_CORETYPE)
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402


def attention(q, k, v):
    # q (B, H, T, D), k and v (B, Hkv, T, D): grouped heads share their KV head, causal
    if k.shape[1] != q.shape[1]:
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    T = q.shape[2]
    s = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    return s.softmax(-1) @ v


class Gpt2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, self.H = c["n_embd"], c["n_head"]
        self.ln1, self.ln2 = nn.LayerNorm(C, eps=c["layer_norm_epsilon"]), nn.LayerNorm(C, eps=c["layer_norm_epsilon"])
        self.attn, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        F_ = c.get("n_inner") or 4 * C
        self.fc, self.fc_proj = nn.Linear(C, F_), nn.Linear(F_, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.H, -1).transpose(1, 2) for t in self.attn(self.ln1(x)).split(C, dim=-1))
        x = x + self.proj(attention(q, k, v).transpose(1, 2).reshape(B, T, C))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class RmsNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(n)), eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rotate(x, cos, sin):
    a, b = x.chunk(2, dim=-1)
    return x * cos + torch.cat([-b, a], dim=-1) * sin


class LlamaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, D, eps = c["hidden_size"], c["head_dim"], c["rms_norm_eps"]
        self.H, self.Hkv, self.D = c["num_attention_heads"], c["num_key_value_heads"], D
        bias = c.get("attention_bias", False) or c["model_type"] == "qwen2"
        self.q = nn.Linear(C, self.H * D, bias=bias)
        self.k, self.v = nn.Linear(C, self.Hkv * D, bias=bias), nn.Linear(C, self.Hkv * D, bias=bias)
        self.o = nn.Linear(self.H * D, C, bias=c.get("attention_bias", False))
        self.qk_norm = c["model_type"] == "qwen3"  # Qwen3's per-head norms on q and k before RoPE
        if self.qk_norm:
            self.qn, self.kn = RmsNorm(D, eps), RmsNorm(D, eps)
        self.n1, self.n2 = RmsNorm(C, eps), RmsNorm(C, eps)
        Fi = c["intermediate_size"]
        self.gate, self.up = nn.Linear(C, Fi, bias=False), nn.Linear(C, Fi, bias=False)
        self.down = nn.Linear(Fi, C, bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k(h).view(B, T, self.Hkv, self.D).transpose(1, 2)
        v = self.v(h).view(B, T, self.Hkv, self.D).transpose(1, 2)
        if self.qk_norm:
            q, k = self.qn(q), self.kn(k)
        x = x + self.o(attention(rotate(q, cos, sin), rotate(k, cos, sin), v).transpose(1, 2).reshape(B, T, -1))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.llama = c["model_type"] != "gpt2"
        C = c["hidden_size"] if self.llama else c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], C)
        n = c["num_hidden_layers"] if self.llama else c["n_layer"]
        self.blocks = nn.ModuleList([(LlamaBlock if self.llama else Gpt2Block)(c) for _ in range(n)])
        if self.llama:
            self.norm = RmsNorm(C, c["rms_norm_eps"])
            D = c["head_dim"]
            self.inv_freq = 1.0 / c["rope_theta"] ** (torch.arange(0, D, 2).float() / D)
        else:
            self.wpe, self.norm = nn.Embedding(c["n_positions"], C), nn.LayerNorm(C, eps=c["layer_norm_epsilon"])
        tied = c.get("tie_word_embeddings", True)
        self.head = None if tied else nn.Linear(C, c["vocab_size"], bias=False)
        for name, w in self.named_parameters():  # as transformers initializes them: N(0, 0.02), zero biases
            if w.dim() == 2:
                nn.init.normal_(w, std=0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(w)

    def forward(self, ids):
        T = ids.shape[1]
        x = self.wte(ids)
        if self.llama:
            f = torch.arange(T).float()[:, None] * self.inv_freq[None, :]
            cos, sin = torch.cat([f, f], -1).cos(), torch.cat([f, f], -1).sin()
            for b in self.blocks:
                x = b(x, cos, sin)
        else:
            x = x + self.wpe(torch.arange(T))
            for b in self.blocks:
                x = b(x)
        return self.norm(x) @ (self.head.weight if self.head is not None else self.wte.weight).t()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("config", help="a Hugging Face config.json, as a JSON string")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    c = json.loads(a.config)
    torch.manual_seed(1)
    model = Model(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    ids = torch.randint(0, c["vocab_size"], (a.batch, a.seq + 1))
    times = []
    for i in range(a.steps + 1):  # the first step warms up the allocator and the kernels
        t0 = time.perf_counter()
        logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - t0)
    sec = sum(times) / len(times)
    out = {"tokensPerSec": a.batch * a.seq / sec, "stepSeconds": sec, "threads": torch.get_num_threads()}
    out["params"] = sum(p.numel() for p in model.parameters())  # the bench checks the shape by it
    blas = os.environ.get("OPENBLAS_CORETYPE")
    print(json.dumps({**out, "loss": loss.item(), "torch": torch.__version__, "openblasCoretype": blas}))


if __name__ == "__main__":
    main()
