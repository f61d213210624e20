"""vmem's PatchCore side by side with anomalib's, on the same images and the same backbone weights.

    # real textures, torchvision's real ImageNet MobileNetV2 (make assets), anomalib installed here:
    python tools/benchmark/patchcore_vs_anomalib.py --install-anomalib --data-root data/real_texture_anomaly \
        --category brick grass gravel --backbone mobilenetv2_100 \
        --backbone-file .cache/assets/mobilenet_v2-b0353104.pth --size 224 --target-dims none
    # a synthetic category, a seeded random WideResNet-50-2, anomalib in its own virtualenv:
    python tools/benchmark/patchcore_vs_anomalib.py --anomalib-python /tmp/anomalib_venv/bin/python

Both sides get the same normalised images and the same backbone weights: ``--backbone-file``
(a timm or torchvision file, loaded by vmem's TimmBackbone) or a seeded random timm model;
the feature extractor's state dict is saved once and loaded into both. Both take the
backbone's feature levels ``--out-indices`` (anomalib by their timm module names).
``--install-anomalib`` installs anomalib 2.7.0 and the pure-python packages its PatchCore
imports with ``pip install --no-deps --target`` into ``--anomalib-path`` (default
``.cache/peers/anomalib``), never into vmem's environment, and runs anomalib's side with this
python and that folder first on its path (torch, timm and numpy stay vmem's). Reported per side: image and pixel AUROC, PRO (all
three computed by vmem's metric functions from each side's scores and maps), coreset
selection time (vmem's ``greedy_coreset`` vs anomalib's ``KCenterGreedy``) and the peak
resident memory added while selecting. anomalib runs in its own virtualenv (pass its
python with ``--anomalib-python``); without it, or when it cannot import anomalib, the
script says so and reports vmem's side only.

Per category and side: image and pixel AUROC and PRO, the fit time (feature extraction
over the training images plus the coreset), the predict time per test image, and the peak
memory added while fitting. Each side builds its coreset once per ``--seeds`` seed (the random start, and the random
projection the greedy search measures distances in), on the same features; the table
gives the mean and range over them. On these small categories one seed moves AUROC by
0.01-0.03, more than the sides differ. A last line scores the bank anomalib's first
coreset chose with vmem's scoring (nearest-neighbour map upsampling, as anomalib): equal
numbers show that the sides differ only in which patches their coresets keep.

Then, vmem only: building a 1% coreset bank from ``--big-patches`` (200000) random
1024-d patch features, and scoring 2048 patches against a 200000-entry bank with a
bounded retrieval chunk: peak memory added stays near the chunk, not n x N.
Peak memory is the kernel's high-water mark (VmHWM), reset just before each measured step.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
# anomalib's PatchCore and what it imports beyond torch / timm / numpy (pinned: the versions
# this script was run with); installed with --no-deps so vmem's torch is the one used
ANOMALIB_PACKAGES = (
    'anomalib==2.7.0', 'lightning==2.6.6', 'lightning-utilities==0.15.3', 'torchmetrics==1.9.0',
    'jsonargparse==4.53.0', 'omegaconf==2.4.0', 'kornia==0.9.2', 'kornia_rs==0.2.0', 'einops==0.8.2',
    'FrEIA==0.2', 'tifffile==2026.3.3', 'pandas==3.1.2', 'scikit-learn==1.9.1', 'scipy==1.17.1',
    'joblib==1.6.0', 'threadpoolctl==3.8.0', 'narwhals==2.29.0', 'cloudpickle==3.1.3',
    'scikit-image==0.26.0', 'lazy_loader==0.6')
DEFAULT_ANOMALIB_PATH = Path(__file__).resolve().parents[2] / '.cache' / 'peers' / 'anomalib'


# ---------------------------------------------------------------- measuring (both sides)
def _status_kib(field: str) -> int:
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure(step):
    """(result, seconds, peak MiB added over the resident size before the step)."""
    Path('/proc/self/clear_refs').write_text('5')  # resets VmHWM to the current RSS
    before = _status_kib('VmRSS')
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    return result, seconds, (_status_kib('VmHWM') - before) / 1024


def batches(tensor: torch.Tensor, size: int = 8):
    return [tensor[i:i + size] for i in range(0, len(tensor), size)]


# ---------------------------------------------------------------- anomalib side (child process)
def run_anomalib(work: Path, ratio: float, num_neighbours: int, seeds: list[int]) -> None:
    from anomalib.models.components import KCenterGreedy
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel
    torch.set_num_threads(1)
    data = torch.load(work / 'images.pt', weights_only=True)
    meta = json.loads((work / 'meta.json').read_text())
    model = PatchcoreModel(layers=meta['layers'], backbone=meta['backbone'], pre_trained=False,
                           num_neighbors=num_neighbours)
    model.feature_extractor.feature_extractor.load_state_dict(torch.load(work / 'backbone.pt', weights_only=True))

    def extract():
        model.train()
        with torch.no_grad():
            for images in batches(data['train']):
                model(images)
        embeddings = torch.vstack(model.embedding_store)
        model.embedding_store.clear()
        return embeddings

    embeddings, extract_seconds, extract_peak = measure(extract)
    runs = []
    for seed in seeds:
        # KCenterGreedy's start is drawn by torch; its sparse projection's columns by
        # sklearn with numpy's global generator: seed both, or runs differ
        torch.manual_seed(seed)
        np.random.seed(seed)
        sampler = KCenterGreedy(embedding=embeddings, sampling_ratio=ratio)
        kept, seconds, peak = measure(sampler.select_coreset_idxs)
        model.memory_bank = embeddings[kept]
        model.eval()

        def predict():
            scores, maps = [], []
            with torch.no_grad():
                for images in batches(data['test']):
                    out = model(images)
                    scores.append(out.pred_score.reshape(-1))
                    maps.append(out.anomaly_map.reshape(len(images), *images.shape[-2:]))
            return torch.cat(scores), torch.cat(maps)

        (scores, maps), predict_seconds, _ = measure(predict)
        runs.append(dict(scores=scores, maps=maps, kept=torch.tensor(kept), coreset_seconds=seconds,
                         fit_seconds=extract_seconds + seconds, fit_peak_mib=max(extract_peak, peak),
                         predict_ms=1000 * predict_seconds / len(data['test'])))
    torch.save(runs, work / 'anomalib_out.pt')
    import anomalib
    print(json.dumps(dict(bank=len(kept), patches=len(embeddings), dim=embeddings.shape[1],
                          version=anomalib.__version__, torch=torch.__version__)))


def install_anomalib(path: Path) -> None:
    """anomalib and its pure-python imports into ``path`` (once), outside vmem's environment."""
    stamp = path / '.installed'
    if stamp.is_file() and stamp.read_text() == '\n'.join(ANOMALIB_PACKAGES):
        return
    path.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, '-m', 'pip', 'install', '--quiet', '--no-deps', '--target', str(path),
               *ANOMALIB_PACKAGES]
    print(f'# installing anomalib into {path}: {" ".join(command)}', file=sys.stderr)
    subprocess.run(command, check=True)
    stamp.write_text('\n'.join(ANOMALIB_PACKAGES))


