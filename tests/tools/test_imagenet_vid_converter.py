"""tools/dataset_converters/imagenet_vid.py on a tiny ILSVRC2015-style XML tree."""
import importlib.util
import json
import logging
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'tools' / 'dataset_converters' / 'imagenet_vid.py'
AIRPLANE, BEAR, ZEBRA = 'n02691156', 'n02131653', 'n02391049'
NOT_VID = 'n07739125'  # apple: a DET class that VID lacks


@pytest.fixture(scope='module')
def converter():
    spec = importlib.util.spec_from_file_location('imagenet_vid_converter', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the script executes.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def xml_text(objects, *, width=100, height=80, size=True):
    parts = ['<annotation><folder>x</folder><filename>f</filename>']
    if size:
        parts.append(f'<size><width>{width}</width><height>{height}</height></size>')
    for obj in objects:
        track = f'<trackid>{obj["trackid"]}</trackid>' if 'trackid' in obj else ''
        x1, y1, x2, y2 = obj['box']
        parts.append(f'<object>{track}<name>{obj["wnid"]}</name><bndbox><xmax>{x2}</xmax><xmin>{x1}</xmin>'
                     f'<ymax>{y2}</ymax><ymin>{y1}</ymin></bndbox><occluded>{obj.get("occluded", 0)}</occluded>'
                     '<generated>0</generated></object>')
    parts.append('</annotation>')
    return ''.join(parts)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def train_video_dir(root: Path, chunk: int, video: int) -> Path:
    return (root / 'Annotations' / 'VID' / 'train' / f'ILSVRC2015_VID_train_{chunk:04d}'
            / f'ILSVRC2015_train_{video:08d}')


@pytest.fixture
def ilsvrc_root(tmp_path):
    """Two train videos of 20 frames, one val video of 18, and three DET images."""
    root = tmp_path / 'ILSVRC2015'
    video_a = train_video_dir(root, 0, 0)
    for frame in range(20):
        objects = [{'trackid': 0, 'wnid': AIRPLANE, 'box': (10 + frame, 10, 40 + frame, 30)}]
        if 5 <= frame <= 9:
            objects.append({'trackid': 1, 'wnid': BEAR, 'box': (50, 40, 70, 60), 'occluded': 1})
        if frame == 3:
            objects[0]['box'] = (-5, 10, 120, 30)  # leaves the 100x80 image on both sides
        if frame == 4:
            objects[0]['box'] = (20, 20, 20, 35)  # no width
        write(video_a / f'{frame:06d}.xml', xml_text(objects))
    video_b = train_video_dir(root, 1, 1000)
    for frame in range(20):
        write(video_b / f'{frame:06d}.xml', xml_text([{'trackid': 0, 'wnid': ZEBRA, 'box': (1, 2, 11, 22)}],
                                                     width=64, height=48))
    val = root / 'Annotations' / 'VID' / 'val' / 'ILSVRC2015_val_00000000'
    for frame in range(18):
        objects = [{'trackid': 0, 'wnid': BEAR, 'box': (5, 5, 25, 25)}] if frame % 2 == 0 else []
        write(val / f'{frame:06d}.xml', xml_text(objects))
    det = root / 'Annotations' / 'DET' / 'train' / 'ILSVRC2014_train_0000'
    write(det / 'ILSVRC2014_train_00000001.xml',
          xml_text([{'wnid': ZEBRA, 'box': (3, 4, 33, 44)}, {'wnid': NOT_VID, 'box': (0, 0, 9, 9)}]))
    write(det / 'ILSVRC2014_train_00000002.xml', xml_text([{'wnid': NOT_VID, 'box': (1, 1, 5, 5)}]))
    write(det / 'ILSVRC2014_train_00000003.xml', xml_text([]))
    return root


def test_vid_classes_are_the_thirty_wordnet_ids(converter):
    classes = dict(converter.VID_CLASSES)
    assert len(classes) == 30 == len(set(classes.values()))
    assert (classes[AIRPLANE], classes[BEAR], classes[ZEBRA]) == ('airplane', 'bear', 'zebra')
    assert (classes['n02084071'], classes['n02121808'], classes['n04530566']) == ('dog', 'domestic_cat',
                                                                                 'watercraft')
    assert converter.CATEGORIES[0] == {'id': 1, 'name': 'airplane'}
    assert converter.CATEGORIES[-1] == {'id': 30, 'name': 'zebra'}


def test_train_subset_is_fifteen_evenly_spaced_frames(converter):
    assert converter.select_train_frames(300)[:3] == [10, 30, 50]
    frames = converter.select_train_frames(20)
    assert len(frames) == len(set(frames)) == 15 and frames == sorted(frames)
    assert frames[0] == 0 and frames[-1] == 19
    assert converter.select_train_frames(7) == list(range(7))


def test_train_split(converter, ilsvrc_root, caplog):
    report = converter.ConversionReport()
    with caplog.at_level(logging.WARNING):
        coco = converter.convert_vid_split(ilsvrc_root, 'train', report=report)
    assert [video['name'] for video in coco['videos']] == [
        'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000',
        'train/ILSVRC2015_VID_train_0001/ILSVRC2015_train_00001000']
    assert [(v['id'], v['width'], v['height']) for v in coco['videos']] == [(1, 100, 80), (2, 64, 48)]
    images = coco['images']
    assert len(images) == 40 and [image['id'] for image in images] == list(range(1, 41))
    assert [image['frame_id'] for image in images[:20]] == list(range(20))
    assert images[21]['file_name'] == 'train/ILSVRC2015_VID_train_0001/ILSVRC2015_train_00001000/000001.JPEG'
    assert (images[21]['video_id'], images[21]['width']) == (2, 64)
    for video_id in (1, 2):
        marked = [image['frame_id'] for image in images if image['video_id'] == video_id
                  and image['is_vid_train_frame']]
        assert marked == converter.select_train_frames(20)

    annotations = coco['annotations']
    # 20 + 20 airplane/zebra boxes, minus the zero-width one, plus 5 bear boxes.
    assert len(annotations) == 44 and [ann['id'] for ann in annotations] == list(range(1, 45))
    instances = {(ann['video_id'], ann['category_id']): ann['instance_id'] for ann in annotations}
    assert instances == {(1, 1): 1, (1, 3): 2, (2, 30): 3}  # trackid 0 of both videos differ
    clipped = next(ann for ann in annotations if ann['image_id'] == 4)
    assert clipped['bbox'] == [0.0, 10.0, 100.0, 20.0] and clipped['area'] == 2000.0
    assert not any(ann['image_id'] == 5 and ann['category_id'] == 1 for ann in annotations)
    first = annotations[0]
    assert first['bbox'] == [10.0, 10.0, 30.0, 20.0] and first['iscrowd'] == 0 and first['occluded'] is False
    assert all(ann['occluded'] for ann in annotations if ann['category_id'] == 3)
    assert report.counts['clipped_boxes'] == 1 and report.counts['skipped_empty_boxes'] == 1
    assert '000003.xml' in caplog.text and '000004.xml' in caplog.text


def test_val_split_keeps_every_frame_unmarked(converter, ilsvrc_root):
    coco = converter.convert_vid_split(ilsvrc_root, 'val', frames_per_video=None)
    assert len(coco['videos']) == 1 and coco['videos'][0]['name'] == 'val/ILSVRC2015_val_00000000'
    assert len(coco['images']) == 18 and len(coco['annotations']) == 9
    assert not any('is_vid_train_frame' in image for image in coco['images'])
    assert {ann['instance_id'] for ann in coco['annotations']} == {1}


def test_det_keeps_only_vid_classes(converter, ilsvrc_root):
    report = converter.ConversionReport()
    coco = converter.convert_det(ilsvrc_root, report=report)
    assert coco['images'] == [{'id': 1, 'file_name': 'train/ILSVRC2014_train_0000/ILSVRC2014_train_00000001.JPEG',
                               'width': 100, 'height': 80}]
    assert len(coco['annotations']) == 1
    assert coco['annotations'][0]['category_id'] == 30 and coco['annotations'][0]['bbox'] == [3.0, 4.0, 30.0, 40.0]
    assert report.counts['dropped_non_vid_objects'] == 2 and report.counts['dropped_det_images'] == 2


@pytest.mark.parametrize('content, message', [
    ('<annotation><size><width>10', 'malformed XML'),
    (xml_text([{'trackid': 0, 'wnid': AIRPLANE, 'box': (0, 0, 5, 5)}], size=False), 'no <size>'),
    (xml_text([{'trackid': 0, 'wnid': NOT_VID, 'box': (0, 0, 5, 5)}]), NOT_VID),
    (xml_text([{'wnid': AIRPLANE, 'box': (0, 0, 5, 5)}]), 'trackid'),
    (xml_text([{'trackid': 0, 'wnid': AIRPLANE, 'box': (0, 0, 'wide', 5)}]), 'not a number'),
])
def test_bad_vid_file_is_an_error_naming_it(converter, ilsvrc_root, content, message):
    bad = write(train_video_dir(ilsvrc_root, 0, 0) / '000007.xml', content)
    with pytest.raises(ValueError, match=message) as error:
        converter.convert_vid_split(ilsvrc_root, 'train')
    assert str(bad) in str(error.value)


def test_bad_vid_file_can_be_skipped_and_counted(converter, ilsvrc_root):
    write(train_video_dir(ilsvrc_root, 0, 0) / '000007.xml', '<annotation>')
    report = converter.ConversionReport()
    coco = converter.convert_vid_split(ilsvrc_root, 'train', on_bad_file='skip', report=report)
    assert len(coco['images']) == 39 and report.counts['skipped_bad_files'] == 1
    frame_ids = [image['frame_id'] for image in coco['images'] if image['video_id'] == 1]
    assert 7 not in frame_ids and frame_ids[-1] == 19  # the others keep their frame ids
    with pytest.raises(ValueError, match='on_bad_file'):
        converter.convert_vid_split(ilsvrc_root, 'train', on_bad_file='ignore')


def test_command_line_writes_every_file(converter, ilsvrc_root, tmp_path, capsys):
    out_dir = tmp_path / 'annotations'
    assert converter.main(['--root', str(ilsvrc_root), '--out-dir', str(out_dir), '--det']) == 0
    written = sorted(path.name for path in out_dir.iterdir())
    assert written == ['imagenet_det_30cls.json', 'imagenet_vid_train.json', 'imagenet_vid_train_15frames.txt',
                       'imagenet_vid_val.json']
    train = json.loads((out_dir / 'imagenet_vid_train.json').read_text())
    assert len(train['images']) == 40 and len(train['categories']) == 30
    subset = (out_dir / 'imagenet_vid_train_15frames.txt').read_text().splitlines()
    assert len(subset) == 30 and subset[0] == 'train/ILSVRC2015_VID_train_0000/ILSVRC2015_train_00000000/000000.JPEG'
    assert 'clipped_boxes=1' in capsys.readouterr().out


def test_command_line_reports_a_missing_split(converter, tmp_path, capsys):
    assert converter.main(['--root', str(tmp_path / 'nothing'), '--out-dir', str(tmp_path / 'out')]) == 1
    assert 'Annotations/VID/train' in capsys.readouterr().err
