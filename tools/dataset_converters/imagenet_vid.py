"""Convert ILSVRC2015 ImageNet VID (and optionally DET) XML annotations to CocoVID json.

    python tools/dataset_converters/imagenet_vid.py --root data/ILSVRC2015 \
        --out-dir data/ILSVRC2015/annotations [--splits train val] [--det] [--skip-bad-files]

Reads (the layout of the ILSVRC2015 download):
    ROOT/Annotations/VID/train/ILSVRC2015_VID_train_XXXX/<video>/<frame>.xml
    ROOT/Annotations/VID/val/<video>/<frame>.xml
    ROOT/Annotations/DET/train/**/<image>.xml                    (with --det)
Writes to OUT_DIR:
    imagenet_vid_train.json          every frame of every train video; the frames_per_video (15)
                                     evenly spaced frames per video that are usually trained on
                                     carry "is_vid_train_frame": true, all others false
    imagenet_vid_train_15frames.txt  the file names of those frames, one per line
    imagenet_vid_val.json            every frame of every val video
    imagenet_det_30cls.json          DET train images holding at least one object of the 30 VID
                                     classes (objects of the other 170 DET classes are dropped);
                                     these images have no video_id/frame_id

``file_name`` is relative to ROOT/Data/VID (VID) or ROOT/Data/DET (DET): use those folders as
the datasets' data prefix. Categories are the 30 VID classes with ids 1..30 in the usual order.
Video, image and annotation ids start at 1 in each file; every (video, trackid) pair gets its own
``instance_id``, unique within the file (DET objects each get one too). Boxes are clipped to the
image; boxes left with no area are skipped; both are counted and reported with the file name.
A malformed XML, a missing <size> or an unknown WordNet id in VID is an error naming the file,
or, with --skip-bad-files, a skipped frame that is counted and reported.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LOGGER = logging.getLogger('vmem.tools.imagenet_vid')

# The 30 ImageNet VID classes: WordNet id -> name, in the order that gives category ids 1..30.
VID_CLASSES = (
    ('n02691156', 'airplane'), ('n02419796', 'antelope'), ('n02131653', 'bear'),
    ('n02834778', 'bicycle'), ('n01503061', 'bird'), ('n02924116', 'bus'),
    ('n02958343', 'car'), ('n02402425', 'cattle'), ('n02084071', 'dog'),
    ('n02121808', 'domestic_cat'), ('n02503517', 'elephant'), ('n02118333', 'fox'),
    ('n02510455', 'giant_panda'), ('n02342885', 'hamster'), ('n02374451', 'horse'),
    ('n02129165', 'lion'), ('n01674464', 'lizard'), ('n02484322', 'monkey'),
    ('n03790512', 'motorcycle'), ('n02324045', 'rabbit'), ('n02509815', 'red_panda'),
    ('n02411705', 'sheep'), ('n01726692', 'snake'), ('n02355227', 'squirrel'),
    ('n02129604', 'tiger'), ('n04468005', 'train'), ('n01662784', 'turtle'),
    ('n04530566', 'watercraft'), ('n02062744', 'whale'), ('n02391049', 'zebra'),
)
CATEGORY_ID_OF_WNID = {wnid: index + 1 for index, (wnid, _) in enumerate(VID_CLASSES)}
CATEGORIES = [{'id': index + 1, 'name': name} for index, (_, name) in enumerate(VID_CLASSES)]
FRAMES_PER_VIDEO = 15
ON_BAD_FILE = ('error', 'skip')


class AnnotationFileError(ValueError):
    """One annotation file cannot be used; the message names it."""


@dataclass
class XmlObject:
    wnid: str
    trackid: int | None
    xmin: float
    ymin: float
    xmax: float
    ymax: float
    occluded: bool
    generated: bool


@dataclass
class XmlAnnotation:
    width: int
    height: int
    objects: list[XmlObject]


@dataclass
class ConversionReport:
    """Counts of what was clipped, skipped or dropped; the first few cases are logged by file."""
    counts: Counter = field(default_factory=Counter)
    examples_logged: int = 20

    def note(self, kind: str, message: str) -> None:
        # A real dataset can have thousands of clipped boxes: log a few, count all.
        self.counts[kind] += 1
        if self.counts[kind] <= self.examples_logged:
            LOGGER.warning('%s: %s', kind.replace('_', ' '), message)
        elif self.counts[kind] == self.examples_logged + 1:
            LOGGER.warning('%s: further cases are only counted', kind.replace('_', ' '))

    def summary(self) -> str:
        return ', '.join(f'{kind}={number}' for kind, number in sorted(self.counts.items())) or 'no problems'


def parse_annotation_xml(xml_path: str | os.PathLike) -> XmlAnnotation:
    """Read one ILSVRC XML file; raise AnnotationFileError naming it when it is unusable."""
    try:
        root = ET.parse(xml_path).getroot()
    except (ET.ParseError, OSError) as error:
        raise AnnotationFileError(f'{xml_path}: malformed XML ({error})') from error
    size = root.find('size')
    if size is None:
        raise AnnotationFileError(f'{xml_path}: no <size> element')
    width = _int_field(size, 'width', xml_path)
    height = _int_field(size, 'height', xml_path)
    if width <= 0 or height <= 0:
        raise AnnotationFileError(f'{xml_path}: image size {width}x{height} is not positive')
    objects = []
    for node in root.findall('object'):
        box = node.find('bndbox')
        if box is None:
            raise AnnotationFileError(f'{xml_path}: an <object> has no <bndbox>')
        name = (node.findtext('name') or '').strip()
        if not name:
            raise AnnotationFileError(f'{xml_path}: an <object> has no <name>')
        trackid = node.findtext('trackid')
        objects.append(XmlObject(
            wnid=name, trackid=None if trackid is None else _int_text(trackid, 'trackid', xml_path),
            xmin=_float_field(box, 'xmin', xml_path), ymin=_float_field(box, 'ymin', xml_path),
            xmax=_float_field(box, 'xmax', xml_path), ymax=_float_field(box, 'ymax', xml_path),
            occluded=_flag(node, 'occluded', xml_path), generated=_flag(node, 'generated', xml_path)))
    return XmlAnnotation(width=width, height=height, objects=objects)


def clipped_xywh(obj: XmlObject, width: int, height: int, *, xml_path: str | os.PathLike,
                 report: ConversionReport) -> list[float] | None:
    """The object's box as [x, y, w, h] clipped to the image; None (counted) when it has no area."""
    x1, y1 = min(max(obj.xmin, 0.0), width), min(max(obj.ymin, 0.0), height)
    x2, y2 = min(max(obj.xmax, 0.0), width), min(max(obj.ymax, 0.0), height)
    box_text = f'[{obj.xmin:g}, {obj.ymin:g}, {obj.xmax:g}, {obj.ymax:g}] ({obj.wnid}) in a {width}x{height} image'
    if x2 <= x1 or y2 <= y1:
        report.note('skipped_empty_boxes', f'{xml_path}: box {box_text} has no area')
        return None
    if (x1, y1, x2, y2) != (obj.xmin, obj.ymin, obj.xmax, obj.ymax):
        report.note('clipped_boxes', f'{xml_path}: box {box_text} clipped to the image')
    return [x1, y1, x2 - x1, y2 - y1]


