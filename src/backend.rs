//! Backends. The CPU (burn's ndarray) backend is the default so everything builds and tests
//! without a GPU; the `cuda` feature switches the examples to burn's CUDA backend.

use burn::backend::Autodiff;

/// Inference backend of the examples: ndarray on the CPU, or CUDA with `--features cuda`.
#[cfg(not(feature = "cuda"))]
pub type Infer = burn::backend::NdArray<f32>;
/// Inference backend of the examples: ndarray on the CPU, or CUDA with `--features cuda`.
#[cfg(feature = "cuda")]
pub type Infer = burn::backend::Cuda;

/// Training backend of the examples (autodiff over [`Infer`]).
pub type Train = Autodiff<Infer>;

/// The device the examples run on.
pub fn device() -> burn::tensor::Device<Infer> {
    Default::default()
}

/// A short name of the compiled-in backend, for logs.
pub fn name() -> &'static str {
    if cfg!(feature = "cuda") {
        "cuda"
    } else {
        "ndarray-cpu"
    }
}
