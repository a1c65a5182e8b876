"""Defect-Gen's networks: the paper's architecture numbers, and the receptive fields they exist for."""

from __future__ import annotations

import pytest
import torch
from diffusers import UNet2DModel
from diffusers.models.attention_processor import Attention

from defect_train.defectgen.networks import UNET_SPECS, build_large_unet, build_small_unet
from defect_train.defectgen.receptive_field import (
    frozen_norm_statistics,
    measure_receptive_field,
    receptive_field_of_map,
)


def _attentions(model: torch.nn.Module) -> list[Attention]:
    return [m for m in model.modules() if isinstance(m, Attention)]


def test_paper_large_network_has_the_papers_numbers() -> None:
    with torch.device("meta"):  # the architecture without allocating its 125 M parameters
        net = build_large_unet(6)
    config = net.config
    assert tuple(config.block_out_channels) == (128, 128, 256, 256, 512, 512)
    assert config.layers_per_block == 2
    assert (config.in_channels, config.out_channels, config.sample_size) == (6, 6, 256)
    assert config.resnet_time_scale_shift == "scale_shift"
    # self-attention at the three coarsest levels (32, 16, 8 px at 256 px), in both paths, and in the middle
    assert [type(b).__name__ for b in net.down_blocks] == ["DownBlock2D"] * 3 + ["AttnDownBlock2D"] * 3
    assert [type(b).__name__ for b in net.up_blocks] == ["AttnUpBlock2D"] * 3 + ["UpBlock2D"] * 3
    assert net.mid_block.attentions[0] is not None
    attentions = _attentions(net)
    # 2 per down level and 3 per up level (layers_per_block + 1) on 3 levels, plus the middle one
    assert len(attentions) == 3 * 2 + 3 * 3 + 1
    for attention in attentions:
        assert attention.inner_dim // attention.heads == 16  # 16 channels per head
        assert attention.group_norm is not None
    assert net.mid_block.attentions[0].heads == 512 // 16
    resnets = [m for m in net.modules() if type(m).__name__ == "ResnetBlock2D"]
    assert resnets and all(r.time_embedding_norm == "scale_shift" for r in resnets)


def test_paper_small_network_has_no_attention_anywhere() -> None:
    with torch.device("meta"):
        net = build_small_unet(7)
    config = net.config
    assert tuple(config.block_out_channels) == (192, 384, 768)
    assert config.layers_per_block == 2
    assert (config.in_channels, config.out_channels) == (7, 7)
    assert config.resnet_time_scale_shift == "scale_shift"
    assert _attentions(net) == []
    # the middle block keeps its two res blocks, without the attention between them
    assert len(net.mid_block.resnets) == 2
    assert list(net.mid_block.attentions) == [None]


def test_cpu_pair_is_smaller_and_keeps_attention_only_in_the_large_network() -> None:
    large, small = build_large_unet(6, "cpu", 64), build_small_unet(6, "cpu", 64)
    paper_large, paper_small = UNET_SPECS[("paper", "large")], UNET_SPECS[("paper", "small")]
    assert len(large.config.block_out_channels) < len(paper_large.channel_multipliers)
    assert max(large.config.block_out_channels) < max(paper_large.block_out_channels)
    assert max(small.config.block_out_channels) < max(paper_small.block_out_channels)
    assert len(_attentions(large)) > 0 and _attentions(small) == []
    assert isinstance(large, UNet2DModel)


def test_resolution_must_fit_the_levels() -> None:
    with pytest.raises(ValueError, match="divisible by 32"):
        build_large_unet(6, "paper", 48)


def test_receptive_field_of_two_3x3_convolutions_is_5(one_torch_thread) -> None:
    torch.manual_seed(0)
    stack = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.Conv2d(4, 1, 3, padding=1))
    rf = measure_receptive_field(stack, 15, in_channels=2)
    assert rf.extent == (5, 5) and not rf.covers_image


def test_receptive_field_of_a_one_level_unet_by_hand(one_torch_thread) -> None:
    # 3x3 convolutions at full resolution: conv_in 1, the down block's res block 2, the middle block's two
    # res blocks 4, the up block's two res blocks (layers_per_block + 1) 4, conv_out 1 = 12 -> 1 + 2 * 12 = 25
    torch.manual_seed(0)
    net = UNet2DModel(
        in_channels=2,
        out_channels=2,
        block_out_channels=(32,),
        down_block_types=("DownBlock2D",),
        up_block_types=("UpBlock2D",),
        layers_per_block=1,
        add_attention=False,
        norm_num_groups=8,
    )
    rf = measure_receptive_field(net, 41)
    assert rf.extent == (25, 25)
    assert rf.effective <= 25


def test_frozen_norm_statistics_leave_the_output_unchanged(one_torch_thread) -> None:
    torch.manual_seed(0)
    net = build_small_unet(6, "cpu", 16).eval()
    x, t = torch.randn(1, 6, 16, 16), torch.tensor([10])
    with torch.no_grad():
        plain = net(x, t).sample
        with frozen_norm_statistics(net):
            frozen = net(x, t).sample
    torch.testing.assert_close(frozen, plain, rtol=1e-5, atol=1e-5)
    # and the patch is gone afterwards: live statistics again couple every pixel
    assert "forward" not in vars(next(m for m in net.modules() if isinstance(m, torch.nn.GroupNorm)))


def test_large_network_sees_more_than_the_small_one_at_the_cpu_size(one_torch_thread) -> None:
    torch.manual_seed(0)
    large = measure_receptive_field(build_large_unet(6, "cpu", 64), 64)
    small = measure_receptive_field(build_small_unet(6, "cpu", 64), 64)
    assert large.covers_image  # attention: every output pixel depends on every input pixel
    assert small.size < 64 and not small.covers_image
    assert large.size > small.size and large.effective > small.effective


def test_effective_size_of_a_hand_map() -> None:
    grad = torch.zeros(9, 9, dtype=torch.float64)
    grad[4, 4] = 90.0  # 90 % of the mass in the centre pixel
    grad[2, 6] = 10.0  # the rest two pixels away
    rf = receptive_field_of_map(grad, mass=0.9)
    assert rf.extent == (3, 3)  # rows 2..4, columns 4..6
    assert rf.effective == 1
    assert receptive_field_of_map(grad, mass=0.95).effective == 5