def select_train_frames(num_frames: int, count: int = FRAMES_PER_VIDEO) -> list[int]:
    """``count`` frame indices spread evenly over a video: the middle of ``count`` equal segments."""
    if num_frames <= count:
        return list(range(num_frames))
    return [int((segment + 0.5) * num_frames / count) for segment in range(count)]


def find_video_folders(split_dir: Path) -> list[Path]:
    """Folders under ``split_dir`` that directly contain XML files, in sorted order."""
    if not split_dir.is_dir():
        raise FileNotFoundError(f'annotation folder not found: {str(split_dir)!r}')
    folders = []
    for folder, subfolders, files in os.walk(split_dir):
        subfolders.sort()
        if any(name.endswith('.xml') for name in files):
            folders.append(Path(folder))
    return sorted(folders)


def convert_vid_split(root: str | os.PathLike, split: str, *, frames_per_video: int | None = FRAMES_PER_VIDEO,
                      on_bad_file: str = 'error', report: ConversionReport | None = None) -> dict:
    """CocoVID dict for ``ROOT/Annotations/VID/<split>``; ``frames_per_video`` marks the training
    subset (is_vid_train_frame), None marks nothing."""
    _check_on_bad_file(on_bad_file)
    report = report if report is not None else ConversionReport()
    ann_root = Path(root) / 'Annotations' / 'VID'
    coco: dict = {'categories': CATEGORIES, 'videos': [], 'images': [], 'annotations': []}
    instance_ids: dict[tuple[int, int], int] = {}
    for folder in find_video_folders(ann_root / split):
        video_name = folder.relative_to(ann_root).as_posix()
        video_id = len(coco['videos']) + 1
        xml_paths = sorted(path for path in folder.iterdir() if path.suffix == '.xml')
        subset = set(select_train_frames(len(xml_paths), frames_per_video)) if frames_per_video else set()
        video_images = []
        for frame_id, xml_path in enumerate(xml_paths):
            try:
                annotation = parse_annotation_xml(xml_path)
                unknown = sorted({obj.wnid for obj in annotation.objects} - CATEGORY_ID_OF_WNID.keys())
                if unknown:
                    raise AnnotationFileError(f'{xml_path}: WordNet id(s) {unknown} are not VID classes')
                if any(obj.trackid is None for obj in annotation.objects):
                    raise AnnotationFileError(f'{xml_path}: an <object> has no <trackid>')
            except AnnotationFileError as error:
                if on_bad_file == 'error':
                    raise
                report.note('skipped_bad_files', str(error))
                continue
            image = {'id': len(coco['images']) + 1, 'video_id': video_id, 'frame_id': frame_id,
                     'file_name': f'{video_name}/{xml_path.stem}.JPEG',
                     'width': annotation.width, 'height': annotation.height}
            if frames_per_video:
                image['is_vid_train_frame'] = frame_id in subset
            coco['images'].append(image)
            video_images.append(image)
            for obj in annotation.objects:
                bbox = clipped_xywh(obj, annotation.width, annotation.height, xml_path=xml_path, report=report)
                if bbox is None:
                    continue
                instance_id = instance_ids.setdefault((video_id, obj.trackid), len(instance_ids) + 1)
                coco['annotations'].append({
                    'id': len(coco['annotations']) + 1, 'image_id': image['id'], 'video_id': video_id,
                    'category_id': CATEGORY_ID_OF_WNID[obj.wnid], 'instance_id': instance_id,
                    'bbox': bbox, 'area': bbox[2] * bbox[3], 'iscrowd': 0,
                    'occluded': obj.occluded, 'generated': obj.generated})
        if video_images:
            coco['videos'].append({'id': video_id, 'name': video_name, 'width': video_images[0]['width'],
                                   'height': video_images[0]['height']})
    return coco


