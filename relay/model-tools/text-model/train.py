"""Trains the shipped text-generation model and exports it to ONNX (train.sh
then exports that file to GGUF for llama.cpp with export-gguf.ts).

A byte-level Llama-style decoder (RMSNorm, rotary position embeddings,
grouped-query attention, SwiGLU, tied input/output embedding) trained on the
King James Bible from Debian's bible-kjv-text package (its copyright file
says the text is free of copyright). Run it through
relay/model-tools/text-model/train.sh, which installs the Debian packages
(python3-torch, OpenBLAS, the corpus) and extracts the corpus first:

    npm run train-text-model -- [--steps N] [--seed N]

Each verse is written "<bos>Genesis 1:1 In the beginning ...<eos>" and the
verses are packed into one stream that training reads in random windows, so
the model learns to continue a reference or the start of a verse and to stop
at the verse's end. Tokens 0-255 are bytes, 256 is <bos>, 257 is <eos>.
Every 50th verse is held out for validation.

The ONNX file uses the input and output names of the onnx-community exports
(input_ids, attention_mask, position_ids, past_key_values.N.key|value ->
logits, present.N.key|value), so one generation loop runs this model and real
exports alike. The seed fixes the initialisation and the batches; float
reductions on several threads may still differ in their last bits.
"""

import argparse
import json
import math
import os
import random
import re
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BOS, EOS, VOCAB = 256, 257, 258


class Config:
    def __init__(self, **kw):
        self.width = kw.get("width", 192)
        self.layers = kw.get("layers", 4)
        self.heads = kw.get("heads", 6)
        self.kv_heads = kw.get("kv_heads", 2)
        self.hidden = kw.get("hidden", 512)
        self.context = kw.get("context", 256)
        self.rope_theta = kw.get("rope_theta", 10000.0)
        self.eps = 1e-5

    @property
    def head_dim(self):
        return self.width // self.heads


