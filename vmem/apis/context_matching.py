"""Learning which memory entries Context R-CNN's RoIs attend to, from object identities.

With ``matched_init`` and ``learn_matching=False`` a RoI attends to the entries whose box
features are like its own. Training the matching with the detection loss drifts it to
entries of other objects (README). Here it is taught directly instead: on a labelled
split, a RoI that covers an object should attend to its camera's entries of the same
object (an identity from the annotations: SynthVID's ``roster_member``, the same recurring
object of a camera). The learned projection is then used, fixed, by Context R-CNN training.
"""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torchvision.ops import box_iou

from vmem.models.layers.context_attention import ContextAttention
from vmem.models.memory.camera_memory import CameraMemory

UNKNOWN = -1   # an entry or RoI that covers no ground-truth object


@dataclass(frozen=True)
class ObjectMatch:
    identity: int
    category: int
    degraded: bool


class ObjectIdentities:
    """Ground-truth boxes of a CocoVID file by image id, each with its ``key`` (an
    annotation field naming the object, e.g. 'roster_member'), class and degraded flag."""

    def __init__(self, path: str, *, key: str = 'roster_member'):
        data = json.loads(Path(path).read_text())
        self.by_image: Dict[int, list] = collections.defaultdict(list)
        for ann in data['annotations']:
            if key not in ann:
                hint = ' (SynthVID: generate it with --camera-roster)' if key == 'roster_member' else ''
                raise ValueError(f'{path}: annotation {ann.get("id")} has no {key!r}{hint}')
            x, y, w, h = ann['bbox']
            match = ObjectMatch(int(ann[key]), int(ann['category_id']), bool(ann.get('degraded', False)))
            self.by_image[ann['image_id']].append(([x, y, x + w, y + h], match))

    def match(self, image_id: int, boxes: torch.Tensor, iou_thr: float = 0.5) -> List[Optional[ObjectMatch]]:
        """For each xyxy box (original image pixels): the object it covers at IoU >= ``iou_thr``, or None."""
        truth = self.by_image.get(image_id, [])
        if not truth or len(boxes) == 0:
            return [None] * len(boxes)
        best, index = box_iou(boxes.float(), torch.tensor([t[0] for t in truth], dtype=torch.float)).max(1)
        return [truth[i][1] if iou >= iou_thr else None for iou, i in zip(best.tolist(), index.tolist())]


def entry_matches(memory: CameraMemory, camera: int, slots: torch.Tensor, identities: ObjectIdentities,
                  image_size: Tuple[int, int]) -> List[Optional[ObjectMatch]]:
    """The object each bank entry was detected on (its stored box against the ground truth
    of the frame that wrote it), or None. ``image_size``: (width, height) of the frames."""
    bank = memory.bank.bank(camera)
    keys = bank.gather(slots, columns=('keys',)).keys
    width, height = image_size
    cx, cy, w, h = (keys[:, memory.feature_dim:memory.feature_dim + 4] *
                    torch.tensor([width, height, width, height])).unbind(1)
    boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    images = bank.field('image_id')[slots].tolist()
    return [identities.match(int(image), box[None])[0] for image, box in zip(images, boxes)]


@dataclass
class CameraSet:
    """Box features of one camera with their object identity (UNKNOWN: none) and image."""
    features: torch.Tensor
    identity: torch.Tensor
    image_id: torch.Tensor
    degraded: torch.Tensor


def bank_sets(memory: CameraMemory, identities: ObjectIdentities, image_size: Tuple[int, int]) -> Dict[int, CameraSet]:
    """Every camera's bank entries (features only) with the objects they were detected on."""
    sets = {}
    for camera in memory.cameras:
        bank = memory.bank.bank(camera)
        slots = bank.read(bank.mask()).slots
        matches = entry_matches(memory, camera, slots, identities, image_size)
        sets[camera] = CameraSet(
            features=bank.gather(slots, columns=('keys',)).keys[:, :memory.feature_dim],
            identity=torch.tensor([UNKNOWN if m is None else m.identity for m in matches]),
            image_id=bank.field('image_id')[slots].clone(),
            degraded=torch.tensor([bool(m and m.degraded) for m in matches]))
    return sets


@torch.no_grad()
def roi_sets(detector, frames, identities: ObjectIdentities, *, per_frame: int = 32,
             generator: Optional[torch.Generator] = None) -> Dict[int, CameraSet]:
    """Box features of a detector's proposals that cover an object (IoU >= 0.5), up to
    ``per_frame`` of them per frame, by camera. ``frames``: batches of a test dataloader
    (no flips, so boxes map back to the annotations through the scale factor alone)."""
    found = collections.defaultdict(list)
    detector.eval()
    for batch in frames:
        data = detector.data_preprocessor(batch, False)
        inputs, samples = data['inputs'], detector.key_samples(data['data_samples'])
        features, proposals, batch_shape, _ = detector.propose(inputs, samples)
        for index, (sample, boxes) in enumerate(zip(samples, proposals)):
            meta = sample.metainfo
            if meta.get('camera') is None:
                continue
            scale = meta.get('scale_factor', (1.0, 1.0))
            matches = identities.match(meta['img_id'], boxes / boxes.new_tensor([*scale, *scale]))
            covering = torch.tensor([i for i, m in enumerate(matches) if m is not None], dtype=torch.long)
            covering = covering[torch.randperm(len(covering), generator=generator)[:per_frame]]
            if len(covering) == 0:
                continue
            one = {key: value[index:index + 1] for key, value in features.items()}
            box_features = detector.box_features(one, [boxes[covering]], batch_shape)[0]
            for row, i in zip(box_features, covering.tolist()):
                found[int(meta['camera'])].append((row, matches[i].identity, meta['img_id'], matches[i].degraded))
    return {camera: CameraSet(features=torch.stack([r[0] for r in rows]),
                              identity=torch.tensor([r[1] for r in rows]),
                              image_id=torch.tensor([r[2] for r in rows]),
                              degraded=torch.tensor([r[3] for r in rows]))
            for camera, rows in found.items()}