# ---------------------------------------------------------------- vmem side
def backbone_config(args) -> dict:
    config = dict(type='TimmBackbone', model_name=args.backbone, out_indices=tuple(args.out_indices))
    if args.backbone_file:
        config['init_cfg'] = dict(type='Pretrained', checkpoint=args.backbone_file)
    return config


def prepare(work: Path, args, category_name: str) -> dict:
    import cv2

    from vmem.datasets.synthetic_anomaly import generate_category
    from vmem.models.backbones import TimmBackbone
    from vmem.video import list_frame_folder, read_image
    root = Path(args.data_root) if args.data_root else work / 'data'
    if not (root / category_name).is_dir():
        if args.data_root:
            raise SystemExit(f'{root / category_name} is missing (generate it first; see the docstring)')
        generate_category(root, category_name, size=args.size, seed=0)
    category = root / category_name

    def load(paths):
        images = [cv2.resize(read_image(p), (args.size, args.size), interpolation=cv2.INTER_LINEAR) for p in paths]
        tensor = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255
        return (tensor - IMAGENET_MEAN) / IMAGENET_STD

    test_paths, labels, masks = [], [], []
    for folder in sorted(p for p in (category / 'test').iterdir() if p.is_dir()):
        for path in list_frame_folder(folder):
            test_paths.append(path)
            labels.append(int(folder.name != 'good'))
            mask = np.zeros((args.size, args.size), bool)
            if folder.name != 'good':
                raw = cv2.imread(str(category / 'ground_truth' / folder.name / f'{path.stem}_mask.png'), 0)
                mask = cv2.resize(raw, (args.size, args.size), interpolation=cv2.INTER_NEAREST) > 0
            masks.append(mask)
    data = dict(train=load(list_frame_folder(category / 'train' / 'good')), test=load(test_paths),
                labels=torch.tensor(labels), masks=torch.from_numpy(np.stack(masks)))
    torch.save(data, work / 'images.pt')
    torch.manual_seed(0)
    backbone = TimmBackbone(**{k: v for k, v in backbone_config(args).items() if k != 'type'})
    backbone.init_weights()
    torch.save(backbone.body.state_dict(), work / 'backbone.pt')
    layers = list(backbone.body.feature_info.module_name())  # anomalib names the levels by module
    (work / 'meta.json').write_text(json.dumps(dict(backbone=args.backbone, layers=layers)))
    return data


