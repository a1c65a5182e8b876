"""Peak memory of one DefectFill step with the SD2-inpainting-sized UNet (random weights, published config),
with and without gradient checkpointing, and the projection to 512 px fp16 on a GPU.

On the CPU each configuration runs in its own subprocess and reports its peak resident memory (ru_maxrss)
before and during the step; the difference is the step's working memory (activations, gradients, optimizer).
On a GPU (``--device cuda``) it reports ``torch.cuda.max_memory_allocated`` directly.

Projection (CPU figures → 512 px, fp16 weights and autocast): static = parameters × 2 bytes (LoRA and its
Adam state in fp32); working memory × 4 (four times the latent cells: SDPA, convolutions and the captured
token columns are all linear in them) × 0.5 (fp16 activations instead of fp32).

    uv run python packages/defect-train/bench/bench_memory.py [--resolution 256] [--batch 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

GIB = 1024**3


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def worker(resolution: int, batch: int, checkpointing: bool, device: str) -> dict:
    import numpy as np
    import torch
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    sys.path.insert(0, str(Path(__file__).parent))
    from sd2_config import SD2_INPAINT_UNET, SD2_TEXT_ENCODER

    from defect_sample.model_loading import load_inpaint_pipeline
    from defect_train.data import TrainingBatch
    from defect_train.lora import add_paper_lora, lora_parameters
    from defect_train.objective import DefectFillObjective

    torch.manual_seed(0)
    tokenizer = load_inpaint_pipeline("builtin:tiny").tokenizer
    unet = UNet2DConditionModel(**SD2_INPAINT_UNET).to(device)
    te = CLIPTextModel(CLIPTextConfig(**SD2_TEXT_ENCODER)).to(device)
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
    ).to(device)
    vae.requires_grad_(False)
    add_paper_lora(unet, te, 8, 16, 0.1, True)
    if checkpointing:
        unet.enable_gradient_checkpointing()
        te.gradient_checkpointing_enable()
    params = lora_parameters(unet) + lora_parameters(te)
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    n_params = {
        name: sum(p.numel() for p in m.parameters())
        for name, m in (("unet", unet), ("text_encoder", te), ("vae", vae))
    }
    n_lora = sum(p.numel() for p in params)
    objective = DefectFillObjective(
        vae=vae,
        unet=unet,
        text_encoder=te,
        tokenizer=tokenizer,
        noise_scheduler=DDPMScheduler(beta_schedule="scaled_linear"),
        prompts=("A photo of sks", "A brick with sks"),
        token="sks",
    )
    masks = torch.zeros(batch, 1, resolution, resolution)
    masks[:, :, resolution // 4 : resolution // 2, resolution // 4 : resolution // 2] = 1
    data = TrainingBatch(torch.rand(batch, 3, resolution, resolution) * 2 - 1, masks)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_bytes()
    start = time.perf_counter()
    loss = objective(data, np.random.default_rng(0), torch.Generator(device).manual_seed(0)).total
    loss.backward()
    optimizer.step()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if device.startswith("cuda") else _rss_bytes()
    return {
        "checkpointing": checkpointing,
        "before": before,
        "peak": peak,
        "seconds": seconds,
        "params": n_params,
        "lora_params": n_lora,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--worker", choices=["on", "off"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = worker(args.resolution, args.batch, args.worker == "on", args.device)
        print("RESULT " + json.dumps(result))
        return
    results = {}
    for mode in ("off", "on"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                mode,
                "--resolution",
                str(args.resolution),
                "--batch",
                str(args.batch),
                "--device",
                args.device,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in out.stdout.splitlines() if x.startswith("RESULT "))
        results[mode] = json.loads(line[len("RESULT ") :])
    params = results["off"]["params"]
    total_params = sum(params.values())
    lora = results["off"]["lora_params"]
    print(
        f"SD2-inpainting architecture, random weights: UNet {params['unet'] / 1e6:.0f} M, text encoder "
        f"{params['text_encoder'] / 1e6:.0f} M, VAE {params['vae'] / 1e6:.0f} M params; LoRA {lora / 1e6:.2f} M"
    )
    print(
        f"one DefectFill step at {args.resolution} px, batch {args.batch} (x2 branches), device {args.device}, fp32:"
    )
    work = {}
    for mode in ("off", "on"):
        r = results[mode]
        work[mode] = r["peak"] - r["before"]
        print(
            f"  gradient checkpointing {mode:>3}: peak {r['peak'] / GIB:6.2f} GiB, step working memory "
            f"{work[mode] / GIB:6.2f} GiB, {r['seconds']:.1f} s"
        )
    print(f"  working-memory ratio checkpointing on / off: {work['on'] / work['off']:.3f}x")
    static_fp16 = total_params * 2 + lora * 4 * 4  # fp16 weights; LoRA fp32 weight, grad, 2 Adam moments
    scale = (512 / args.resolution) ** 2 * 0.5
    for mode in ("off", "on"):
        projected = static_fp16 + work[mode] * scale
        print(
            f"  projected 512 px, batch {args.batch}, fp16, checkpointing {mode:>3}: {projected / GIB:6.2f} GiB "
            f"(goal <= 16 GiB; excludes the CUDA context, ~0.5 GiB)"
        )


if __name__ == "__main__":
    main()
