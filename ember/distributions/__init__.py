"""``ember.distributions``: probability distributions with sampling, log densities, entropies
and KL divergences, following ``torch.distributions``.

Sampling draws from ember's default generator (``ember.manual_seed`` makes it repeatable);
``rsample`` is reparameterised where torch's is (Normal, Uniform, Gamma, Beta, Dirichlet,
Exponential, Laplace, Cauchy, MultivariateNormal), so gradients flow through samples. Every
distribution has ``expand(batch_shape)``.
"""
from . import constraints  # noqa: F401
from .continuous import (Beta, Cauchy, Dirichlet, Exponential, Gamma, Laplace,  # noqa: F401
                         MultivariateNormal, Normal, Uniform)
from .discrete import Bernoulli, Categorical, OneHotCategorical  # noqa: F401
from .distribution import Distribution  # noqa: F401
from .independent import Independent  # noqa: F401
from .kl import kl_divergence, register_kl  # noqa: F401
from . import transforms  # noqa: F401
from .transforms import *  # noqa: F401,F403
from .constraint_registry import biject_to, transform_to  # noqa: F401
from .transformed import ExponentialFamily, TransformedDistribution  # noqa: F401
from .more_continuous import (Chi2, ContinuousBernoulli, FisherSnedecor,  # noqa: F401
                              Gumbel, HalfCauchy, HalfNormal, InverseGamma, Kumaraswamy,
                              LogisticNormal, LogNormal, Pareto, StudentT, VonMises, Weibull)
from .more_discrete import (Binomial, Geometric, MixtureSameFamily,  # noqa: F401
                            Multinomial, NegativeBinomial, OneHotCategoricalStraightThrough,
                            Poisson)
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli,  # noqa: F401
                      RelaxedBernoulli, RelaxedOneHotCategorical)
from . import kl_more as _kl_more  # noqa: F401,E402  (registers the added KL pairs)
from .lowrank_mvn import LowRankMultivariateNormal  # noqa: F401,E402
from . import kl_cross as _kl_cross  # noqa: F401,E402  (cross-family KL pairs)
from .gen_pareto import GeneralizedPareto  # noqa: F401,E402
from .lkj import CorrCholeskyTransform, LKJCholesky  # noqa: F401,E402
from .wishart import Wishart  # noqa: F401,E402

__all__ = ["Distribution", "Normal", "Uniform", "Gamma", "Beta", "MultivariateNormal",
           "Exponential", "Laplace", "Cauchy", "Dirichlet",
           "Bernoulli", "Categorical", "OneHotCategorical", "Independent", "kl_divergence",
           "register_kl", "constraints", "transforms", "biject_to", "transform_to",
           "TransformedDistribution", "ExponentialFamily", "LogNormal", "HalfNormal",
           "HalfCauchy", "Gumbel", "Weibull", "Pareto", "Kumaraswamy", "LogisticNormal",
           "StudentT", "Chi2", "FisherSnedecor", "InverseGamma", "VonMises",
           "ContinuousBernoulli", "Poisson", "Geometric", "Binomial", "NegativeBinomial",
           "Multinomial", "OneHotCategoricalStraightThrough", "MixtureSameFamily",
           "LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"] + list(transforms.__all__)
__all__ += ["LowRankMultivariateNormal", "GeneralizedPareto", "CorrCholeskyTransform",
            "LKJCholesky", "Wishart"]
