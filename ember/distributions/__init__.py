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

__all__ = ["Distribution", "Normal", "Uniform", "Gamma", "Beta", "MultivariateNormal",
           "Exponential", "Laplace", "Cauchy", "Dirichlet",
           "Bernoulli", "Categorical", "OneHotCategorical", "Independent", "kl_divergence",
           "register_kl", "constraints"]