def convert_det(root: str | os.PathLike, *, on_bad_file: str = 'error',
                report: ConversionReport | None = None) -> dict:
    """CocoVID dict of the DET train images that hold at least one VID-class object."""
    _check_on_bad_file(on_bad_file)
    report = report if report is not None else ConversionReport()
    ann_root = Path(root) / 'Annotations' / 'DET'
    coco: dict = {'categories': CATEGORIES, 'videos': [], 'images': [], 'annotations': []}
    for folder in find_video_folders(ann_root / 'train'):
        for xml_path in sorted(path for path in folder.iterdir() if path.suffix == '.xml'):
            try:
                annotation = parse_annotation_xml(xml_path)
            except AnnotationFileError as error:
                if on_bad_file == 'error':
                    raise
                report.note('skipped_bad_files', str(error))
                continue
            # DET has 200 classes; objects of the 170 that VID lacks are expected and dropped quietly.
            vid_objects = [obj for obj in annotation.objects if obj.wnid in CATEGORY_ID_OF_WNID]
            report.counts['dropped_non_vid_objects'] += len(annotation.objects) - len(vid_objects)
            boxes = [(obj, clipped_xywh(obj, annotation.width, annotation.height, xml_path=xml_path,
                                        report=report)) for obj in vid_objects]
            boxes = [(obj, bbox) for obj, bbox in boxes if bbox is not None]
            if not boxes:
                report.counts['dropped_det_images'] += 1
                continue
            image_id = len(coco['images']) + 1
            coco['images'].append({
                'id': image_id, 'file_name': xml_path.relative_to(ann_root).with_suffix('.JPEG').as_posix(),
                'width': annotation.width, 'height': annotation.height})
            for obj, bbox in boxes:
                annotation_id = len(coco['annotations']) + 1
                coco['annotations'].append({
                    'id': annotation_id, 'image_id': image_id, 'category_id': CATEGORY_ID_OF_WNID[obj.wnid],
                    'instance_id': annotation_id, 'bbox': bbox, 'area': bbox[2] * bbox[3], 'iscrowd': 0,
                    'occluded': obj.occluded})
    return coco


