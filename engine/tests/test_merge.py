"""dense_state_dict: HF names for every method, and a dense model that computes the same function."""

import pytest
import torch

from sltrain.config import LlamaConfig, MethodConfig
from sltrain.layers import SLTrainLinear
from sltrain.merge import dense_state_dict
from sltrain.methods import build_model

TINY = LlamaConfig(hidden_size=16, intermediate_size=24, num_attention_heads=4, num_key_value_heads=2,
                   num_hidden_layers=2, vocab_size=23)


@pytest.mark.parametrize("method", ["full", "lowrank", "relora", "galore", "sltrain"])
def test_dense_state_dict_loads_strictly_into_the_full_model(method):
    model = build_model(TINY, MethodConfig(method=method, rank=4, delta=0.1, alpha=8.0), seed=2, dtype=torch.float64)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".B"):
                p.normal_(0, 0.1)
    sd = dense_state_dict(model)
    full = build_model(TINY, MethodConfig(method="full"), seed=9, dtype=torch.float64)
    assert set(sd) == set(full.state_dict())
    full.load_state_dict(sd, strict=True)
    ids = torch.randint(TINY.vocab_size, (2, 9), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(full(ids)[0], model(ids)[0])
    assert all(t.dtype == torch.float64 for t in sd.values())


def test_merged_weight_is_s_b_a_plus_sparse():
    model = build_model(TINY, MethodConfig(method="sltrain", rank=4, delta=0.1, alpha=8.0), seed=0, dtype=torch.float64)
    layer = model.model.layers[1].mlp.down_proj
    assert isinstance(layer, SLTrainLinear)
    with torch.no_grad():
        layer.B.normal_()
    S = torch.zeros(layer.out_features * layer.in_features, dtype=torch.float64)
    S[layer.flat_indices()] = layer.values
    expected = 2.0 * layer.B @ layer.A + S.view(layer.out_features, layer.in_features)
    torch.testing.assert_close(dense_state_dict(model)["model.layers.1.mlp.down_proj.weight"], expected)
