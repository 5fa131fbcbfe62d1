"""Model matrices of a factor model in LISREL "all-y" form and the covariances they imply.

A model with observed variables ``y`` (p), latent variables ``eta`` (m) is

    y   = nu + Lambda eta + epsilon,        Cov(epsilon) = Theta
    eta = alpha + B eta + zeta,             Cov(zeta)    = Psi

so that ``Sigma = Lambda (I - B)^-1 Psi (I - B)^-T Lambda' + Theta``. Higher-order
factors (a latent variable measured by latent variables) enter through ``B``, as in
lavaan's internal representation (Rosseel, 2012).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Matrices", "implied_cov", "latent_cov"]


@dataclass
class Matrices:
    """The four covariance-structure matrices plus their row/column names."""

    ov: list[str]
    lv: list[str]
    lambda_: np.ndarray  # p x m
    theta: np.ndarray  # p x p
    psi: np.ndarray  # m x m
    beta: np.ndarray  # m x m

    def copy(self) -> Matrices:
        return Matrices(
            list(self.ov), list(self.lv), self.lambda_.copy(), self.theta.copy(), self.psi.copy(), self.beta.copy()
        )


def latent_cov(m: Matrices) -> np.ndarray:
    """Total covariance of the latent variables, ``(I - B)^-1 Psi (I - B)^-T``."""
    ib = np.linalg.inv(np.eye(len(m.lv)) - m.beta)
    return ib @ m.psi @ ib.T


def implied_cov(m: Matrices) -> np.ndarray:
    """Model-implied covariance matrix of the observed variables."""
    return m.lambda_ @ latent_cov(m) @ m.lambda_.T + m.theta
