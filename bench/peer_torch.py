"""The PyTorch reference as a bench peer: ../shared/tools/reference's port of transformers' XcodecModel
(or its Higgs subclass, or Xcodec2Model: encode then includes its feature extractor, as ours does) on CPU, eager, torch.set_num_threads(threads), on the same weights as the
other subjects. Called by bench/peer.mjs:
    python3 peer_torch.py <threads> <model-dir> <raw-f32-file> <runs> <reference-dir>
Prints one JSON line like peer.mjs: encode/decode wall times of every run after a warm-up, the codes."""
import json
import os
import sys
import time

threads, model_dir, raw, runs, ref_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
sys.path.insert(0, ref_dir)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors_np import load_safetensors  # noqa: E402
from xcodec_ref import XcodecRef  # noqa: E402

torch.set_num_threads(threads)
torch.set_num_interop_threads(1)
cfg = json.load(open(os.path.join(model_dir, "config.json")))
t0 = time.perf_counter()
xcodec2 = cfg.get("model_type") == "xcodec2"
if cfg.get("model_type") == "higgs_audio_v2_tokenizer":
    from higgs_ref import HiggsRef
    model = HiggsRef(cfg)
elif xcodec2:
    from xcodec2_ref import Xcodec2Ref, feature_extract
    model = Xcodec2Ref(cfg)
else:
    model = XcodecRef(cfg)
state = {k: torch.from_numpy(v) for k, v in load_safetensors(os.path.join(model_dir, "model.safetensors")).items()}
if xcodec2:
    model.load_hf_state_dict(state)
    missing, unexpected = [], []
else:
    missing, unexpected = model.load_state_dict(state, strict=False)
model.eval()
load_ms = (time.perf_counter() - t0) * 1000
samples = np.fromfile(raw, dtype="<f4").copy()
x = torch.from_numpy(samples).view(1, 1, -1)


def encode():
    if not xcodec2:
        return model.encode(x)
    f = feature_extract([samples])
    return model.encode(f["input_values"], f["input_features"], f["padding_mask"], f["input_features_mask"])["audio_codes"]


result = {"subject": "torch", "threads": threads, "encodeMs": [], "decodeMs": [], "loadMs": load_ms,
          "missingKeys": len(missing), "unexpectedKeys": len(unexpected), "version": f"torch {torch.__version__}"}
with torch.inference_mode():
    for i in range(runs + 1):
        t = time.perf_counter()
        codes = encode()
        e = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        model.decode(audio_codes=codes) if xcodec2 else model.decode(codes)
        d = (time.perf_counter() - t) * 1000
        if i > 0:
            result["encodeMs"].append(e)
            result["decodeMs"].append(d)
        result["codes"] = codes.flatten()[:4000].tolist()
        result["codeDims"] = list(codes.shape)
print(json.dumps(result))
