"""The per-user daemon that keeps the model warm, and the way the other processes reach it.

``daemon``, ``pool`` and ``batching`` run in the daemon and call the engine; ``client``, ``wire``,
``runtime`` and ``backend`` also run in the thin language server and the CLI, and never import torch.
"""
