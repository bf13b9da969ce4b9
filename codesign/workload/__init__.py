"""The workload IR, family-neutral: layers as loop nests (`ir`), networks as
graphs of layer instances and non-MAC nodes (`graph`), the built-in zoo
(`zoo`), the YAML ``layers:`` loader (`spec`) and the ONNX importer (`onnx`)."""
from .ir import (TENSORS, Axis, Layer, Tensor, Workload, WorkloadError, conv2d, conv_out_size,
                 depthwise_conv2d, gemm, matmul)
from .graph import NON_MAC_OPS, Network, Node, layer_input_shape, layer_output_shape

__all__ = ["Axis", "Tensor", "Layer", "Workload", "WorkloadError", "gemm", "conv2d", "depthwise_conv2d",
           "matmul", "conv_out_size", "TENSORS", "Network", "Node", "NON_MAC_OPS",
           "layer_input_shape", "layer_output_shape"]
