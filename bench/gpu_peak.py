"""The dense bf16 peak of the CUDA GPU present, for the benches' model FLOPs utilisation (MFU) figures."""

from __future__ import annotations

# Dense bf16 tensor-core peak (no sparsity), TFLOP/s, by a substring of the CUDA device name; the first match wins,
# so more specific names come first.
BF16_PEAK_TFLOPS = {
    "GB200": 2500.0,
    "B200": 2250.0,
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100": 989.0,
    "H800": 989.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10G": 70.0,
    "A10": 125.0,
    "RTX 6000 Ada": 364.0,
    "5090": 209.0,
    "4090": 165.0,
    "3090": 71.0,
}


def gpu_peak() -> tuple[str, float] | None:
    """(device name, peak FLOP/s; 0.0 when not in the table) of the first CUDA GPU, or None without one."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    for key, peak in BF16_PEAK_TFLOPS.items():
        if key in name:
            return name, peak * 1e12
    return name, 0.0
