"""ember.vision.ops: torchvision.ops building blocks used by the model zoo.

``Conv2dNormActivation``, ``SqueezeExcitation``, ``MLP``, ``Permute`` and
``StochasticDepth``/``stochastic_depth`` with torchvision's names, arguments and module trees
(so state_dict keys of models built from them equal torchvision's).
"""
from .misc import MLP, Conv2dNormActivation, Permute, SqueezeExcitation  # noqa: F401
from .stochastic_depth import StochasticDepth, stochastic_depth  # noqa: F401
from .boxes import (batched_nms, box_area, box_convert, box_iou,  # noqa: F401
                    clip_boxes_to_image, complete_box_iou, distance_box_iou,
                    generalized_box_iou, masks_to_boxes, nms, remove_small_boxes)
from .losses import (complete_box_iou_loss, distance_box_iou_loss,  # noqa: F401
                     generalized_box_iou_loss, sigmoid_focal_loss)
from .roi import (PSRoIAlign, PSRoIPool, RoIAlign, RoIPool, ps_roi_align,  # noqa: F401
                  ps_roi_pool, roi_align, roi_pool)
from .poolers import MultiScaleRoIAlign  # noqa: F401
from .layers import (DropBlock2d, FeaturePyramidNetwork, FrozenBatchNorm2d,  # noqa: F401
                     drop_block2d)

__all__ = ["Conv2dNormActivation", "MLP", "Permute", "SqueezeExcitation", "StochasticDepth",
           "stochastic_depth", "batched_nms", "box_area", "box_convert", "box_iou",
           "clip_boxes_to_image", "complete_box_iou", "distance_box_iou", "generalized_box_iou",
           "masks_to_boxes", "nms", "remove_small_boxes", "complete_box_iou_loss",
           "distance_box_iou_loss", "generalized_box_iou_loss", "sigmoid_focal_loss",
           "RoIAlign", "RoIPool", "roi_align", "roi_pool", "PSRoIAlign", "PSRoIPool",
           "ps_roi_align", "ps_roi_pool", "MultiScaleRoIAlign", "DropBlock2d",
           "FeaturePyramidNetwork", "FrozenBatchNorm2d", "drop_block2d"]