def vmem_model(work: Path, args, target_dim, seed: int, ratio: float | None = None, upsampling: str = 'bilinear'):
    from vmem.models.anomaly import PatchCore
    model = PatchCore(backbone=dict(type='TimmBackbone', model_name=args.backbone, out_indices=tuple(args.out_indices)),
                      target_dim=target_dim, coreset_ratio=args.ratio if ratio is None else ratio,
                      reweight_neighbours=args.num_neighbours, seed=seed, map_upsampling=upsampling)
    model.features.backbone.body.load_state_dict(torch.load(work / 'backbone.pt', weights_only=True))
    return model.eval()


def vmem_features(model, images: torch.Tensor) -> torch.Tensor:
    """Patch features [N, D] of the training images."""
    collected = []
    with torch.no_grad():
        for batch in batches(images):
            patches = model.features(batch)
            collected.append(patches.permute(0, 2, 3, 1).reshape(-1, patches.shape[1]))
    return torch.cat(collected)


def vmem_scores(model, data: dict) -> dict:
    scores, maps = [], []
    with torch.no_grad():
        for images in batches(data['test']):
            anomaly_maps, image_scores = model.score(images)
            scores.append(image_scores)
            maps.append(anomaly_maps)
    return dict(scores=torch.cat(scores), maps=torch.cat(maps))


def run_vmem(work: Path, data: dict, args, target_dim) -> list[dict]:
    """One run per seed (the coreset's random start and projection), on the same features."""
    runs, features = [], None
    for seed in args.seeds:
        model = vmem_model(work, args, target_dim, seed)
        if features is None:
            features, extract_seconds, extract_peak = measure(lambda: vmem_features(model, data['train']))
        bank, seconds, peak = measure(lambda: model.build_memory(features))
        result, predict_seconds, _ = measure(lambda: vmem_scores(model, data))
        runs.append(dict(result, coreset_seconds=seconds, fit_seconds=extract_seconds + seconds,
                         fit_peak_mib=max(extract_peak, peak), predict_ms=1000 * predict_seconds / len(data['test']),
                         bank=len(bank), patches=len(features), dim=features.shape[1]))
    return runs


def vmem_on_anomalib_coreset(work: Path, data: dict, args, kept: torch.Tensor) -> dict:
    """vmem's scoring with the bank anomalib's coreset chose: separates scoring from selection."""
    # ratio 1: the bank is all it is given; anomalib upsamples maps by nearest neighbour
    model = vmem_model(work, args, None, 0, ratio=1.0, upsampling='nearest')
    model.build_memory(vmem_features(model, data['train'])[kept])
    return vmem_scores(model, data)


