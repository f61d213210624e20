"""GEO: the attention it computes, its near-identity start, empty key sets and gradients."""
import pytest
import torch
import torch.nn.functional as F

from vmem.models.layers import GEO


def naive_layer(layer, x, keys):
    """GEO as the paper writes it: per head softmax(q k^T / sqrt(dk)) over the unprojected
    keys, heads concatenated to [n, H*d], then a grouped 1x1 conv (H groups) back to d;
    queries and keys layer-normalised first."""
    heads, key_dim, dim = layer.num_heads, layer.key_dim, layer.dim
    keys = F.layer_norm(keys, (dim,), layer.key_norm.weight, layer.key_norm.bias)
    q = layer.query(F.layer_norm(x, (dim,), layer.query_norm.weight, layer.query_norm.bias)).view(len(x), heads, key_dim)
    k = layer.key(keys).view(len(keys), heads, key_dim)
    outputs = []
    for h in range(heads):
        attention = torch.softmax(q[:, h] @ k[:, h].T / key_dim ** 0.5, dim=1)
        outputs.append(attention @ keys)                                  # [n, d]
    concatenated = torch.cat(outputs, dim=1)                              # [n, H*d]
    weight = layer.proj_weight.reshape(dim, dim, 1)                       # [out=d, in/groups=d, 1]
    projected = F.conv1d(concatenated.T.unsqueeze(0), weight, layer.proj_bias, groups=heads)
    return x + projected[0].T


def test_matches_the_naive_multi_head_formulation(generator):
    geo = GEO(dim=32, num_heads=4, init_scale=0.5)
    x, keys = torch.randn(5, 32, generator=generator), torch.randn(9, 32, generator=generator)
    with torch.no_grad():
        geo.layers[0].proj_bias.normal_()
        expected = naive_layer(geo.layers[0], x, keys)
        assert torch.allclose(geo(x, keys), expected, atol=1e-5)


def test_stacked_layers_feed_each_other_with_the_same_key_set(generator):
    geo = GEO(dim=16, num_heads=2, num_layers=2, key_dim=4, init_scale=0.5)
    x, keys = torch.randn(3, 16, generator=generator), torch.randn(6, 16, generator=generator)
    with torch.no_grad():
        once = naive_layer(geo.layers[0], x, keys)
        assert torch.allclose(geo(x, keys), naive_layer(geo.layers[1], once, keys), atol=1e-5)
    assert geo.layers[0].query.out_features == 2 * 4


def test_output_shape_and_near_identity_at_init(generator):
    geo = GEO(dim=64, num_heads=16)
    x, keys = torch.randn(7, 64, generator=generator), torch.randn(30, 64, generator=generator)
    out = geo(x, keys)
    assert out.shape == (7, 64)
    change = (out - x).norm() / x.norm()
    assert 0 < change < 0.02
    exact = GEO(dim=64, num_heads=16, init_scale=0.0)
    assert torch.equal(exact(x, keys), x)


def test_empty_key_set_or_no_queries_is_the_identity(generator):
    geo = GEO(dim=8, num_heads=2, init_scale=1.0)
    x = torch.randn(4, 8, generator=generator)
    assert torch.equal(geo(x, torch.zeros(0, 8)), x)
    assert geo(torch.zeros(0, 8), torch.randn(3, 8)).shape == (0, 8)


def test_query_chunking_gives_the_same_result(generator):
    x, keys = torch.randn(50, 16, generator=generator), torch.randn(20, 16, generator=generator)
    torch.manual_seed(3)
    whole = GEO(dim=16, num_heads=4, init_scale=0.3)
    torch.manual_seed(3)
    chunked = GEO(dim=16, num_heads=4, init_scale=0.3, max_attention_elements=4 * 20 * 7)  # chunks of 7 queries
    assert torch.allclose(whole(x, keys), chunked(x, keys), atol=1e-6)


def test_gradients_reach_queries_and_every_projection(generator):
    geo = GEO(dim=16, num_heads=4, init_scale=0.1)
    x = torch.randn(5, 16, generator=generator, requires_grad=True)
    keys = torch.randn(8, 16, generator=generator)
    (geo(x, keys) ** 2).sum().backward()
    layer = geo.layers[0]
    for name, parameter in (('query', layer.query.weight), ('key', layer.key.weight),
                            ('proj', layer.proj_weight), ('bias', layer.proj_bias)):
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='num_heads'):
        GEO(dim=30, num_heads=16)
    with pytest.raises(ValueError, match='num_layers'):
        GEO(dim=32, num_layers=0)
    with pytest.raises(ValueError, match='key_dim'):
        GEO(dim=32, key_dim=0)
    geo = GEO(dim=32)
    with pytest.raises(ValueError, match='key_set'):
        geo(torch.zeros(2, 32), torch.zeros(3, 16))
