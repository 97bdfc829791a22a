"""Codes of the PyTorch reference (../shared/tools/reference's XcodecRef, eager fp32 CPU) for raw audio:
    python3 reference_codes.py <model-dir> <raw-f32-file> <out-i32-file> <threads> <reference-dir>
Writes the codes at the highest target bandwidth, int32 [nq, T] row-major, for bench/agreement.mjs."""
import json
import os
import sys

model_dir, raw, out, threads, ref_dir = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, ref_dir)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors_np import load_safetensors  # noqa: E402
from xcodec_ref import XcodecRef  # noqa: E402

torch.set_num_threads(threads)
cfg = json.load(open(os.path.join(model_dir, "config.json")))
model = XcodecRef(cfg)
state = {k: torch.from_numpy(v) for k, v in load_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
missing, unexpected = model.load_state_dict(state, strict=False)
if missing:
    raise SystemExit(f"the reference did not find {len(missing)} tensors: {missing[:5]}")
model.eval()
x = torch.from_numpy(np.fromfile(raw, dtype="<f4").copy()).view(1, 1, -1)
with torch.inference_mode():
    codes = model.encode(x)
codes.reshape(codes.shape[-2], codes.shape[-1]).to(torch.int32).numpy().astype("<i4").tofile(out)
