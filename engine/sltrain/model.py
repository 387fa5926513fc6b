"""LLaMA-family decoders (Touvron et al. 2023): llama (Llama 1-3.x), mistral, qwen2 and qwen3, each
numerically interchangeable with transformers' own class for it (families.json lists the switches:
q/k/v and o biases, MLP biases, q/k RMSNorm, head_dim, sliding-window layers; RoPE scaling in rope.py).

Parameter names match Hugging Face so a dense state dict loads there directly. B = batch,
T = sequence length, C = hidden size, F = intermediate size, H / Hkv = query / key-value heads, D = head dim, V = vocab.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from .config import LlamaConfig
from .remat import release
from .rope import apply_rotary, rotary_cos_sin


def _at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)  # fp64 stays fp64 (gradcheck), halves go to fp32


class RMSNormFunction(torch.autograd.Function):
    """weight · (x / rms(x)), normalised in fp32 (fp64 for fp64 x) and cast back before the gain, as HF does.

    Saves only x (its own dtype) and rstd (fp32, one per row) and recomputes the normalised tensor
    in backward; autograd through the plain expression would keep an fp32 copy of x, the normalised
    tensor and rstd.
    """

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor, eps: float) -> Tensor:
        x32 = x.to(_at_least_fp32(x.dtype))
        rstd = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)  # (..., 1) fp32
        ctx.save_for_backward(x, weight, rstd)
        return weight * (x32 * rstd).to(x.dtype)

    @staticmethod
    def backward(ctx, gy: Tensor):
        x, weight, rstd = ctx.saved_tensors
        n32 = x.to(rstd.dtype) * rstd  # (..., C) fp32, recomputed
        n = n32.to(x.dtype)
        gw = None
        if ctx.needs_input_grad[1]:
            gw = (gy * n).reshape(-1, n.shape[-1]).sum(0).to(weight.dtype)  # (C,)
        gx = None
        if ctx.needs_input_grad[0]:
            gn32 = (gy * weight).to(x.dtype).to(rstd.dtype)  # through the cast back, as autograd would
            # d(x·rstd)/dx applied to gn: rstd · (gn - n · mean(gn · n))
            gx = (rstd * (gn32 - n32 * (gn32 * n32).mean(-1, keepdim=True))).to(x.dtype)
        return gx, gw, None


class CausalLMLoss(torch.autograd.Function):
    """HF's shifted mean cross-entropy (token t predicts labels[t+1], -100 ignored), in fp32.

    Works on a few sequences at a time and saves only the logits (their own dtype, which the
    caller holds anyway) and the fp32 log-sum-exp per token; backward recomputes the softmax chunk
    by chunk. The plain expression keeps an fp32 copy of the (B, T-1, V) logits plus their
    log-softmax alive, and saves the log-softmax for backward.
    """

    CHUNK_BYTES = 64 * 2**20  # fp32 working set per chunk

    @staticmethod
    def forward(ctx, logits: Tensor, labels: Tensor) -> Tensor:
        B, T, V = logits.shape
        target = labels[:, 1:]  # (B, T-1)
        valid = target != -100
        count = valid.sum()
        acc = _at_least_fp32(logits.dtype)  # fp32 (fp64 for fp64 logits)
        step = max(1, CausalLMLoss.CHUNK_BYTES // max(1, T * V * 4))
        lse = torch.empty(B, T - 1, device=logits.device, dtype=acc)
        total = torch.zeros((), device=logits.device, dtype=acc)
        for b in range(0, B, step):
            z = logits[b:b + step, :-1].to(acc)  # (b, T-1, V)
            lse[b:b + step] = torch.logsumexp(z, dim=-1)
            picked = z.gather(-1, target[b:b + step].clamp(min=0).unsqueeze(-1)).squeeze(-1)
            total += ((lse[b:b + step] - picked) * valid[b:b + step]).sum()
        ctx.save_for_backward(logits, labels, lse, count)
        ctx.step = step
        return total / count

    @staticmethod
    def backward(ctx, g: Tensor):
        logits, labels, lse, count = ctx.saved_tensors
        target = labels[:, 1:]
        scale = g / count
        grad = torch.zeros_like(logits)  # (B, T, V); the last position predicts nothing
        for b in range(0, logits.shape[0], ctx.step):
            t = target[b:b + ctx.step]
            p = torch.exp(logits[b:b + ctx.step, :-1].to(lse.dtype) - lse[b:b + ctx.step].unsqueeze(-1))  # softmax
            p.scatter_add_(-1, t.clamp(min=0).unsqueeze(-1), torch.full_like(p[..., :1], -1.0))
            p *= ((t != -100) * scale).unsqueeze(-1)
            grad[b:b + ctx.step, :-1] = p.to(grad.dtype)
        return grad, None


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, device=None, dtype=None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim, device=device, dtype=dtype))

    def forward(self, x: Tensor) -> Tensor:
        return RMSNormFunction.apply(x, self.weight, self.eps)


def sliding_mask(T: int, window: int, device) -> Tensor | None:
    """(T, T) bool, True where position i may attend j: i - window < j <= i; None when the window
    covers the whole sequence (plain causal attention, the kernels' fast path)."""
    if window >= T:
        return None
    i = torch.arange(T, device=device)
    d = i[:, None] - i[None, :]  # (T, T) query minus key position
    return (d >= 0) & (d < window)


def project(mod: nn.Module, x: Tensor) -> Tensor:
    """A block linear with its bias: nn.Linear adds its own; a factored layer carries a dense `bias`
    parameter (methods.convert keeps it) that is added here, in the output's dtype as nn.Linear
    under autocast does (an fp32 bias would promote the bf16 output, and all it feeds, to fp32)."""
    y = mod(x)
    b = getattr(mod, "bias", None)
    return y if b is None or isinstance(mod, nn.Linear) else y + b.to(y.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        C, H, Hkv, D = cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.n_heads, self.n_kv_heads, self.head_dim = H, Hkv, D
        self.q_proj = nn.Linear(C, H * D, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(C, Hkv * D, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(C, Hkv * D, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(H * D, C, bias=cfg.o_bias)
        if cfg.qk_norm:  # qwen3: RMSNorm over each head's D features of q and k, before rotary
            self.q_norm = RMSNorm(D, cfg.rms_norm_eps)
            self.k_norm = RMSNorm(D, cfg.rms_norm_eps)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, recompute_x: Callable[[], Tensor] | None = None,
                mask: Tensor | None = None) -> Tensor:
        B, T, _ = x.shape
        q, k, v = project(self.q_proj, x), project(self.k_proj, x), project(self.v_proj, x)  # (B, T, H·D), (B, T, Hkv·D) x2
        if recompute_x is not None:
            release(x, recompute_x, (q, k, v))
        q = q.view(B, T, self.n_heads, self.head_dim)  # (B, T, H, D)
        k = k.view(B, T, self.n_kv_heads, self.head_dim)  # (B, T, Hkv, D)
        if hasattr(self, "q_norm"):
            q, k = self.q_norm(q), self.k_norm(k)
        q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B, H, T, D), (B, Hkv, T, D)
        v = v.view(B, T, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, Hkv, T, D)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self.n_kv_heads != self.n_heads:
            # GQA: each kv head serves n_rep consecutive query heads (HF's repeat_kv order).
            n_rep = self.n_heads // self.n_kv_heads
            k = k[:, :, None].expand(B, self.n_kv_heads, n_rep, T, self.head_dim).reshape(B, self.n_heads, T, -1)
            v = v[:, :, None].expand(B, self.n_kv_heads, n_rep, T, self.head_dim).reshape(B, self.n_heads, T, -1)
        if mask is None:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, H, T, D)
        else:  # a sliding window: the (T, T) mask holds causality too
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return project(self.o_proj, y.transpose(1, 2).reshape(B, T, -1))  # (B, T, C)


class SwiGLUFunction(torch.autograd.Function):
    """silu(gate) · up, saving gate and up only and recomputing silu(gate) in backward.

    Autograd through the plain expression also keeps silu(gate) for the product's backward: one
    more (B, T, F) tensor per layer, the widest activation of the block. Backward uses the same
    kernels autograd would (silu_backward, two products), so gradients are bitwise equal.
    """

    @staticmethod
    def forward(ctx, gate: Tensor, up: Tensor) -> Tensor:
        ctx.save_for_backward(gate, up)
        return F.silu(gate) * up

    @staticmethod
    def backward(ctx, gy: Tensor):
        gate, up = ctx.saved_tensors
        g_gate = torch.ops.aten.silu_backward(gy * up, gate) if ctx.needs_input_grad[0] else None
        g_up = gy * F.silu(gate) if ctx.needs_input_grad[1] else None
        return g_gate, g_up


class MLP(nn.Module):
    """SwiGLU: down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        C, F_ = cfg.hidden_size, cfg.intermediate_size
        self.gate_proj = nn.Linear(C, F_, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(C, F_, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(F_, C, bias=cfg.mlp_bias)

    def forward(self, x: Tensor, recompute_x: Callable[[], Tensor] | None = None) -> Tensor:
        gate, up = project(self.gate_proj, x), project(self.up_proj, x)  # (B, T, F)
        if recompute_x is not None:
            release(x, recompute_x, (gate, up))
        y = SwiGLUFunction.apply(gate, up)  # (B, T, F)
        out = project(self.down_proj, y)  # (B, T, C)
        if recompute_x is not None:  # the same switch: only outside gradient checkpointing
            release(y, lambda: F.silu(gate) * up, (out,))
        return out


class DecoderLayer(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, remat: bool = True, mask: Tensor | None = None) -> Tensor:
        """remat: release the norms' outputs and the SwiGLU product after use (sltrain.remat);
        mask: this layer's sliding-window mask (None: causal)."""
        n1, n2 = self.input_layernorm, self.post_attention_layernorm
        x = x + self.self_attn(n1(x), cos, sin, (lambda x=x: n1(x)) if remat else None, mask)
        return x + self.mlp(n2(x), (lambda x=x: n2(x)) if remat else None)


class LlamaModel(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        # No padding_idx: HF would freeze token pad_token_id (-1 = the last id) at zero; padding is
        # handled by labels = -100 instead.
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class LlamaForCausalLM(nn.Module):
    """forward(input_ids, labels=None) -> (logits, loss); loss is HF's shifted mean cross-entropy."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.config = cfg
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.gradient_checkpointing = False  # recompute each decoder layer in backward
        self.rematerialize = True  # release cheap linear inputs after forward (sltrain.remat)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """HF's init: dense linears and embeddings ~ N(0, initializer_range), norms 1.

        Factored layers initialise themselves; meta tensors are skipped.
        """
        std = self.config.initializer_range
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)) and m.weight.device.type != "meta":
                m.weight.normal_(0.0, std)
            elif isinstance(m, RMSNorm) and m.weight.device.type != "meta":
                m.weight.fill_(1.0)
            bias = getattr(m, "bias", None)  # dense and factored block linears alike: zero, as HF's init
            if isinstance(bias, nn.Parameter) and bias.device.type != "meta":
                bias.zero_()

    def forward(self, input_ids: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        B, T = input_ids.shape
        x = self.model.embed_tokens(input_ids)  # (B, T, C)
        cos, sin = rotary_cos_sin(self.config, T, x.device, x.dtype)  # (T, D)
        cfg = self.config
        mask = sliding_mask(T, cfg.sliding_window, x.device) if cfg.sliding_window else None  # one for all layers
        for i, layer in enumerate(self.model.layers):
            m = mask if i in cfg.sliding_layers else None
            if self.gradient_checkpointing and torch.is_grad_enabled():
                x = checkpoint(layer, x, cos, sin, False, m, use_reentrant=False)
            else:
                x = layer(x, cos, sin, self.rematerialize, m)
        h = self.model.norm(x)  # (B, T, C)
        logits = self.lm_head(h)  # (B, T, V)
        if self.rematerialize:
            release(h, lambda: self.model.norm(x), (logits,))
        loss = None
        if labels is not None:
            loss = CausalLMLoss.apply(logits, labels)  # token t predicts t+1, fp32 mean like HF
        return logits, loss
