"""AnomalyInferencer and the anomaly demo on a tiny PatchCore built in the test."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from vmem.apis import AnomalyInferencer, init_model
from vmem.datasets.synthetic_anomaly import generate_category
from vmem.video import VideoWriter, list_frame_folder, read_image
from vmem.visualization import draw_anomaly_map

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/patchcore/patchcore_r18_synthetic_tiny.py'


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A checkpoint of a PatchCore whose bank was built from 8 normal 64-px images."""
    root = tmp_path_factory.mktemp('anomaly')
    generate_category(root / 'data', 'weave', num_train=8, num_test_good=2, num_test_per_defect=1, size=64)
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.target_dim = 64
    torch.manual_seed(0)
    model = init_model(cfg)
    images = [torch.from_numpy(read_image(p).transpose(2, 0, 1).copy())
              for p in list_frame_folder(root / 'data/weave/train/good')]
    model.collect(dict(inputs=images))
    model.build_memory()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, root / 'patchcore.pth')
    cfg.dump(str(root / 'config.py'))
    return root


def test_image_folder_and_video_give_maps_of_each_image_size(trained):
    model = init_model(str(trained / 'config.py'), str(trained / 'patchcore.pth'))
    inferencer = AnomalyInferencer(model=model)
    assert inferencer.score_max > 0
    image = read_image(trained / 'data/weave/test/scratch/000.png')
    bigger = np.ascontiguousarray(np.repeat(np.repeat(image, 2, 0), 2, 1)[:, :100])
    single = inferencer.predict(bigger)
    assert single.anomaly_map.shape == (128, 100) and single.score > 0
    folder = list(inferencer(trained / 'data/weave/test/good'))
    assert len(folder) == 2 and all(p.anomaly_map.shape == (64, 64) for p in folder)
    video = trained / 'clip.mp4'
    with VideoWriter(video, fps=5) as writer:
        for _ in range(3):
            writer.write(image)
    frames = list(inferencer(video))
    assert [p.source for p in frames] == [f'{video}#{i}' for i in range(3)]
    overlay = inferencer.draw(frames[0], threshold=frames[0].anomaly_map.max() / 2)
    assert overlay.shape == image.shape and overlay.dtype == np.uint8 and not np.array_equal(overlay, image)


def test_an_untrained_model_and_bad_images_are_refused(trained):
    with pytest.raises(ValueError, match='empty memory bank'):
        AnomalyInferencer(model=init_model(str(trained / 'config.py')))
    inferencer = AnomalyInferencer(model=init_model(str(trained / 'config.py'), str(trained / 'patchcore.pth')))
    with pytest.raises(ValueError, match='RGB uint8'):
        inferencer.predict(np.zeros((8, 8), np.uint8))
    with pytest.raises(FileNotFoundError, match='no image, folder or video'):
        list(inferencer(trained / 'missing.png'))
    with pytest.raises(ValueError, match='anomaly_map is'):
        draw_anomaly_map(np.zeros((4, 4, 3), np.uint8), np.zeros((5, 5)))


def test_demo_writes_overlays_and_prints_scores(trained, tmp_path):
    out = tmp_path / 'overlays'
    result = subprocess.run(
        [sys.executable, 'demo/anomaly_demo.py', str(trained / 'data/weave/test/good'), str(trained / 'config.py'),
         str(trained / 'patchcore.pth'), '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={'OMP_NUM_THREADS': '1', 'PATH': '/usr/bin:/bin'})
    assert result.returncode == 0, result.stderr[-3000:]
    assert '2 image(s) scored' in result.stdout
    assert sorted(path.name for path in out.iterdir()) == ['000_anomaly.png', '001_anomaly.png']