def train_subset_file_names(coco: dict) -> list[str]:
    return [image['file_name'] for image in coco['images'] if image.get('is_vid_train_frame')]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--root', required=True, help='ILSVRC2015 folder holding Annotations/ and Data/')
    parser.add_argument('--out-dir', required=True, help='where the json files are written')
    parser.add_argument('--splits', nargs='*', default=['train', 'val'], choices=['train', 'val'],
                        help='VID splits to convert (default: train val)')
    parser.add_argument('--det', action='store_true', help='also convert DET train (30 VID classes)')
    parser.add_argument('--frames-per-video', type=int, default=FRAMES_PER_VIDEO,
                        help='size of the training subset per train video (default: 15)')
    parser.add_argument('--skip-bad-files', action='store_true',
                        help='skip and count unusable XML files instead of stopping at the first')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')
    if args.frames_per_video < 1:
        parser.error('--frames-per-video must be at least 1')
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    on_bad_file = 'skip' if args.skip_bad_files else 'error'
    jobs = [(f'imagenet_vid_{split}.json', split) for split in args.splits]
    if args.det:
        jobs.append(('imagenet_det_30cls.json', 'det'))
    try:
        for file_name, split in jobs:
            report = ConversionReport()
            if split == 'det':
                coco = convert_det(args.root, on_bad_file=on_bad_file, report=report)
            else:
                coco = convert_vid_split(args.root, split, on_bad_file=on_bad_file, report=report,
                                         frames_per_video=args.frames_per_video if split == 'train' else None)
            _write_json(coco, out_dir / file_name)
            if split == 'train':
                subset_path = out_dir / f'imagenet_vid_train_{args.frames_per_video}frames.txt'
                subset_path.write_text(''.join(f'{name}\n' for name in train_subset_file_names(coco)))
            print(f'{out_dir / file_name}: {len(coco["videos"])} videos, {len(coco["images"])} images, '
                  f'{len(coco["annotations"])} boxes; {report.summary()}')
    except (AnnotationFileError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    return 0


def _write_json(coco: dict, path: Path) -> None:
    # Write then rename, so an interrupted run never leaves a truncated json behind.
    partial = path.with_name(path.name + '.partial')
    with open(partial, 'w', encoding='utf-8') as stream:
        json.dump(coco, stream)
    partial.replace(path)


def _check_on_bad_file(on_bad_file: str) -> None:
    if on_bad_file not in ON_BAD_FILE:
        raise ValueError(f'on_bad_file must be one of {ON_BAD_FILE}, got {on_bad_file!r}')


def _int_text(text: str, key: str, xml_path) -> int:
    try:
        return int(float(text))
    except ValueError:
        raise AnnotationFileError(f'{xml_path}: <{key}> is {text!r}, not a number') from None


def _int_field(node: ET.Element, key: str, xml_path) -> int:
    text = node.findtext(key)
    if text is None:
        raise AnnotationFileError(f'{xml_path}: no <{key}> in <{node.tag}>')
    return _int_text(text, key, xml_path)


def _float_field(node: ET.Element, key: str, xml_path) -> float:
    text = node.findtext(key)
    if text is None:
        raise AnnotationFileError(f'{xml_path}: no <{key}> in <{node.tag}>')
    try:
        return float(text)
    except ValueError:
        raise AnnotationFileError(f'{xml_path}: <{key}> is {text!r}, not a number') from None


def _flag(node: ET.Element, key: str, xml_path) -> bool:
    text = node.findtext(key)
    return False if text is None else bool(_int_text(text, key, xml_path))


if __name__ == '__main__':
    sys.exit(main())
