"""Transformer encoders: BERT-base and ViT-B/16.

- BERT: J. Devlin, M.-W. Chang, K. Lee, K. Toutanova, "BERT: Pre-training of
  Deep Bidirectional Transformers for Language Understanding", NAACL 2019
  (arXiv:1810.04805), Section 3: BERT-base has L=12 layers, H=768, A=12
  heads, FFN 4H = 3072.
- ViT: A. Dosovitskiy et al., "An Image is Worth 16x16 Words: Transformers
  for Image Recognition at Scale", ICLR 2021 (arXiv:2010.11929), Table 1:
  ViT-Base has 12 layers, hidden 768, MLP 3072, 12 heads; patches of 16x16.

One encoder layer is eight MAC layers over ``tokens`` tokens per sequence:

- ``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``: ``gemm(M=batch*tokens, N=hidden, K=hidden)``
- ``scores`` (Q K^T): ``matmul(B=batch*heads, M=tokens, N=tokens, K=hidden/heads)``
- ``context`` (softmax(scores) V): ``matmul(B=batch*heads, M=tokens, N=hidden/heads, K=tokens)``
- ``ffn_up``: ``gemm(M=batch*tokens, N=ffn, K=hidden)``; ``ffn_down``: ``gemm(M=batch*tokens, N=hidden, K=ffn)``

and the nodes without MACs between them, with the edges: ``q_proj``,
``k_proj`` and ``v_proj`` read the same tensor (a fork); ``scores`` reads
``q_proj`` and ``k_proj``, ``softmax`` the scores, ``context`` the softmax
and ``v_proj``; ``add1`` adds ``out_proj`` and the layer input; ``gelu``
sits between ``ffn_up`` and ``ffn_down``; ``add2`` adds ``ffn_down`` and
the attention block's output. BERT normalizes after each add (``ln1``,
``ln2``, post-norm, Devlin et al. / Vaswani et al.); ViT before the
attention and before the MLP (``ln1``, ``ln2``, pre-norm, torchvision
vision_transformer.py, EncoderBlock.forward), with a final ``ln``. The
``1/sqrt(head_dim)`` scaling is folded into ``q_proj``; dropout is the
identity at inference. The views between ``(batch*tokens, hidden)`` and
``(batch*heads, tokens, head_dim)`` are edges, not nodes.

Nodes are named ``enc.<i>.<part>``; `Network.unique` merges identical
shapes, so a whole encoder stack becomes a handful of layers with counts.
"""
from __future__ import annotations

from codesign.workload import Network, WorkloadError, conv2d, gemm, matmul
from codesign.workload.graph import GraphBuilder
from codesign.workload.zoo._args import positive_int

__all__ = ["bert_base", "vit_b16"]

_HIDDEN = 768
_HEADS = 12
_FFN = 3072
_PATCH = 16


def _encoder_layer(g: GraphBuilder, name: str, batch: int, tokens: int, pre_norm: bool) -> None:
    """Append one encoder layer (nodes ``<name>.<part>``) reading the node appended last."""
    rows, head_dim = batch * tokens, _HIDDEN // _HEADS
    x = g.last
    src = g.op(f"{name}.ln1", "layernorm") if pre_norm else x
    q = g.mac(gemm(rows, _HIDDEN, _HIDDEN, name=f"{name}.q_proj"), src)
    k = g.mac(gemm(rows, _HIDDEN, _HIDDEN, name=f"{name}.k_proj"), src)
    v = g.mac(gemm(rows, _HIDDEN, _HIDDEN, name=f"{name}.v_proj"), src)
    g.mac(matmul(batch * _HEADS, tokens, tokens, head_dim, name=f"{name}.scores"), q, k)
    probs = g.op(f"{name}.softmax", "softmax")
    g.mac(matmul(batch * _HEADS, tokens, head_dim, tokens, name=f"{name}.context"), probs, v)
    out = g.mac(gemm(rows, _HIDDEN, _HIDDEN, name=f"{name}.out_proj"))
    h = g.op(f"{name}.add1", "add", out, x)
    if pre_norm:
        g.op(f"{name}.ln2", "layernorm")
    else:
        h = g.op(f"{name}.ln1", "layernorm")
    g.mac(gemm(rows, _FFN, _HIDDEN, name=f"{name}.ffn_up"))
    g.op(f"{name}.gelu", "gelu")
    down = g.mac(gemm(rows, _HIDDEN, _FFN, name=f"{name}.ffn_down"))
    g.op(f"{name}.add2", "add", down, h)
    if not pre_norm:
        g.op(f"{name}.ln2", "layernorm")


def bert_base(seq_len: int = 128, batch: int = 1, layers: int = 12) -> Network:
    """The ``layers`` encoder layers of BERT-base on ``batch`` sequences of ``seq_len`` tokens.

    The graph input ``input`` is the embeddings' output, ``(batch*seq_len,
    768)``. Embeddings, pooler and task heads are not included (about 11.2
    GMAC at seq_len 128, batch 1, 12 layers).
    """
    positive_int("seq_len", seq_len)
    positive_int("batch", batch)
    positive_int("layers", layers)
    g = GraphBuilder("bert_base", [("input", (batch * seq_len, _HIDDEN))])
    for i in range(layers):
        _encoder_layer(g, f"enc.{i}", batch, seq_len, pre_norm=False)
    return g.build()


def vit_b16(batch: int = 1, image: int = 224) -> Network:
    """ViT-B/16 classifying ``batch`` RGB images of ``image`` x ``image`` (about 17.6 GMAC at 224).

    The patch embedding is a 16x16 stride-16 conv from 3 to 768 channels;
    its ``(batch, 768, h, w)`` output, viewed as ``(batch, h*w, 768)``, is
    concatenated after the class token (graph input ``class_token``,
    ``(batch, 1, 768)``) into ``(image/16)**2 + 1`` tokens (197 at 224), and
    the position embedding (graph input ``pos_embedding``, the learned
    ``(1, tokens, 768)`` broadcast over the batch) is added. 12 encoder
    layers, the final layer norm ``ln``, then the head ``gemm(M=batch,
    N=1000, K=768)`` on the class token (torchvision vision_transformer.py,
    VisionTransformer.forward). ``image`` must be a multiple of 16.
    """
    positive_int("batch", batch)
    positive_int("image", image)
    if image % _PATCH:
        raise WorkloadError(f"workload.image: must be a multiple of the patch size {_PATCH}, got {image}")
    patch_embed = conv2d(batch, 3, image, image, _HIDDEN, _PATCH, _PATCH, stride=_PATCH, name="patch_embed")
    tokens = patch_embed.bounds["P"] * patch_embed.bounds["Q"] + 1
    g = GraphBuilder("vit_b16", [("input", (batch, 3, image, image)), ("class_token", (batch, 1, _HIDDEN)),
                                 ("pos_embedding", (batch, tokens, _HIDDEN))])
    g.mac(patch_embed)
    g.op("tokens", "concat", "class_token", "patch_embed", shape=(batch, tokens, _HIDDEN), axis=1)
    g.op("pos_add", "add", "tokens", "pos_embedding")
    for i in range(12):
        _encoder_layer(g, f"enc.{i}", batch, tokens, pre_norm=True)
    g.op("ln", "layernorm")
    g.mac(gemm(batch, 1000, _HIDDEN, name="head"))
    return g.build()
