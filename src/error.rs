/// Errors of the pipeline: each wraps the typed error of the crate it came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Model, tokenizer or checkpoint error.
    #[error(transparent)]
    Model(#[from] taosr1_model::ModelError),
    /// Data or template error.
    #[error(transparent)]
    Cot(#[from] taosr1_cot::CotError),
    /// Grade distribution or partition error.
    #[error(transparent)]
    Partition(#[from] taosr1_partition::PartitionError),
    /// Reward error.
    #[error(transparent)]
    Reward(#[from] taosr1_rewards::RewardError),
    /// DPO error.
    #[error(transparent)]
    Dpo(#[from] taosr1_dpo::DpoError),
    /// GRPO error.
    #[error(transparent)]
    Grpo(#[from] taosr1_grpo::GrpoError),
    /// Invalid pipeline input (empty data set, bad configuration, ...).
    #[error("invalid input: {0}")]
    Input(String),
    /// File system error.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// An [`Error::Io`] on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
