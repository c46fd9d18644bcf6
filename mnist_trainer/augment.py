"""Batched random affine augmentation on the training device (no per-image Python work, no workers).

Each training image gets its own small rotation, scale and shift, drawn from the run's seeded
generator; one affine_grid + grid_sample call warps the whole batch. Small on purpose: a 7 may not
turn into a 1, and the digits stay inside the 28x28 frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AffineAugment:
    degrees: float = 8.0  # rotation drawn uniformly from [-degrees, +degrees]
    scale: float = 0.06  # zoom factor drawn uniformly from [1 - scale, 1 + scale]
    shift: float = 2.0  # shift in pixels, drawn uniformly from [-shift, +shift], per axis

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """images: N x 1 x 28 x 28 floats in [0, 1] -> warped copies (same shape and range)."""
        n, _, h, w = images.shape
        u = torch.rand(n, 4, generator=generator, device=images.device, dtype=images.dtype) * 2 - 1
        angle = u[:, 0] * math.radians(self.degrees)
        zoom = 1 + u[:, 1] * self.scale
        # affine_grid maps output coordinates to input ones in [-1, 1] units (2 units = the image width)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        tx, ty = u[:, 2] * (2 * self.shift / w), u[:, 3] * (2 * self.shift / h)
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
