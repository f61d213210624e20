"""Learning Context R-CNN's matching from object identities (vmem.apis.context_matching)."""
import json

import pytest
import torch

from vmem.apis.context_matching import UNKNOWN, CameraSet, ObjectIdentities, learn_matching, retrieval_quality
from vmem.models.layers import ContextAttention

DIM, ENTRY_DIM = 8, 12


def camera_set(generator, identities, images, degraded=False):
    """Box features whose identity shows only in two weak dimensions under strong noise elsewhere."""
    identities = torch.tensor(identities)
    signal = torch.nn.functional.one_hot(identities.clamp(min=0), 2).float() * 2.0
    noise = torch.randn(len(identities), DIM - 2, generator=generator) * 3.0
    return CameraSet(features=torch.cat([signal, noise], 1), identity=identities, image_id=torch.tensor(images),
                     degraded=torch.full((len(identities),), degraded))


def test_learned_matching_puts_more_weight_on_the_same_object_and_ties_the_key_projection(generator):
    torch.manual_seed(0)
    attention = ContextAttention(dim=DIM, entry_dim=ENTRY_DIM, bottleneck_dim=4, temperature=0.1,
                                 embedding='linear', matched_init=True, learn_matching=False)
    entries = {3: camera_set(generator, [0, 1] * 20, list(range(40)))}
    rois = {3: camera_set(generator, [0, 1] * 30, [100] * 60)}
    held_out = {3: camera_set(generator, [0, 1] * 30, [200] * 60, degraded=True)}
    before = retrieval_quality(attention, held_out, entries)['degraded']
    history = learn_matching(attention, rois, entries, steps=150, lr=0.05, generator=generator)
    after = retrieval_quality(attention, held_out, entries)['degraded']
    assert history[-1] < history[0]
    assert after[0] > before[0] + 0.2 and after[1] > before[1] + 0.2, (before, after)
    assert torch.equal(attention.key.weight[:, :DIM], attention.query.weight)
    assert not attention.key.weight[:, DIM:].any() and torch.equal(attention.key.bias, attention.query.bias)


def test_a_rois_own_frame_is_never_a_match_and_nothing_to_learn_is_an_error(generator):
    attention = ContextAttention(dim=DIM, entry_dim=ENTRY_DIM, bottleneck_dim=4, embedding='linear',
                                 matched_init=True)
    entries = {3: camera_set(generator, [0, 1, UNKNOWN], [5, 6, 7])}
    # the only entry of object 0 is from the RoI's own frame: it cannot be the top entry
    rois = {3: camera_set(generator, [0], [5])}
    assert retrieval_quality(attention, rois, entries)['clean'][0] == 0.0
    with pytest.raises(ValueError, match='no camera'):
        learn_matching(attention, {4: rois[3]}, entries, steps=1)


def test_object_identities_match_boxes_and_name_a_missing_field(tmp_path):
    path = tmp_path / 'ann.json'
    anns = [dict(id=1, image_id=7, bbox=[10, 10, 20, 20], category_id=2, roster_member=4, degraded=True)]
    path.write_text(json.dumps(dict(annotations=anns)))
    found = ObjectIdentities(str(path)).match(7, torch.tensor([[11.0, 11, 30, 30], [50, 50, 60, 60]]))
    assert found[0].identity == 4 and found[0].category == 2 and found[0].degraded and found[1] is None
    assert ObjectIdentities(str(path), key='category_id').match(7, torch.tensor([[10.0, 10, 30, 30]]))[0].identity == 2
    with pytest.raises(ValueError, match="'track'"):
        ObjectIdentities(str(path), key='track')
