"""All nn layers (re-exported by ember.nn)."""
from .module import Module, RemovableHandle  # noqa: F401
from .container import (ModuleDict, ModuleList, ParameterDict, ParameterList,  # noqa: F401
                        Sequential)
from .linear import Bilinear, Flatten, Identity, Linear, Unflatten  # noqa: F401
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,  # noqa: F401
                   ConvTranspose3d)
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d,  # noqa: F401
                      AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d, MaxPool3d)
from .normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm1d,  # noqa: F401
                            InstanceNorm2d, LayerNorm)
from .activation import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish,  # noqa: F401
                         Hardtanh, LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU,
                         ReLU6, Sigmoid, SiLU, Softmax, Softmin, Softplus, Softsign, Tanh,
                         Tanhshrink, Threshold)
from .loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss,  # noqa: F401
                   CTCLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MarginRankingLoss, MSELoss, NLLLoss, SmoothL1Loss, TripletMarginLoss)
from .misc import (ConstantPad1d, ConstantPad2d, Dropout, Dropout2d, Embedding,  # noqa: F401
                   PixelShuffle, PixelUnshuffle, ReflectionPad1d, ReflectionPad2d,
                   ReplicationPad2d, Upsample, ZeroPad2d)
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: F401
from .activation_mha import MultiheadAttention  # noqa: F401
from .extra_layers import (AdaptiveAvgPool3d, AdaptiveMaxPool1d,  # noqa: F401
                           AdaptiveMaxPool3d, AlphaDropout, BatchNorm3d, ChannelShuffle,
                           CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad3d,
                           CosineSimilarity, CrossMapLRN2d, Dropout1d, Dropout3d,
                           FeatureAlphaDropout, Fold, Hardshrink, InstanceNorm3d,
                           LocalResponseNorm, LPPool1d, LPPool2d, LPPool3d, MaxUnpool1d,
                           MaxUnpool2d, MaxUnpool3d, PairwiseDistance, ReflectionPad3d,
                           ReplicationPad1d, ReplicationPad3d, RMSNorm, RReLU, Softmax2d,
                           Softshrink, Unfold, UpsamplingBilinear2d, UpsamplingNearest2d,
                           ZeroPad1d, ZeroPad3d)
from .lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyConv1d,  # noqa: F401
                   LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d,
                   LazyConvTranspose3d, LazyInstanceNorm1d, LazyInstanceNorm2d,
                   LazyInstanceNorm3d, LazyLinear, LazyModuleMixin)
from .loss_extra import (AdaptiveLogSoftmaxWithLoss, EmbeddingBag,  # noqa: F401
                         GaussianNLLLoss, HingeEmbeddingLoss, MultiLabelMarginLoss,
                         MultiLabelSoftMarginLoss, MultiMarginLoss, NLLLoss2d,
                         PoissonNLLLoss, SoftMarginLoss, TripletMarginWithDistanceLoss)
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,  # noqa: F401
                          TransformerEncoder, TransformerEncoderLayer)
