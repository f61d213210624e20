from .det_data_preprocessor import DetDataPreprocessor

__all__ = ['DetDataPreprocessor']