class RMSNorm(nn.Module):
    def __init__(self, width, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        hd = cfg.head_dim
        self.q = nn.Linear(cfg.width, cfg.heads * hd, bias=False)
        self.k = nn.Linear(cfg.width, cfg.kv_heads * hd, bias=False)
        self.v = nn.Linear(cfg.width, cfg.kv_heads * hd, bias=False)
        self.o = nn.Linear(cfg.heads * hd, cfg.width, bias=False)

    def forward(self, x, cos, sin, mask, past_k, past_v):
        cfg = self.cfg
        b, s, _ = x.shape
        hd = cfg.head_dim
        q = self.q(x).view(b, s, cfg.heads, hd).transpose(1, 2)
        k = self.k(x).view(b, s, cfg.kv_heads, hd).transpose(1, 2)
        v = self.v(x).view(b, s, cfg.kv_heads, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past_k is not None:
            k = torch.cat((past_k, k), dim=2)
            v = torch.cat((past_v, v), dim=2)
        present_k, present_v = k, v
        rep = cfg.heads // cfg.kv_heads
        t = k.shape[2]
        k = k[:, :, None].expand(b, cfg.kv_heads, rep, t, hd).reshape(b, cfg.heads, t, hd)
        v = v[:, :, None].expand(b, cfg.kv_heads, rep, t, hd).reshape(b, cfg.heads, t, hd)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(hd) + mask
        out = torch.matmul(torch.softmax(scores, dim=-1), v)
        out = out.transpose(1, 2).reshape(b, s, cfg.heads * hd)
        return self.o(out), present_k, present_v


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.width, cfg.eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.width, cfg.eps)
        self.gate = nn.Linear(cfg.width, cfg.hidden, bias=False)
        self.up = nn.Linear(cfg.width, cfg.hidden, bias=False)
        self.down = nn.Linear(cfg.hidden, cfg.width, bias=False)

    def forward(self, x, cos, sin, mask, past_k, past_v):
        a, pk, pv = self.attn(self.attn_norm(x), cos, sin, mask, past_k, past_v)
        x = x + a
        h = self.mlp_norm(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x, pk, pv


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(VOCAB, cfg.width)
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.layers)])
        self.norm = RMSNorm(cfg.width, cfg.eps)
        inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.float32) / cfg.head_dim))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, input_ids, attention_mask, position_ids, past=None):
        """input_ids, position_ids: [b, s]; attention_mask: [b, past + s]; past: [(k, v)] per layer."""
        cfg = self.cfg
        x = self.embed(input_ids)
        # Cast, then unsqueeze: the other order exports as int64 Unsqueeze -> Cast, which
        # onnxruntime-web's WebGPU backend computes wrongly next to RMSNorm (onnxruntime
        # issue 32134; see webgpu-safe-onnx.ts). Same numbers either way.
        freqs = position_ids.float()[:, :, None] * self.inv_freq[None, None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        s = input_ids.shape[1]
        total = attention_mask.shape[1]
        past_len = total - s
        q_pos = torch.arange(s, device=input_ids.device) + past_len
        k_pos = torch.arange(total, device=input_ids.device)
        allowed = (k_pos[None, :] <= q_pos[:, None])[None, None] & (attention_mask[:, None, None, :] > 0)
        mask = torch.where(allowed, torch.zeros((), dtype=x.dtype), torch.full((), -1e9, dtype=x.dtype))
        presents = []
        for i, block in enumerate(self.blocks):
            pk, pv = (past[i] if past is not None else (None, None))
            x, nk, nv = block(x, cos, sin, mask, pk, pv)
            presents.append((nk, nv))
        logits = torch.matmul(self.norm(x), self.embed.weight.t())
        return logits, presents


def read_verses(path):
    """Verses as "Book C:V text" from `bible 'Gen1:1-Rev22:21'` output (chapter headings, wrapped lines)."""
    verses, book, chapter, current = [], None, None, None
    heading = re.compile(r"^(\S.*?) (\d+)$")
    verse = re.compile(r"^\s+(\d+) (.*)$")
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            m = heading.match(line)
            if m and not line.startswith(" "):
                if current:
                    verses.append(current)
                    current = None
                book, chapter = m.group(1), m.group(2)
                continue
            m = verse.match(line)
            if m:
                if current:
                    verses.append(current)
                current = f"{book} {chapter}:{m.group(1)} {m.group(2).strip()}"
            elif current:
                current += " " + line.strip()
    if current:
        verses.append(current)
    return verses


def encode(text):
    return [BOS] + list(text.encode("utf-8")) + [EOS]


def windows(stream, batch, context, rng):
    """Random windows of `context + 1` tokens from the packed verse stream (no padding: every token trains)."""
    data = torch.tensor(stream, dtype=torch.long)
    while True:
        starts = [rng.randrange(len(stream) - context - 1) for _ in range(batch)]
        ids = torch.stack([data[s : s + context + 1] for s in starts])
        yield ids, torch.ones_like(ids, dtype=torch.bool)


def loss_of(model, ids, keep):
    inputs, targets = ids[:, :-1], ids[:, 1:]
    mask = keep[:, :-1].long()
    positions = torch.arange(inputs.shape[1])[None].expand_as(inputs)
    logits, _ = model(inputs, mask, positions)
    losses = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), reduction="none")
    weights = keep[:, 1:].reshape(-1).float()
    return (losses * weights).sum() / weights.sum(), weights.sum()


@torch.no_grad()
def validation_bits(model, examples, context):
    model.eval()
    total, count = 0.0, 0.0
    for start in range(0, len(examples), 64):
        chunk = [e[:context + 1] for e in examples[start:start + 64]]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), EOS, dtype=torch.long)
        keep = torch.zeros((len(chunk), width), dtype=torch.bool)
        for i, p in enumerate(chunk):
            ids[i, : len(p)] = torch.tensor(p)
            keep[i, : len(p)] = True
        loss, n = loss_of(model, ids, keep)
        total += loss.item() * n.item()
        count += n.item()
    model.train()
    return total / count / math.log(2)


@torch.no_grad()
def greedy(model, prompt, max_new):
    """Greedy continuation with the KV cache, as the generation loop does it."""
    model.eval()
    ids = [BOS] + list(prompt.encode("utf-8"))
    x = torch.tensor([ids])
    logits, past = model(x, torch.ones_like(x), torch.arange(len(ids))[None])
    out = []
    for _ in range(max_new):
        nxt = int(logits[0, -1].argmax())
        out.append(nxt)
        if nxt == EOS:
            break
        total = len(ids) + len(out)
        logits, past = model(torch.tensor([[nxt]]), torch.ones((1, total), dtype=torch.long), torch.tensor([[total - 1]]), past)
    model.train()
    return out


def text_of(tokens):
    return bytes(t for t in tokens if t < 256).decode("utf-8", errors="replace")


