"""Restoration scores of an image against its ground truth: PSNR, SSIM (Wang et al. 2004) and NRMSE."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _pair(pred: np.ndarray, true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if np.shape(pred) != np.shape(true):
        raise ValueError(f"the prediction has shape {np.shape(pred)}, the ground truth {np.shape(true)}")
    return np.asarray(pred, np.float64), np.asarray(true, np.float64)


def _range(true: np.ndarray, data_range: float | None) -> float:
    value = float(true.max() - true.min()) if data_range is None else float(data_range)
    if value <= 0:
        raise ValueError("the ground truth is constant: give data_range")
    return value


def psnr(pred: np.ndarray, true: np.ndarray, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio 10 log10(R² / MSE) in dB; R defaults to the ground truth's max − min.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.array([0., 1., 2., 3.]), np.array([0., 1., 2., 4.]), data_range=4), 3)
    18.062
    """
    p, t = _pair(pred, true)
    mse = float(np.mean((p - t) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(_range(t, data_range) ** 2 / mse))


def nrmse(pred: np.ndarray, true: np.ndarray, *, normalization: str = "euclidean") -> float:
    """Root mean squared error divided by the ground truth's root mean square (``"euclidean"``), its
    max − min (``"min-max"``) or its mean (``"mean"``).

    Examples
    --------
    >>> import numpy as np
    >>> nrmse(np.array([1., 1.]), np.array([1., 3.]), normalization="mean")
    0.7071067811865476
    """
    p, t = _pair(pred, true)
    denominators = {"euclidean": lambda: np.sqrt(np.mean(t * t)), "min-max": lambda: t.max() - t.min(),
                    "mean": lambda: t.mean()}
    if normalization not in denominators:
        raise ValueError(f"normalization must be one of {', '.join(denominators)}, not {normalization!r}")
    return float(np.sqrt(np.mean((p - t) ** 2)) / denominators[normalization]())


def ssim(pred: np.ndarray, true: np.ndarray, *, data_range: float | None = None, win_size: int = 7,
         gaussian: bool = False) -> float:
    """Mean structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004).

    Local means, variances and covariance come from a ``win_size`` box window with sample (n − 1) covariance,
    or with ``gaussian=True`` from a Gaussian window of sigma 1.5 and population covariance as in the paper;
    C1 = (0.01 R)², C2 = (0.03 R)², R the data range (default: the ground truth's max − min). The mean leaves
    out a border of half a window, where the filters would see padding.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(100.0).reshape(10, 10)
    >>> ssim(x, x)
    1.0
    """
    p, t = _pair(pred, true)
    if gaussian:
        sigma, truncate = 1.5, 3.5
        win_size = 2 * int(truncate * sigma + 0.5) + 1

        def mean(a: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(a, sigma, truncate=truncate)
        correction = 1.0
    else:
        def mean(a: np.ndarray) -> np.ndarray:
            return ndimage.uniform_filter(a, win_size)
        n = win_size ** p.ndim
        correction = n / (n - 1)
    if win_size % 2 == 0 or any(s < win_size for s in p.shape):
        raise ValueError(f"the window ({win_size} pixels, odd) must fit in the image {p.shape}")
    r = _range(t, data_range)
    c1, c2 = (0.01 * r) ** 2, (0.03 * r) ** 2
    mp, mt = mean(p), mean(t)
    vp = correction * (mean(p * p) - mp * mp)
    vt = correction * (mean(t * t) - mt * mt)
    cov = correction * (mean(p * t) - mp * mt)
    local = ((2 * mp * mt + c1) * (2 * cov + c2)) / ((mp * mp + mt * mt + c1) * (vp + vt + c2))
    pad = (win_size - 1) // 2
    return float(local[(slice(pad, -pad or None),) * p.ndim].mean())


def restoration_scores(pred: np.ndarray, true: np.ndarray, *, data_range: float | None = None) -> dict[str, float]:
    """``{"psnr", "ssim", "nrmse"}`` of :func:`psnr`, :func:`ssim` and :func:`nrmse` with their defaults.

    Examples
    --------
    >>> import numpy as np
    >>> true = np.linspace(0, 1, 100).reshape(10, 10)
    >>> scores = restoration_scores(true + 0.01, true)
    >>> round(scores["psnr"], 1), round(scores["nrmse"], 4)
    (40.0, 0.0173)
    """
    return {"psnr": psnr(pred, true, data_range=data_range), "ssim": ssim(pred, true, data_range=data_range),
            "nrmse": nrmse(pred, true)}
