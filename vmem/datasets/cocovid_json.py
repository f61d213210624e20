"""Reading and checking a CocoVID (or plain COCO) annotation file: shared by the dataset
(`cocovid_parser`) and the metrics, so both reject a malformed file the same way."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable

BASE_ANNOTATION_KEYS = ('id', 'image_id', 'category_id', 'bbox')


def load_cocovid(path: str, *, annotation_keys: Iterable[str] = BASE_ANNOTATION_KEYS,
                 image_keys: Iterable[str] = ('id',)) -> dict:
    """Read ``path`` and check the keys the metrics rely on.

    Raises ``FileNotFoundError`` / ``ValueError`` naming the file and the offending record,
    so a malformed file fails here instead of deep inside pycocotools with a bare KeyError.
    """
    dataset = read_cocovid_json(path)
    check_cocovid(dataset, source=path, annotation_keys=annotation_keys, image_keys=image_keys)
    return dataset


def read_cocovid_json(path: str) -> dict:
    """The parsed file, checked only for its three top-level lists."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        with open(path, encoding='utf-8') as f:
            dataset = json.load(f)
    except json.JSONDecodeError as error:
        raise ValueError(f'{path} is not valid JSON: {error}') from error
    if not isinstance(dataset, dict):
        raise ValueError(f'{path}: top level must be a JSON object, got {type(dataset).__name__}')
    for key in ('categories', 'images', 'annotations'):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f'{path}: missing list "{key}"')
    return dataset


def check_cocovid(dataset: dict, *, source: str,
                  annotation_keys: Iterable[str] = BASE_ANNOTATION_KEYS,
                  image_keys: Iterable[str] = ('id',)) -> None:
    """Validate an in-memory CocoVID dict; ``source`` names it in error messages."""
    if not isinstance(dataset, dict):
        raise ValueError(f'{source}: top level must be a JSON object, got {type(dataset).__name__}')
    for key in ('categories', 'images', 'annotations'):
        if not isinstance(dataset.get(key), list):
            raise ValueError(f'{source}: missing list "{key}"')
    category_ids = _unique_ids(dataset['categories'], ('id', 'name'), 'category', source)
    image_ids = _unique_ids(dataset['images'], tuple(dict.fromkeys(('id', *image_keys))), 'image', source)
    if not category_ids:
        raise ValueError(f'{source}: "categories" is empty')
    for index, ann in enumerate(dataset['annotations']):
        missing = [key for key in annotation_keys if key not in ann]
        if missing:
            raise ValueError(f'{source}: annotation #{index} (id={ann.get("id")}) lacks key(s) {missing}')
        if ann['image_id'] not in image_ids:
            raise ValueError(
                f'{source}: annotation id={ann["id"]} refers to unknown image_id {ann["image_id"]}')
        if ann['category_id'] not in category_ids:
            raise ValueError(
                f'{source}: annotation id={ann["id"]} has unknown category_id {ann["category_id"]}')
        bbox = ann['bbox']
        if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
                and all(isinstance(v, (int, float)) for v in bbox)):
            raise ValueError(f'{source}: annotation id={ann["id"]} bbox must be [x, y, w, h], got {bbox!r}')


def sorted_category_ids(dataset: dict) -> list[int]:
    """Category ids in label order: label i is the i-th smallest category id."""
    return sorted(category['id'] for category in dataset['categories'])


def category_names(dataset: dict) -> list[str]:
    by_id = {category['id']: str(category['name']) for category in dataset['categories']}
    return [by_id[category_id] for category_id in sorted_category_ids(dataset)]


def _unique_ids(records: list, required: tuple[str, ...], kind: str, source: str) -> set:
    ids = set()
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f'{source}: {kind} #{index} is not an object')
        missing = [key for key in required if key not in record]
        if missing:
            raise ValueError(f'{source}: {kind} #{index} lacks key(s) {missing}')
        if record['id'] in ids:
            raise ValueError(f'{source}: duplicate {kind} id {record["id"]}')
        ids.add(record['id'])
    return ids
