import pytest
import torch
from torch import nn

from vmem.models import RPNHead, StandardRoIHead, TwoFCBoxHead


class RecordingAggregator(nn.Module):
    """Adds a constant and remembers what it was given, like a memory module would read it."""

    def __init__(self, offset: float):
        super().__init__()
        self.offset, self.calls = offset, []

    def forward(self, features, *, rois, context):
        self.calls.append((features.shape, rois.shape, context))
        return features + self.offset


def test_box_head_hook_runs_after_each_fc_before_relu():
    after_fc1, after_fc2 = RecordingAggregator(-1e3), RecordingAggregator(5.0)
    head = TwoFCBoxHead(in_channels=4, roi_size=2, fc_channels=8, aggregators=[after_fc1, after_fc2])
    rois = torch.tensor([[0, 0, 0, 4, 4], [0, 1, 1, 3, 3], [1, 0, 0, 2, 2]], dtype=torch.float32)
    out = head(torch.randn(3, 4, 2, 2), rois, context={'frame': 7})
    assert after_fc1.calls == [((3, 8), (3, 5), {'frame': 7})]
    assert after_fc2.calls == [((3, 8), (3, 5), {'frame': 7})]
    # fc1's output was pushed far below zero, so after its ReLU fc2 only sees zeros
    assert torch.allclose(out, torch.relu(head.fc2.bias + 5.0).expand(3, 8))
    plain = TwoFCBoxHead(in_channels=4, roi_size=2, fc_channels=8)
    plain.load_state_dict(head.state_dict(), strict=False)
    assert not torch.allclose(plain(torch.randn(3, 4, 2, 2), rois), out)


def test_box_head_rejects_bad_aggregators():
    with pytest.raises(ValueError, match='2 entries'):
        TwoFCBoxHead(in_channels=4, aggregators=[None])
    head = TwoFCBoxHead(in_channels=4, roi_size=1, fc_channels=8, aggregators=[None, nn.Linear(8, 3)])
    head.aggregators['1'] = LinearIgnoringKeywords(8, 3)
    with pytest.raises(ValueError, match='fc2'):
        head(torch.randn(2, 4, 1, 1), torch.zeros(2, 5))


def test_roi_aggregator_acts_on_the_pooled_maps_before_fc1():
    before_fc1 = RecordingAggregator(2.0)
    head = TwoFCBoxHead(in_channels=4, roi_size=2, fc_channels=8, roi_aggregator=before_fc1)
    plain = TwoFCBoxHead(in_channels=4, roi_size=2, fc_channels=8)
    plain.load_state_dict(head.state_dict())   # the recording aggregator has no weights
    maps, rois = torch.randn(3, 4, 2, 2), torch.zeros(3, 5)
    out = head(maps, rois, context={'frame': 1})
    assert before_fc1.calls == [((3, 4, 2, 2), (3, 5), {'frame': 1})]
    torch.testing.assert_close(out, plain(maps + 2.0, rois))
    head.roi_aggregator = LinearIgnoringKeywords(2, 3)
    with pytest.raises(ValueError, match='roi_aggregator changed'):
        head(maps, rois)


class LinearIgnoringKeywords(nn.Linear):
    def forward(self, features, **_):
        return super().forward(features)


def test_roi_sampling_with_and_without_ground_truth():
    torch.manual_seed(0)
    head = StandardRoIHead(num_classes=3, batch_size_per_image=8, positive_fraction=0.5,
                           box_head=dict(type='TwoFCBoxHead', in_channels=4, fc_channels=8))
    proposals = [torch.tensor([[0, 0, 10, 10], [50, 50, 60, 60], [1, 1, 10, 11.0]]),
                 torch.tensor([[0, 0, 10, 10.0]])]
    gt_boxes = [torch.tensor([[0, 0, 10, 10.0]]), torch.zeros(0, 4)]
    gt_labels = [torch.tensor([2]), torch.zeros(0, dtype=torch.int64)]
    sampled, labels, targets = head.sample_proposals(proposals, gt_boxes, gt_labels)
    assert sorted(labels[0].tolist()) == [2, 2, 2, 3]  # 3 overlap the gt (incl. itself), 1 background
    assert labels[1].tolist() == [3] and len(sampled[1]) == 1
    exact = (sampled[0] == gt_boxes[0]).all(1)
    assert torch.allclose(targets[0][exact], torch.zeros(4))
    features = {'0': torch.randn(2, 4, 8, 8)}
    losses = head.loss(features, proposals, (64, 64), gt_boxes, gt_labels)
    assert torch.isfinite(losses['loss_cls']) and torch.isfinite(losses['loss_bbox'])


def test_rpn_head_checks_levels_and_anchor_counts():
    with pytest.raises(ValueError, match='same number of anchors'):
        RPNHead(in_channels=8, anchor_sizes=((16,), (32, 64)), aspect_ratios=((1.0,),))
    rpn = RPNHead(in_channels=8, anchor_sizes=((16,), (32,)), aspect_ratios=((1.0,),)).eval()
    with pytest.raises(ValueError, match='2 feature levels'):
        rpn({'0': torch.zeros(1, 8, 4, 4)}, torch.zeros(1, 3, 64, 64), [(64, 64)])
    proposals, losses = rpn({'0': torch.zeros(1, 8, 4, 4), '1': torch.zeros(1, 8, 2, 2)},
                            torch.zeros(1, 3, 64, 64), [(60, 50)])
    assert losses == {} and proposals[0].shape[1] == 4
    assert proposals[0][:, 2].max() <= 50 and proposals[0][:, 3].max() <= 60
