"""PatchCore with torchvision's real ImageNet MobileNetV2 file finds defects in real photos."""
import numpy as np
import pytest
import torch
from mmengine.config import Config

from vmem.datasets.real_texture_anomaly import DEFECTS, add_defect, generate_real_texture_category
from vmem.evaluation.metrics.anomaly_metric import auroc
from vmem.registry import MODELS
from vmem.utils.weights_loading import read_state_dict
from vmem.video import read_image

CONFIG = 'configs/patchcore/patchcore_mobilenetv2_real_textures.py'


@pytest.fixture(scope='module')
def photos(real_asset):
    names = ('brick', 'grass', 'gravel', 'coffee', 'chelsea', 'astronaut')
    return {name: read_image(str(real_asset(f'{name}.png'))) for name in names}


def test_the_config_loads_the_real_backbone_file(real_asset):
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = str(real_asset('mobilenet_v2-b0353104.pth'))
    model = MODELS.build(cfg.model)
    model.init_weights()  # what tools/train.py's runner calls: it must reach the backbone
    state = read_state_dict(cfg.model.backbone.init_cfg.checkpoint)
    assert torch.equal(model.features.backbone.body.blocks[4][0].conv_pw.weight, state['features.11.conv.0.0.weight'])


def test_patchcore_on_real_features_finds_real_defects(photos, real_asset, tmp_path):
    generate_real_texture_category(tmp_path, 'gravel', photos=photos, num_train=12, num_test_good=6,
                                   num_test_per_defect=3, seed=1)
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg.checkpoint = str(real_asset('mobilenet_v2-b0353104.pth'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()

    def load(paths):
        images = np.stack([read_image(str(p)) for p in paths])
        tensor = torch.from_numpy(images).permute(0, 3, 1, 2).float()
        return model.data_preprocessor({'inputs': list(tensor)}, False)['inputs']

    root = tmp_path / 'gravel'
    with torch.no_grad():
        model.build_memory(model.features(load(sorted((root / 'train' / 'good').glob('*.png'))))
                           .permute(0, 2, 3, 1).reshape(-1, model.features.out_dim))
        good = sorted((root / 'test' / 'good').glob('*.png'))
        bad = [path for defect in DEFECTS for path in sorted((root / 'test' / defect).glob('*.png'))]
        maps, scores = model.score(load(good + bad))
    labels = np.array([0] * len(good) + [1] * len(bad))
    assert auroc(scores.numpy(), labels) >= 0.9
    # the map is highest inside the defect: the mean map value in the mask beats the rest
    masks = [read_image(str(root / 'ground_truth' / p.parent.name / f'{p.stem}_mask.png'))[..., 0] > 0 for p in bad]
    inside_wins = [maps[len(good) + i][torch.from_numpy(mask)].mean() > maps[len(good) + i][~torch.from_numpy(mask)].mean()
                   for i, mask in enumerate(masks)]
    assert all(inside_wins)


def test_defects_are_known_and_masks_are_where_the_image_changed(photos):
    rng = np.random.default_rng(0)
    texture = photos['brick'][:160, :160, 0].astype(np.float32)
    for defect in DEFECTS:
        image, mask = add_defect(texture, defect, rng, [photos['coffee']])
        changed = np.abs(image.astype(np.float32) - texture) > 1
        assert mask.any() and changed[mask > 0].mean() > 0.5 and changed[mask == 0].mean() < 0.05
    with pytest.raises(ValueError, match='unknown defect'):
        add_defect(texture, 'dent', rng, [photos['coffee']])
    with pytest.raises(ValueError, match='photos lacks'):
        generate_real_texture_category('/tmp/x', 'brick', photos={'brick': photos['brick']})
