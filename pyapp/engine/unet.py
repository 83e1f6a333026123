"""A small 2D U-Net: 1 input channel, 2 sigmoid output channels (foreground, border distance).

``depth`` poolings (input sides must be multiples of ``2**depth``), ``base`` channels at full resolution,
doubling per level; two 3x3 conv + ReLU per block, no normalisation layers (batches are small), the sigmoid
inside the network so both the ONNX and the TorchScript weights output probabilities.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True),
                         nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """U-Net for ``(n, 1, y, x)`` float32 → ``(n, 2, y, x)`` probabilities."""

    def __init__(self, base: int = 16, depth: int = 3) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_block(1, widths[0])] + [_block(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.merge = nn.ModuleList([_block(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], 2, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``(n, 2, y, x)``."""
        return torch.sigmoid(self.logits(x))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-sigmoid outputs (what the loss sees)."""
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1]), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)
