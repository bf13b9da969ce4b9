"""Transformer encoders: BERT-base and ViT-B/16.

- BERT: J. Devlin, M.-W. Chang, K. Lee, K. Toutanova, "BERT: Pre-training of
  Deep Bidirectional Transformers for Language Understanding", NAACL 2019
  (arXiv:1810.04805), Section 3: BERT-base has L=12 layers, H=768, A=12
  heads, FFN 4H = 3072.
- ViT: A. Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers
  for Image Recognition at Scale", ICLR 2021 (arXiv:2010.11929), Table 1:
  ViT-Base has 12 layers, hidden 768, MLP 3072, 12 heads; patches of 16x16.

One encoder layer is eight MAC layers (softmax, layer norm, GELU and residual
additions have no MACs and are left out), over ``tokens`` tokens per sequence:

- ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``: ``gemm(M=batch*tokens, N=hidden, K=hidden)``
- ``scores`` (Q K^T): ``matmul(B=batch*heads, M=tokens, N=tokens, K=hidden/heads)``
- ``context`` (softmax(scores) V): ``matmul(B=batch*heads, M=tokens, N=hidden/heads, K=tokens)``
- ``ffn_up``: ``gemm(M=batch*tokens, N=ffn, K=hidden)``; ``ffn_down``: ``gemm(M=batch*tokens, N=hidden, K=ffn)``

Layers are named ``enc.<i>.<part>``; `Workload.from_layers` merges identical
shapes, so a whole encoder stack becomes a handful of layers with counts.
"""
from __future__ import annotations

from codesign.workload import Layer, Network, WorkloadError, conv2d, gemm, matmul
from codesign.workload.zoo._args import positive_int

__all__ = ["bert_base", "vit_b16"]

_HIDDEN = 768
_HEADS = 12
_FFN = 3072
_PATCH = 16


def _encoder_layer(name: str, batch: int, tokens: int, hidden: int, heads: int, ffn: int) -> list[Layer]:
    """The eight MAC layers of one encoder layer, named ``<name>.<part>``."""
    rows = batch * tokens
    head_dim = hidden // heads
    return [
        gemm(rows, hidden, hidden, name=f"{name}.q_proj"),
        gemm(rows, hidden, hidden, name=f"{name}.k_proj"),
        gemm(rows, hidden, hidden, name=f"{name}.v_proj"),
        matmul(batch * heads, tokens, tokens, head_dim, name=f"{name}.scores"),
        matmul(batch * heads, tokens, head_dim, tokens, name=f"{name}.context"),
        gemm(rows, hidden, hidden, name=f"{name}.out_proj"),
        gemm(rows, ffn, hidden, name=f"{name}.ffn_up"),
        gemm(rows, hidden, ffn, name=f"{name}.ffn_down"),
    ]


def bert_base(seq_len: int = 128, batch: int = 1, layers: int = 12) -> Workload:
    """The ``layers`` encoder layers of BERT-base on ``batch`` sequences of ``seq_len`` tokens.

    Embeddings, pooler and task heads are not included (about 11.2 GMAC at
    seq_len 128, batch 1, 12 layers).
    """
    positive_int("seq_len", seq_len)
    positive_int("batch", batch)
    positive_int("layers", layers)
    stack: list[Layer] = []
    for i in range(layers):
        stack.extend(_encoder_layer(f"enc.{i}", batch, seq_len, _HIDDEN, _HEADS, _FFN))
    return Network.chain("bert_base", stack)


def vit_b16(batch: int = 1, image: int = 224) -> Workload:
    """ViT-B/16 classifying ``batch`` RGB images of ``image`` x ``image`` (about 17.6 GMAC at 224).

    The patch embedding is a 16x16 stride-16 conv from 3 to 768 channels;
    with the class token there are ``(image/16)**2 + 1`` tokens (197 at 224).
    12 encoder layers, then the head ``gemm(M=batch, N=1000, K=768)`` on the
    class token. ``image`` must be a multiple of 16.
    """
    positive_int("batch", batch)
    positive_int("image", image)
    if image % _PATCH:
        raise WorkloadError(f"workload.image: must be a multiple of the patch size {_PATCH}, got {image}")
    patch_embed = conv2d(batch, 3, image, image, _HIDDEN, _PATCH, _PATCH, stride=_PATCH, name="patch_embed")
    tokens = patch_embed.bounds["P"] * patch_embed.bounds["Q"] + 1
    stack = [patch_embed]
    for i in range(12):
        stack.extend(_encoder_layer(f"enc.{i}", batch, tokens, _HIDDEN, _HEADS, _FFN))
    stack.append(gemm(batch, 1000, _HIDDEN, name="head"))
    return Network.chain("vit_b16", stack)
