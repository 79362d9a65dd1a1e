# --8<-- [start:exercise-1]
import json

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

torch.manual_seed(0)

encoder = nn.TransformerEncoderLayer(32, nhead=4, dim_feedforward=64, batch_first=True).eval()
compilations = 0


def counting_backend(graph_module: torch.fx.GraphModule, example_inputs):
    global compilations
    compilations += 1
    return graph_module.forward


fn = torch.compile(encoder, backend=counting_backend, dynamic=True)  # symbolic sizes from the first call
with torch.no_grad():
    for length in [17, 23, 31, 40, 52]:
        fn(torch.randn(8, length, 32))
print("dynamic=True, five lengths:", compilations, "compilation")
assert compilations == 1
# --8<-- [end:exercise-1]

# --8<-- [start:exercise-2]
settings = {"vocab_size": 1154, "dim": 32, "labels": ["negative", "neutral", "positive"]}
save_file(encoder.state_dict(), "compile_solutions_encoder.safetensors",
          metadata={"settings": json.dumps(settings)})  # metadata: a dict of strings, stored in the header
with safe_open("compile_solutions_encoder.safetensors", framework="pt") as file:
    restored = json.loads(file.metadata()["settings"])
    names = list(file.keys())
print("settings:", restored)
print(len(names), "tensors, the first:", names[0])
assert restored == settings
# --8<-- [end:exercise-2]