def accuracy(result: dict, data: dict) -> dict:
    from vmem.evaluation.metrics.anomaly_metric import auroc, pro_score
    labels, masks = data['labels'].numpy(), data['masks'].numpy()
    maps = result['maps'].numpy()
    return dict(image_auroc=auroc(result['scores'].numpy(), labels),
                pixel_auroc=auroc(maps.ravel(), masks.ravel()),
                pro=pro_score(list(maps), list(masks)))


def big_bank(args) -> list[str]:
    from vmem.memory import MemoryBank, greedy_coreset
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(args.big_patches, 1024, generator=generator)
    num = args.big_patches // 100
    _, seconds, peak = measure(lambda: greedy_coreset(features, num, generator=generator))
    naive = args.big_patches ** 2 * 4 / 2 ** 30
    lines = [f'| vmem greedy_coreset, {args.big_patches} x 1024 -> {num} (1%) | {seconds:.1f} s | '
             f'{peak:.0f} MiB added (features: {features.numel() * 4 / 2 ** 20:.0f} MiB; an N x N matrix '
             f'would be {naive:.0f} GiB) |']
    bank = MemoryBank(capacity=args.big_patches, dim=1024)
    bank.write(features)
    queries = torch.randn(2048, 1024, generator=generator)
    for chunk in (1 << 20, 1 << 23):
        _, seconds, peak = measure(lambda: bank.topk(queries, 1, metric='l2', chunk_elements=chunk))
        lines.append(f'| vmem scoring 2048 patches vs a {args.big_patches}-entry bank, chunk {chunk} '
                     f'distances | {seconds:.1f} s | {peak:.0f} MiB added (n x N distances would be '
                     f'{2048 * args.big_patches * 4 / 2 ** 20:.0f} MiB) |')
    return lines


