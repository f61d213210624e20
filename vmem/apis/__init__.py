"""Using built models from Python: building one from a config, running it on video
streams, timing it.

    from vmem.apis import VideoInferencer, init_model

The names below are imported on first use, so that importing the package stays cheap.
"""
from importlib import import_module

_EXPORTS = {
    'AnomalyInferencer': 'anomaly_inference',
    'AnomalyPrediction': 'anomaly_inference',
    'init_model': 'model_init',
    'FramePrediction': 'video_inference',
    'VideoInferencer': 'video_inference',
    'VideoReport': 'video_inference',
    'MemoryBuildReport': 'context_memory',
    'build_camera_memory': 'context_memory',
    'ObjectIdentities': 'context_matching',
    'learn_matching': 'context_matching',
    'retrieval_quality': 'context_matching',
    'EvalSplits': 'feature_extraction',
    'LabelledFeatures': 'feature_extraction',
    'extract_config_features': 'feature_extraction',
    'extract_eval_splits': 'feature_extraction',
    'extract_features': 'feature_extraction',
    'SAM2VideoPredictor': 'sam2_predictor',
    'StreamingTracker': 'sam2_predictor',
    'TrackResult': 'sam2_predictor',
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(import_module(f'.{_EXPORTS[name]}', __name__), name)
