//! Devices. burn 0.22 picks the backend at run time through [`Device`]: burn's own `flex` CPU
//! backend is the default, so everything builds and tests without a GPU; with the `cuda`
//! feature the examples run on burn's CUDA backend (device 0).

use burn::tensor::Device;

/// The device the examples infer on: `flex` on the CPU, or CUDA device 0 with
/// `--features cuda`.
///
/// ```
/// let device = taosr1::backend::device();
/// assert!(!device.is_autodiff());
/// ```
pub fn device() -> Device {
    #[cfg(feature = "cuda")]
    {
        Device::cuda(0)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Device::flex()
    }
}

/// The device the examples train on: [`device`] with autodiff enabled.
///
/// ```
/// assert!(taosr1::backend::train_device().is_autodiff());
/// ```
pub fn train_device() -> Device {
    device().autodiff()
}

/// A short name of the compiled-in backend, for logs.
///
/// ```
/// assert!(["flex-cpu", "cuda"].contains(&taosr1::backend::name()));
/// ```
pub fn name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else {
        "flex-cpu"
    }
}
