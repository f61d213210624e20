"""ScoreMemory: which past detections vote, with what weight, and bad arguments."""
import pytest
import torch

from vmem.models.memory import ScoreMemory

BOX = torch.tensor([[10., 10., 50., 50.]])
FAR = torch.tensor([[100., 100., 140., 140.]])


def memory(**kwargs):
    kwargs.setdefault('num_frames', 3)
    kwargs.setdefault('past_weight', 0.5)
    return ScoreMemory(**kwargs)


def test_linked_past_frames_vote_with_their_same_class_scores():
    mem = memory()
    mem.write(BOX, torch.tensor([0.9]), torch.tensor([2]), frame_id=0)
    # frame 1: the same place, another class scores higher; both stored
    mem.write(torch.cat([BOX, BOX + 1]), torch.tensor([0.8, 0.3]), torch.tensor([5, 2]), frame_id=1)
    new = mem.rescore(BOX, torch.tensor([0.2]), torch.tensor([2]), frame_id=2)
    # frame 0 votes 0.9, frame 1 votes 0.3 (its best box of class 2); each weighs 0.5
    assert new.item() == pytest.approx((0.2 + 0.5 * (0.9 + 0.3)) / (1 + 0.5 * 2))
    # a class no linked box had: the linked frames vote 0 and pull the score down
    other = mem.rescore(BOX, torch.tensor([0.6]), torch.tensor([7]), frame_id=2)
    assert other.item() == pytest.approx(0.6 / 2)


def test_unlinked_detections_and_frames_outside_the_window_keep_their_scores():
    mem = memory(num_frames=2)
    mem.write(BOX, torch.tensor([0.9]), torch.tensor([2]), frame_id=0)
    assert mem.rescore(FAR, torch.tensor([0.4]), torch.tensor([2]), frame_id=1).item() == pytest.approx(0.4)
    # frame 0 is 2 frames before frame 2: still in the window; not before frame 3
    assert mem.rescore(BOX, torch.tensor([0.4]), torch.tensor([2]), frame_id=2).item() > 0.4
    assert mem.rescore(BOX, torch.tensor([0.4]), torch.tensor([2]), frame_id=3).item() == pytest.approx(0.4)
    # the current frame and later ones never vote (online)
    assert mem.rescore(BOX, torch.tensor([0.4]), torch.tensor([2]), frame_id=0).item() == pytest.approx(0.4)
    empty = mem.rescore(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), frame_id=1)
    assert empty.shape == (0,)


def test_iou_threshold_links_and_several_boxes_of_one_frame_count_once():
    mem = memory(iou_thr=0.5)
    shifted = BOX + torch.tensor([15., 0., 15., 0.])  # IoU 25/55 with BOX
    mem.write(torch.cat([shifted, BOX]), torch.tensor([0.7, 0.5]), torch.tensor([1, 1]), frame_id=4)
    new = mem.rescore(BOX, torch.tensor([0.1]), torch.tensor([1]), frame_id=5)
    assert new.item() == pytest.approx((0.1 + 0.5 * 0.5) / 1.5)  # only BOX is linked
    loose = memory(iou_thr=0.4)
    loose.write(torch.cat([shifted, BOX]), torch.tensor([0.7, 0.5]), torch.tensor([1, 1]), frame_id=4)
    new = loose.rescore(BOX, torch.tensor([0.1]), torch.tensor([1]), frame_id=5)
    assert new.item() == pytest.approx((0.1 + 0.5 * 0.7) / 1.5)  # the best linked box, one frame


def test_writes_keep_the_best_detections_and_the_memory_is_bounded():
    mem = memory(num_frames=2, max_per_frame=2)
    for frame in range(5):
        mem.write(torch.tensor([[0., 0., 10., 10.]] * 3) + frame, torch.tensor([0.1, 0.9, 0.5]),
                  torch.tensor([0, 1, 2]), frame_id=frame)
        assert mem.size() <= 4
    read = mem.bank(0).read()
    assert sorted(read.fields['label'].tolist()) == [1, 1, 2, 2]
    assert sorted(read.fields['frame_id'].tolist()) == [3, 3, 4, 4]
    mem.reset()
    assert mem.size() == 0


@pytest.mark.parametrize('kwargs, name', [
    (dict(num_frames=0), 'num_frames'), (dict(num_frames=True), 'num_frames'),
    (dict(iou_thr=0.0), 'iou_thr'), (dict(iou_thr=1.5), 'iou_thr'),
    (dict(past_weight=-1.0), 'past_weight'), (dict(past_weight=float('nan')), 'past_weight'),
    (dict(max_per_frame=0), 'max_per_frame')])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ScoreMemory(**kwargs)
