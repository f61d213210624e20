"""torchvision's real ImageNet MobileNetV2 file (fetched by `make assets`) through vmem's
loading path classifies real photographs: the weights arrive intact, not just their names."""
import cv2
import numpy as np
import pytest
import timm
import torch
import torchvision

from vmem.models import TimmBackbone
from vmem.models.backbones.pretrained_keys import timm_state_dict
from vmem.utils.weights_loading import read_state_dict

CATEGORIES = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta['categories']
# the photo, and the ImageNet classes any one of which is a right answer
PHOTOS = {'chelsea.png': ('tabby', 'tiger cat', 'Egyptian cat'),   # scikit-image's cat
          'coffee.png': ('espresso', 'cup', 'coffee mug')}            # a cup of coffee


def imagenet_input(path) -> torch.Tensor:
    """torchvision's ImageNet evaluation transform: short side 256, centre crop 224, normalise."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255
    tensor = torchvision.transforms.functional.resize(tensor, 256, antialias=True)
    tensor = torchvision.transforms.functional.center_crop(tensor, 224)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    return ((tensor - mean[:, None, None]) / std[:, None, None])[None]


@pytest.fixture(scope='module')
def classifier(request):
    path = request.getfixturevalue('real_asset')('mobilenet_v2-b0353104.pth')
    model = timm.create_model('mobilenetv2_100', pretrained=False)
    model.load_state_dict(timm_state_dict(read_state_dict(str(path)), model_name='mobilenetv2_100'))  # strict
    return path, model.eval()


@pytest.mark.parametrize('photo', sorted(PHOTOS))
def test_the_real_file_classifies_real_photos(classifier, real_asset, photo):
    _, model = classifier
    with torch.no_grad():
        top5 = model(imagenet_input(real_asset(photo)))[0].topk(5).indices.tolist()
    names = [CATEGORIES[index] for index in top5]
    assert set(names) & set(PHOTOS[photo]), f'{photo}: top 5 {names}'


def test_the_backbone_gives_the_classifiers_features_and_torchvision_agrees(classifier, real_asset):
    path, model = classifier
    backbone = TimmBackbone(model_name='mobilenetv2_100', out_indices=(3, 4),
                            init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    backbone.init_weights()
    backbone.eval()
    reference = torchvision.models.mobilenet_v2(weights=None)
    reference.load_state_dict(read_state_dict(str(path)))
    reference.eval()
    image = imagenet_input(real_asset('chelsea.png'))
    with torch.no_grad():
        features = backbone(image)
        expected = model.forward_intermediates(image, indices=[3, 4], intermediates_only=True)
        for ours, theirs in zip(features, expected):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(model(image), reference(image), atol=1e-4, rtol=1e-4)
