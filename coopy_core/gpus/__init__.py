"""GPUs as NVML sees them (issue 25): what each GPU holds (`nvml`), which runs fit where (`pool`), and the
engine's look at NVML once per poll (`watch`). `nvidia-ml-py` (the `gpu` extra) is imported only here, and
only when a config uses `gpus = "auto"`, `gpu_others` or `gpu_mem_gb`."""