def run_anomalib_side(work: Path, args) -> tuple[list | None, str]:
    """anomalib's runs (or None) and a line saying what ran."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    if args.anomalib_python:
        python = args.anomalib_python
    elif args.install_anomalib or args.anomalib_path:
        path = Path(args.anomalib_path or DEFAULT_ANOMALIB_PATH)
        if args.install_anomalib:
            install_anomalib(path)
        python = sys.executable
        env['PYTHONPATH'] = os.pathsep.join([str(path), env.get('PYTHONPATH', '')])
    else:
        return None, 'anomalib: not run (no --install-anomalib, --anomalib-path or --anomalib-python given)'
    command = [python, __file__, '--anomalib-side', str(work), '--ratio', str(args.ratio),
               '--num-neighbours', str(args.num_neighbours), '--seeds', *map(str, args.seeds)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return None, f'anomalib: NOT importable or failed with {python}: ' + (done.stderr.strip().splitlines() or ['?'])[-1]
    info = json.loads(done.stdout.strip().splitlines()[-1])
    runs = torch.load(work / 'anomalib_out.pt', weights_only=True)
    for run in runs:
        run.update(bank=info['bank'], patches=info['patches'], dim=info['dim'])
    where = env.get('PYTHONPATH', '').split(os.pathsep)[0] if python == sys.executable else python
    return runs, f'anomalib {info["version"]} (torch {info["torch"]}) from {where}'


def table(rows: dict, data: dict) -> list[str]:
    lines = ['| model | image AUROC | pixel AUROC | PRO | patches -> bank | fit s | predict ms / image | '
             'fit peak MiB |', '|---|---|---|---|---|---|---|---|']
    for name, runs in rows.items():
        metrics = [accuracy(run, data) for run in runs]
        cells = []
        for key in ('image_auroc', 'pixel_auroc', 'pro'):
            values = [m[key] for m in metrics]
            cells.append(f'{np.mean(values):.4f} ({min(values):.4f}-{max(values):.4f})')
        fit = float(np.median([run['fit_seconds'] for run in runs]))
        predict = float(np.median([run['predict_ms'] for run in runs]))
        peak = max(run['fit_peak_mib'] for run in runs)
        lines.append(f'| {name} | {" | ".join(cells)} | {runs[0]["patches"]} -> {runs[0]["bank"]} | {fit:.2f} | '
                     f'{predict:.1f} | {peak:.0f} |')
    return lines


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    peer = parser.add_argument_group('the anomalib side (one of these; none: vmem only)')
    peer.add_argument('--install-anomalib', action='store_true',
                      help='pip install --no-deps --target anomalib and its imports into --anomalib-path')
    peer.add_argument('--anomalib-path', help=f'folder holding anomalib (default {DEFAULT_ANOMALIB_PATH})')
    peer.add_argument('--anomalib-python', help="python of a virtualenv with anomalib (not vmem's)")
    parser.add_argument('--data-root', help='MVTec-layout root holding the categories (default: generate synthetic ones)')
    parser.add_argument('--category', nargs='+', default=['weave'])
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument('--backbone', default='wide_resnet50_2')
    parser.add_argument('--backbone-file', help='weights for --backbone (timm or torchvision file; default: seeded random)')
    parser.add_argument('--out-indices', type=int, nargs=2, default=[2, 3],
                        help="the backbone's two feature levels (timm indices; WRN-50: layer2, layer3)")
    parser.add_argument('--target-dims', nargs='+', default=['none', '1024'],
                        help="vmem PatchCore variants: 'none' = the concatenation (as anomalib), N = channel-pooled")
    parser.add_argument('--ratio', type=float, default=0.1)
    parser.add_argument('--num-neighbours', type=int, default=9, help="reweighting b (anomalib's num_neighbors)")
    parser.add_argument('--big-patches', type=int, default=200000, help='0 skips the large-bank measurements')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4],
                        help="coreset seeds, each side: one coreset's random start decides a 0.01-0.03 AUROC")
    parser.add_argument('--anomalib-side', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.anomalib_side:
        run_anomalib(Path(args.anomalib_side), args.ratio, args.num_neighbours, args.seeds)
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    target_dims = [None if dim.lower() == 'none' else int(dim) for dim in args.target_dims]
    torch.set_num_threads(1)
    weights = args.backbone_file or 'seeded random weights'
    print(f'# PatchCore: vmem vs anomalib, {datetime.datetime.now():%Y-%m-%d %H:%M}, {platform.machine()} '
          f'{_cpu_name()}, 1 torch thread each, torch {torch.__version__}')
    print(f'# {args.size} px, {args.backbone} feature levels {args.out_indices} ({weights}), coreset '
          f'{args.ratio:.0%}, reweighting b={args.num_neighbours}, sigma 4; coreset seeds {args.seeds}: '
          'mean (min-max) over them; times are medians')
    for category in args.category:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            data = prepare(work, args, category)
            rows = {}
            anomalib_runs, anomalib_note = run_anomalib_side(work, args)
            if anomalib_runs:
                rows[f'anomalib PatchCore ({anomalib_runs[0]["dim"]}-d)'] = anomalib_runs
            for target_dim in target_dims:
                runs = run_vmem(work, data, args, target_dim)
                rows[f'vmem PatchCore ({runs[0]["dim"]}-d{", channel-pooled" if target_dim else ""})'] = runs
            print(f'\n## category {category!r}: {len(data["train"])} train, {len(data["test"])} test images '
                  f'({int(data["labels"].sum())} defective)')
            print(f'# {anomalib_note}')
            print('\n'.join(table(rows, data)))
            if anomalib_runs:
                # the same bank through vmem's scoring: equal metrics mean the two sides differ
                # only in which patches their coresets keep
                mine = accuracy(vmem_on_anomalib_coreset(work, data, args, anomalib_runs[0]['kept']), data)
                theirs = accuracy(anomalib_runs[0], data)
                print(f'# vmem scoring on the bank of anomalib\'s coreset (seed {args.seeds[0]}): '
                      + ', '.join(f'{key} {mine[key]:.4f} (anomalib {theirs[key]:.4f})' for key in mine))
    if args.big_patches > 0:
        print()
        print('| large bank (vmem) | time | peak memory |')
        print('|---|---|---|')
        for line in big_bank(args):
            print(line)


def _cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


if __name__ == '__main__':
    main()
