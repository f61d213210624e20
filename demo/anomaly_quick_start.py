"""The real-data quick start: PatchCore with real ImageNet features on real photos (`make anomaly-demo`).

1. write the real-texture anomaly set from scikit-image's photos (brick, grass, gravel,
   with foreign regions, scratches and holes; `vmem.datasets.real_texture_anomaly`);
2. per texture, build PatchCore's memory bank from its normal crops with tools/train.py,
   on torchvision's real ImageNet MobileNetV2 (fetched by `make assets`);
3. score the held-out test crops with tools/test.py (image AUROC, pixel AUROC, PRO);
4. draw the anomaly heat maps of the defective test images (`vmem.apis.AnomalyInferencer`,
   what demo/anomaly_demo.py runs).

Every step is one of the toolkit's commands, printed before it runs. About a minute and a
half on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = 'configs/patchcore/patchcore_mobilenetv2_real_textures.py'
TEXTURES = ('brick', 'grass', 'gravel')
METRICS = ('image_AUROC', 'pixel_AUROC', 'PRO')


def run(command: list[str]) -> str:
    print('$ python ' + ' '.join(shlex.quote(part) for part in command), flush=True)
    result = subprocess.run([sys.executable, *command], cwd=ROOT, text=True, stdout=subprocess.PIPE)
    if result.returncode != 0:
        print(result.stdout[-3000:])
        sys.exit(f'anomaly quick start: the step above failed (exit status {result.returncode})')
    return result.stdout


def draw_heat_maps(test_dir: Path, checkpoint: Path, out_dir: Path) -> None:
    from vmem.apis import AnomalyInferencer, init_model
    from vmem.video import write_image
    inferencer = AnomalyInferencer(model=init_model(str(ROOT / CONFIG), str(checkpoint)))
    written = 0
    for defect_dir in sorted(p for p in test_dir.iterdir() if p.is_dir() and p.name != 'good'):
        for prediction in inferencer(str(defect_dir)):
            name = Path(prediction.source).name
            write_image(str(out_dir / defect_dir.name / name), inferencer.draw(prediction))
            written += 1
    print(f'{written} heat maps in {out_dir}')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data-root', default='data/real_texture_anomaly')
    parser.add_argument('--work-dir', default='work_dirs/anomaly_quick_start')
    parser.add_argument('--categories', nargs='+', default=list(TEXTURES), choices=TEXTURES)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    data_root, work_dir = Path(args.data_root), Path(args.work_dir)
    print(f'== 1/4 the real-texture anomaly set in {data_root}')
    run(['tools/dataset_converters/make_real_texture_anomaly.py', '--out-dir', str(data_root),
         '--categories', *args.categories])
    results = {}
    for category in args.categories:
        options = [f'{loader}.dataset.{key}={value}' for loader in ('train_dataloader', 'test_dataloader')
                   for key, value in (('data_root', f'{data_root}/'), ('categories', f'[{category}]'))]
        category_dir = work_dir / category
        print(f'\n== 2/4 {category}: the memory bank of its normal crops')
        run(['tools/train.py', CONFIG, '--work-dir', str(category_dir), '--cfg-options', *options])
        checkpoint = category_dir / 'epoch_1.pth'
        print(f'\n== 3/4 {category}: scoring the test crops')
        output = run(['tools/test.py', CONFIG, str(checkpoint), '--work-dir', str(category_dir / 'test'),
                      '--cfg-options', *options])
        results[category] = {name: float(value) for name, value in
                             re.findall(rf'anomaly/{category}/(\w+): ([0-9.]+)', output) if name in METRICS}
        print(f'\n== 4/4 {category}: heat maps of the defective test images')
        draw_heat_maps(data_root / category / 'test', checkpoint, work_dir / 'heatmaps' / category)
    print('\nPatchCore, real ImageNet MobileNetV2 features, real textures (held-out crops):')
    print('| texture | ' + ' | '.join(METRICS) + ' |\n|---|' + '---|' * len(METRICS))
    for category, metrics in results.items():
        print(f'| {category} | ' + ' | '.join(f'{metrics.get(name, float("nan")):.3f}' for name in METRICS) + ' |')
    print(f'\nheat maps: {work_dir / "heatmaps"}\ntook {(time.perf_counter() - start) / 60:.1f} minutes')


if __name__ == '__main__':
    main()
