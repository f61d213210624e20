from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    namespace: dict = {}
    exec((HERE / 'vmem' / 'version.py').read_text(), namespace)
    return namespace['__version__']


setup(
    name='vmem',
    version=read_version(),
    description='Memory-based models for video detection, tracking, anomaly detection '
    'and contrastive learning, sharing one memory bank with fast top-k retrieval.',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['vmem', 'vmem.*']),
    install_requires=[
        # torch is deliberately unpinned: the local 2.13 CPU wheel breaks torchvision's ops.
        'torch>=2.4',
        'torchvision>=0.19',
        'timm>=1.0',
        # 0.10.7 is the newest stable release; vmem registers the few classes its
        # checkpoints hold as torch safe globals, so they load with weights_only=True.
        'mmengine==0.10.7',
        'opencv-python>=4.8',
        'decord>=0.6',
        'pycocotools>=2.0.7',
        'numpy>=1.24',
        'safetensors>=0.4',
        'tqdm>=4.60',
        'rich>=13',
    ],
    extras_require={
        'faiss': ['faiss-cpu>=1.8'],
        'dev': ['pytest>=8', 'pytest-xdist>=3.5', 'faiss-cpu>=1.8', 'mkdocs>=1.6', 'mkdocs-material>=9.5'],
    },
)