def _logits(embed, rois: CameraSet, entries: CameraSet) -> torch.Tensor:
    cosines = embed(rois.features) @ embed(entries.features).t()
    # a frame never reads its own entries (as at inference)
    return cosines.masked_fill(rois.image_id[:, None] == entries.image_id[None, :], float('-inf'))


def _embedder(attention: ContextAttention, weight: torch.Tensor, bias: torch.Tensor):
    def embed(features: torch.Tensor) -> torch.Tensor:
        projected = features @ weight.t() + bias
        return F.normalize(F.relu(projected) if attention.embedding == 'relu' else projected, dim=-1)
    return embed


def learn_matching(attention: ContextAttention, rois: Dict[int, CameraSet], entries: Dict[int, CameraSet], *,
                   steps: int = 500, lr: float = 1e-3, rois_per_camera: int = 64,
                   generator: Optional[torch.Generator] = None) -> List[float]:
    """Train ``attention``'s query projection so that each RoI's softmax (at the
    attention's temperature) over its camera's entries puts its weight on entries of its
    own object (neighbourhood component analysis: minus the log of that weight). The key
    projection's feature part is then set to the same projection and its other part
    (box, time) to zero, as ``matched_init`` starts it; the attention should be built with
    ``learn_matching=False`` so detection training keeps it. Returns the loss per step."""
    if attention.key.in_features < attention.query.in_features:
        raise ValueError('learned matching needs entries that start with the RoI features (entry_dim >= dim)')
    weight = attention.query.weight.detach().clone().requires_grad_(True)
    bias = attention.query.bias.detach().clone().requires_grad_(True)
    embed = _embedder(attention, weight, bias)
    optimizer = torch.optim.Adam([weight, bias], lr=lr)
    cameras = [c for c in rois if c in entries and (entries[c].identity != UNKNOWN).any()]
    if not cameras:
        raise ValueError('no camera has both RoIs and identified bank entries to learn from')
    history = []
    for _ in range(steps):
        loss, count = 0.0, 0
        for camera in cameras:
            pick = torch.randperm(len(rois[camera].identity), generator=generator)[:rois_per_camera]
            batch = CameraSet(*(getattr(rois[camera], f)[pick] for f in ('features', 'identity', 'image_id',
                                                                         'degraded')))
            log_weights = torch.log_softmax(_logits(embed, batch, entries[camera]) / attention.temperature, dim=1)
            same = batch.identity[:, None] == entries[camera].identity[None, :]
            same &= torch.isfinite(log_weights)
            has = same.any(1)
            loss = loss - torch.logsumexp(log_weights.masked_fill(~same, float('-inf')), 1)[has].sum()
            count += int(has.sum())
        loss = loss / max(count, 1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(float(loss.detach()))
    with torch.no_grad():
        dim = attention.query.in_features
        attention.query.weight.copy_(weight)
        attention.query.bias.copy_(bias)
        attention.key.weight.zero_()
        attention.key.weight[:, :dim] = weight
        attention.key.bias.copy_(bias)
    return history


@torch.no_grad()
def retrieval_quality(attention: ContextAttention, rois: Dict[int, CameraSet],
                      entries: Dict[int, CameraSet]) -> Dict[str, Tuple[float, float]]:
    """For RoIs on clean and on degraded objects: how often the most similar entry is the
    same object, and the softmax weight (at the attention's temperature, without a null
    key) on entries of the same object."""
    embed = _embedder(attention, attention.query.weight, attention.query.bias)
    totals = {'clean': [0, 0.0, 0], 'degraded': [0, 0.0, 0]}
    for camera, camera_rois in rois.items():
        if camera not in entries:
            continue
        logits = _logits(embed, camera_rois, entries[camera])
        weights = torch.softmax(logits / attention.temperature, dim=1)
        same = camera_rois.identity[:, None] == entries[camera].identity[None, :]
        top_same = same.gather(1, logits.argmax(1, keepdim=True))[:, 0]
        on_same = (weights * same).sum(1)
        for kind, rows in (('clean', ~camera_rois.degraded), ('degraded', camera_rois.degraded)):
            totals[kind][0] += int(top_same[rows].sum())
            totals[kind][1] += float(on_same[rows].sum())
            totals[kind][2] += int(rows.sum())
    return {kind: (top / n, weight / n) for kind, (top, weight, n) in totals.items() if n}