class Exported(nn.Module):
    """The ONNX signature: flat past/present tensors in onnx-community order."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(self.model.cfg.layers)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past)
        flat = []
        for k, v in presents:
            flat += [k, v]
        return (logits, *flat)


def export_onnx(model, path):
    cfg = model.cfg
    model.eval()
    b, s, p = 1, 3, 2
    inputs = [
        torch.zeros((b, s), dtype=torch.long),
        torch.ones((b, p + s), dtype=torch.long),
        torch.arange(p, p + s)[None],
    ]
    names_in = ["input_ids", "attention_mask", "position_ids"]
    names_out = ["logits"]
    axes = {
        "input_ids": {0: "batch_size", 1: "sequence_length"},
        "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
        "position_ids": {0: "batch_size", 1: "sequence_length"},
        "logits": {0: "batch_size", 1: "sequence_length"},
    }
    for i in range(cfg.layers):
        for kind in ("key", "value"):
            inputs.append(torch.zeros((b, cfg.kv_heads, p, cfg.head_dim)))
            names_in.append(f"past_key_values.{i}.{kind}")
            names_out.append(f"present.{i}.{kind}")
            axes[f"past_key_values.{i}.{kind}"] = {0: "batch_size", 2: "past_sequence_length"}
            axes[f"present.{i}.{kind}"] = {0: "batch_size", 2: "total_sequence_length"}
    torch.onnx.export(
        Exported(model),
        tuple(inputs),
        path,
        input_names=names_in,
        output_names=names_out,
        dynamic_axes=axes,
        opset_version=17,
        do_constant_folding=True,
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=20261207)
    # torch's own threads; the matrix products run on OpenBLAS's (OPENBLAS_NUM_THREADS, set by train.sh).
    # One torch thread over two BLAS threads trained 1.8x faster here than the other way round.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--name", default="kjv-byte-lm")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    cfg = Config()
    verses = read_verses(args.corpus)
    train = [encode(v) for i, v in enumerate(verses) if i % 50 != 0]
    valid = [encode(v) for i, v in enumerate(verses) if i % 50 == 0]
    model = Decoder(cfg)
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(verses)} verses ({len(train)} train, {len(valid)} validation), {params} parameters", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    warmup = max(1, args.steps // 30)
    schedule = lambda step: min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step, args.steps) / args.steps)))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)

    started = time.time()
    packed = [t for e in train for t in e]
    stream = windows(packed, args.batch, cfg.context, rng)
    for step in range(args.steps):
        ids, keep = next(stream)
        loss, _ = loss_of(model, ids, keep)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item() / math.log(2):.3f} bits/byte {time.time() - started:.0f}s", flush=True)
    train_seconds = time.time() - started
    bits = validation_bits(model, valid, cfg.context)
    print(f"validation {bits:.4f} bits/byte", flush=True)

    prompts = ["Genesis 1:1 ", "John 3:16 ", "Psalms 23:1 ", "And the LORD said unto Moses,", "Blessed are the"]
    samples = []
    for prompt in prompts:
        tokens = greedy(model, prompt, 120)
        samples.append({"prompt": prompt, "greedyTokens": tokens, "text": text_of(tokens)})
        print(f"  {prompt!r} -> {text_of(tokens)!r}", flush=True)

    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, f"{args.name}.onnx")
    export_onnx(model, onnx_path)
    report = {
        "name": args.name,
        "architecture": "byte-level Llama-style decoder: RMSNorm, RoPE, grouped-query attention, SwiGLU, tied embedding",
        "config": {
            "vocab": VOCAB,
            "bos": BOS,
            "eos": EOS,
            "width": cfg.width,
            "layers": cfg.layers,
            "heads": cfg.heads,
            "kvHeads": cfg.kv_heads,
            "headDim": cfg.head_dim,
            "hidden": cfg.hidden,
            "context": cfg.context,
            "ropeTheta": cfg.rope_theta,
        },
        "parameters": params,
        "corpus": "King James Bible, Debian bible-kjv-text (public domain), each verse as '<bos>Book C:V text<eos>', packed",
        "verses": {"train": len(train), "validation": len(valid)},
        "seed": args.seed,
        "steps": args.steps,
        "batch": args.batch,
        "learningRate": args.lr,
        "threads": args.threads,
        "blasThreads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")),
        "trainSeconds": round(train_seconds, 1),
        "validationBitsPerByte": round(bits, 4),
        "torch": torch.__version__,
        "onnxOpset": 17,
        "samples": samples,
    }
    with open(os.path.join(args.out, f"{args.name}.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
