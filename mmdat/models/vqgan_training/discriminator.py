"""PatchGAN discriminator for VQGAN training: one real/fake logit per overlapping image patch."""
import torch
import torch.nn as nn

from mmdat.registry import MODELS


@MODELS.register_module()
class PatchDiscriminator(nn.Module):
    """A fully convolutional discriminator that scores image patches (Isola et al., 2017).

    ``num_layers`` stride-2 4x4 convolutions halve the resolution and double the width (capped at
    8x ``base_channels``), followed by a stride-1 4x4 convolution and a 1-channel 4x4 output
    convolution.
    Every convolution but the first and the last is followed by BatchNorm; activations are
    LeakyReLU(0.2). Weights start from N(0, 0.02) (BatchNorm scales from N(1, 0.02)), as in DCGAN.

    Args:
        in_channels (int): image channels. Defaults to 3.
        base_channels (int): width of the first convolution. Defaults to 64.
        num_layers (int): number of stride-2 convolutions (the receptive field grows with it).
            Defaults to 3.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 64, num_layers: int = 3) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, but got num_layers={num_layers}')
        if in_channels < 1 or base_channels < 1:
            raise ValueError('in_channels and base_channels must be positive, but got '
                             f'in_channels={in_channels}, base_channels={base_channels}')
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, base_channels, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2, inplace=True)
        ]
        channels = base_channels
        for level in range(1, num_layers + 1):
            out_channels = base_channels * min(2**level, 8)
            stride = 2 if level < num_layers else 1
            layers += [
                nn.Conv2d(channels, out_channels, 4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.LeakyReLU(0.2, inplace=True)
            ]
            channels = out_channels
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.layers = nn.Sequential(*layers)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Patch logits of shape (N, 1, h, w) for images of shape (N, C, H, W)."""
        return self.layers(images)
