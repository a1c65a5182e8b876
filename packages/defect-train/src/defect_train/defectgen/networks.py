"""The two ``UNet2DModel`` denoisers of Defect-Gen: one with a large receptive field, one with a small one.

Paper sizes (DESIGN.md §4b, the authors' code): the **large** network has base 128 channels, multipliers
(1, 1, 2, 2, 4, 4), 2 res blocks per level, self-attention at the three coarsest levels and in the middle
block with 16 channels per head, and scale-shift time conditioning (the time embedding gives a per-channel
scale and shift after each res block's second GroupNorm). Attention makes its receptive field the whole
image. The **small** network has base 192, multipliers (1, 2, 4), 2 res blocks and no attention anywhere,
the middle block included (``add_attention=False`` keeps its two res blocks), so each output pixel sees a
patch: :mod:`defect_train.defectgen.receptive_field` measures both.

``size="cpu"`` is a scaled-down pair for 64 px on two CPU cores that keeps the contrast: the large one keeps
the rule "attention at the three coarsest levels and the middle" with 4 levels (64 px down to 8 x 8, the
paper's 256 px bottleneck size); the small one keeps no attention, one res block per level on 2 levels and
no middle block, so that its receptive field covers about the same fraction of a 64 px image as the paper's
small network covers of 256 px (measured in the README and by ``bench/receptive_fields.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from diffusers import UNet2DModel

NetworkSize = Literal["paper", "cpu"]
NETWORK_SIZES: tuple[str, ...] = ("paper", "cpu")


@dataclass(frozen=True)
class UnetSpec:
    """The architecture numbers of one denoiser; :func:`build_unet` turns them into a ``UNet2DModel``."""

    base_channels: int
    channel_multipliers: tuple[int, ...]
    layers_per_block: int
    attention_levels: int
    """Number of the coarsest levels (down and up blocks) with self-attention; 0: none."""
    mid_block: bool
    mid_attention: bool
    attention_head_dim: int = 16
    """Channels per attention head (the authors' ``num_head_channels``)."""
    norm_num_groups: int = 32

    @property
    def block_out_channels(self) -> tuple[int, ...]:
        return tuple(self.base_channels * m for m in self.channel_multipliers)

    def __post_init__(self) -> None:
        levels = len(self.channel_multipliers)
        if levels < 1 or self.layers_per_block < 1:
            raise ValueError(f"{self}: needs at least one level and one res block per level")
        if not 0 <= self.attention_levels <= levels:
            raise ValueError(f"{self}: attention_levels must be in 0..{levels}")
        if self.mid_attention and not self.mid_block:
            raise ValueError(f"{self}: middle-block attention needs a middle block")
        for ch in self.block_out_channels:
            if ch % self.norm_num_groups or (self.has_attention and ch % self.attention_head_dim):
                raise ValueError(
                    f"{self}: width {ch} must be a multiple of norm_num_groups and attention_head_dim"
                )

    @property
    def has_attention(self) -> bool:
        return self.attention_levels > 0 or self.mid_attention


UNET_SPECS: dict[tuple[str, str], UnetSpec] = {
    ("paper", "large"): UnetSpec(
        128, (1, 1, 2, 2, 4, 4), 2, attention_levels=3, mid_block=True, mid_attention=True
    ),
    ("paper", "small"): UnetSpec(192, (1, 2, 4), 2, attention_levels=0, mid_block=True, mid_attention=False),
    ("cpu", "large"): UnetSpec(32, (1, 2, 2, 4), 1, attention_levels=3, mid_block=True, mid_attention=True),
    ("cpu", "small"): UnetSpec(32, (1, 2), 1, attention_levels=0, mid_block=False, mid_attention=False),
}
"""(size, role) -> architecture; role is ``"large"`` (large receptive field) or ``"small"``."""


def unet_spec(size: str, role: str) -> UnetSpec:
    """The :class:`UnetSpec` of ``size`` ("paper" or "cpu") and ``role`` ("large" or "small")."""
    try:
        return UNET_SPECS[(size, role)]
    except KeyError:
        raise ValueError(
            f"no Defect-Gen network for size {size!r} and role {role!r}; sizes: {', '.join(NETWORK_SIZES)}, "
            "roles: large, small"
        ) from None


def build_unet(spec: UnetSpec, num_channels: int, resolution: int) -> UNet2DModel:
    """A freshly initialised ``UNet2DModel`` (the caller seeds torch) mapping (B, num_channels, R, R) x_t and
    integer timesteps (B,) to the predicted x0, (B, num_channels, R, R)."""
    from diffusers import UNet2DModel

    levels = len(spec.channel_multipliers)
    if resolution % 2 ** (levels - 1):
        raise ValueError(
            f"resolution {resolution} must be divisible by {2 ** (levels - 1)} ({levels} levels halve it "
            f"{levels - 1} times)"
        )
    plain = levels - spec.attention_levels
    down = ("DownBlock2D",) * plain + ("AttnDownBlock2D",) * spec.attention_levels
    up = ("AttnUpBlock2D",) * spec.attention_levels + ("UpBlock2D",) * plain
    return UNet2DModel(
        sample_size=resolution,
        in_channels=num_channels,
        out_channels=num_channels,
        down_block_types=down,
        up_block_types=up,
        mid_block_type="UNetMidBlock2D" if spec.mid_block else None,
        add_attention=spec.mid_attention,
        block_out_channels=spec.block_out_channels,
        layers_per_block=spec.layers_per_block,
        attention_head_dim=spec.attention_head_dim,
        norm_num_groups=spec.norm_num_groups,
        # with scale-shift conditioning diffusers drops the middle attention's GroupNorm unless the groups are
        # given; the authors' attention block normalises its input
        attn_norm_num_groups=spec.norm_num_groups if spec.mid_attention else None,
        resnet_time_scale_shift="scale_shift",
    )


def build_large_unet(num_channels: int, size: NetworkSize = "paper", resolution: int = 256) -> UNet2DModel:
    """The large-receptive-field denoiser of ``size`` (see the module docstring)."""
    return build_unet(unet_spec(size, "large"), num_channels, resolution)


def build_small_unet(num_channels: int, size: NetworkSize = "paper", resolution: int = 256) -> UNet2DModel:
    """The small-receptive-field denoiser of ``size`` (see the module docstring)."""
    return build_unet(unet_spec(size, "small"), num_channels, resolution)
