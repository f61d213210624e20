"""Check that vmem's SAM 2 network computes what the official SAM 2 code computes.

    PYTHONPATH=/path/to/facebookresearch/sam2 python tools/model_converters/check_sam2_parity.py \
        --config sam2.1/sam2.1_hiera_t.yaml --image-size 256 --frames 6

The official package (github.com/facebookresearch/sam2; its modeling code is also what
PyPI's ``sam2`` 1.1.0 ships) is not a dependency of vmem: put it on PYTHONPATH (it needs
``hydra-core`` and ``iopath``). The script builds the official model from its config
with random weights (plus noise on every parameter, so no zero-initialised path goes
unchecked), converts the state dict with vmem's key mapping, loads it strictly, and
runs both on the same random video:

- frame 0: object 1 prompted with a mask, object 2 with one click, object 3 with a box;
  the official side runs each object alone and encodes the prompted frame's memory as
  its video predictor does (binarised, from the stride-4 masks);
- frames 1..N-1: all objects tracked from memory (vmem batches them; the official code
  runs them one by one).

It prints the largest absolute difference of every output and exits 1 if any exceeds
``--atol``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from vmem.models.trackers.sam2.checkpoint import convert_official_state_dict, load_official_weights  # noqa: E402
from vmem.models.trackers.sam2.frame_step import Prompt, StreamState, remember, segment_prompted, track  # noqa: E402
from vmem.models.trackers.sam2.network import SAM2Network  # noqa: E402
from vmem.models.trackers.sam2.object_memory import ObjectMemory  # noqa: E402

TRUNKS = {'t': 'sam2_hiera_tiny', 's': 'sam2_hiera_small', 'b+': 'sam2_hiera_base_plus', 'l': 'sam2_hiera_large'}


def build_official(config: str, image_size: int):
    from sam2.build_sam import build_sam2   # the official package, from PYTHONPATH
    overrides = [f'++model.image_size={image_size}', '++model.binarize_mask_from_pts_for_mem_enc=true']
    return build_sam2(config, ckpt_path=None, device='cpu', hydra_overrides_extra=overrides)


def official_step(model, image, frame_idx, output_dict, num_frames, *, mask=None, points=None):
    backbone = model.forward_image(image)
    _, feats, pos, sizes = model._prepare_backbone_features(backbone)
    prompted = mask is not None or points is not None
    out = model.track_step(frame_idx=frame_idx, is_init_cond_frame=prompted, current_vision_feats=feats,
                           current_vision_pos_embeds=pos, feat_sizes=sizes, point_inputs=points,
                           mask_inputs=mask, output_dict=output_dict, num_frames=num_frames,
                           run_mem_encoder=not prompted)
    if prompted:   # what SAM2VideoPredictor.propagate_in_video_preflight does
        high_res = F.interpolate(out['pred_masks'], size=image.shape[-2:], mode='bilinear', align_corners=False)
        out['maskmem_features'], out['maskmem_pos_enc'] = model._encode_new_memory(
            feats, sizes, high_res, out['object_score_logits'], is_mask_from_pts=True)
        output_dict['cond_frame_outputs'][frame_idx] = out
    else:
        output_dict['non_cond_frame_outputs'][frame_idx] = out
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default='configs/sam2.1/sam2.1_hiera_t.yaml',
                        help='official config name, e.g. configs/sam2.1/sam2.1_hiera_t.yaml or configs/sam2/sam2_hiera_s.yaml')
    parser.add_argument('--image-size', type=int, default=256)
    parser.add_argument('--frames', type=int, default=6)
    parser.add_argument('--atol', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--presence-bias', type=float, default=0.0,
                        help='added to the object-score head\'s output bias of both models: random weights '
                             'may judge every object absent, which leaves the mask path unchecked')
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    torch.set_grad_enabled(False)

    official = build_official(args.config, args.image_size)
    for param in official.parameters():
        param.add_(0.02 * torch.randn_like(param))
    official.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.add_(args.presence_bias)
    size_code = Path(args.config).stem.split('hiera_')[-1]
    sam21 = 'sam2.1' in args.config
    ours = SAM2Network(image_encoder=dict(trunk=dict(model_name=TRUNKS[size_code])), sam21=sam21).eval()
    load_official_weights(ours, convert_official_state_dict(official.state_dict()), source=args.config)

    size = args.image_size
    video = torch.randn(args.frames, 1, 3, size, size)
    mask = torch.zeros(1, 1, size, size)
    mask[..., size // 4: size // 2, size // 4: size // 2] = 1
    click = dict(point_coords=torch.tensor([[[0.7 * size, 0.6 * size]]]), point_labels=torch.tensor([[1]], dtype=torch.int32))
    box = dict(point_coords=torch.tensor([[[0.1 * size, 0.55 * size], [0.4 * size, 0.9 * size]]]),
               point_labels=torch.tensor([[2, 3]], dtype=torch.int32))
    prompts = {1: Prompt(mask=mask[0, 0].bool()),
               2: Prompt(points=click['point_coords'][0], labels=click['point_labels'][0]),
               3: Prompt(box=box['point_coords'][0].reshape(4))}
    official_prompts = {1: dict(mask=mask), 2: dict(points=click), 3: dict(points=box)}

    state = StreamState(memory=ObjectMemory(), image_size=(size, size), num_frames=args.frames)
    official_dicts = {i: dict(cond_frame_outputs={}, non_cond_frame_outputs={}) for i in prompts}
    worst = {}

    def compare(name, a, b):
        worst[name] = max(worst.get(name, 0.0), float((a - b).abs().max()))

    image_features_checked = False
    present = [0, 0]   # (object, frame) pairs the official model judged present, of all
    for frame_idx in range(args.frames):
        image = video[frame_idx]
        frame = ours.encode_image(image)
        if not image_features_checked:
            backbone = official.forward_image(image)
            for level, (a, b) in enumerate(zip(frame.high_res + [frame.features], backbone['backbone_fpn'])):
                compare(f'image features (level {level})', a, b)
            compare('image position encoding', frame.pos, backbone['vision_pos_enc'][-1])
            image_features_checked = True
        if frame_idx == 0:
            outputs = segment_prompted(ours, state, frame, 0, prompts)
            remember(ours, state, frame, 0, outputs, prompted=True)
        else:
            outputs = track(ours, state, frame, frame_idx, list(prompts))
            remember(ours, state, frame, frame_idx, outputs, prompted=False)
        for object_id, extra in official_prompts.items():
            ref = official_step(official, image, frame_idx, official_dicts[object_id], args.frames,
                                **(extra if frame_idx == 0 else {}))
            mine = outputs[object_id]
            present[0] += int((ref['object_score_logits'] > 0).sum())
            present[1] += 1
            compare('mask logits (stride 4)', mine.low_res_masks.clamp(min=-1024), ref['pred_masks'].clamp(min=-1024))
            compare('object score logits', mine.object_logits, ref['object_score_logits'])
            compare('object pointers', mine.pointer, ref['obj_ptr'])
            entry = state.memory.entries(object_id)[0]
            newest = max(entry, key=lambda e: e.frame_idx)
            compare('memory maps', newest.map[None], ref['maskmem_features'])

    width = max(len(k) for k in worst)
    failed = False
    print(f'{args.config}, {size}x{size}, {args.frames} frames, 3 objects (mask / click / box prompts); '
          f'object present in {present[0]} of {present[1]} object-frames')
    for name, diff in worst.items():
        status = 'ok' if diff <= args.atol else 'MISMATCH'
        failed |= diff > args.atol
        print(f'  {name:<{width}}  max |diff| {diff:.2e}  {status}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
